#pragma once
// The support swarm's gatekeeper (no model call): checks the ticket is readable,
// scrubs PII into the run's vault (kept in `shared->vaults`, never in a message),
// tags mood, urgency and language, and sets the data class. Its output is the ticket
// envelope (agents/support_ticket.hpp) with placeholders only.

#include <memory>

#include "agents/agent.hpp"
#include "agents/support_shared.hpp"

namespace switchyard {

/// Errors: kind "bad_input" for an empty, unreadable or oversized ticket (the message
/// says which), so the run fails with that reason.
agent_factory gatekeeper_agent(std::shared_ptr<support_shared> shared);

}  // namespace switchyard
