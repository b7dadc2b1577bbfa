#pragma once
// The support swarm's closer (local tier): writes the final reply in the brand voice
// (agents/support_routing.hpp) from the worker's draft, then restores placeholders
// where the fixed restore_policy allows (the customer's own name; never cards, IBANs,
// IDs, phones or addresses) from the run's vault, and erases the vault: the run ends
// here. A scripted draft is already in the house style and needs no model call.

#include <memory>
#include <vector>

#include "agents/agent.hpp"
#include "agents/support_shared.hpp"
#include "agents/support_ticket.hpp"

namespace switchyard {

/// The closer's messages: brand voice, earlier turns, then the draft to rewrite. Pure.
std::vector<chat_message> closer_messages(const support_ticket& ticket);

/// The final reply from the rewritten body: greeting (by name placeholder when the
/// vault holds the customer's own name), body, sources, sign-off; then restore().
std::string final_reply(const support_ticket& ticket, const std::string& body,
                        const run_vault* vault);

agent_factory closer_agent(std::shared_ptr<support_shared> shared);

}  // namespace switchyard
