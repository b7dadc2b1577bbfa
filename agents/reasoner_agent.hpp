#pragma once
// The support swarm's reasoner (frontier tier): complaints, payment disputes and
// multi-part tickets. It first asks the researcher for the relevant policy (an
// agent-to-agent call, one hop, declared in the graph), then makes one frontier call
// with the ticket, the thread and the researcher's notes. The output is the envelope
// with the draft, citing what the researcher cited.

#include <memory>
#include <vector>

#include "agents/agent.hpp"
#include "agents/support_shared.hpp"
#include "agents/support_ticket.hpp"

namespace switchyard {

/// The reasoner's messages: system prompt, earlier turns, then the ticket with the
/// researcher's notes (empty when the researcher could not answer). Pure.
std::vector<chat_message> reasoner_messages(const support_ticket& ticket,
                                            const std::string& research_notes);

agent_factory reasoner_agent(std::shared_ptr<support_shared> shared);

}  // namespace switchyard
