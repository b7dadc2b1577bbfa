#pragma once
// The support swarm's researcher: BM25 retrieval over the knowledge base
// (support.knowledge_base, the best support.articles articles), then one mid-tier
// model call that answers from those articles and cites their ids. Serves graph steps
// and calls from the reasoner alike; the output is the envelope with the draft and
// the citations.

#include <memory>
#include <string>
#include <vector>

#include "agents/agent.hpp"
#include "agents/knowledge_base.hpp"
#include "agents/support_shared.hpp"
#include "agents/support_ticket.hpp"

namespace switchyard {

/// The researcher's messages for `ticket` given the articles found: system prompt,
/// earlier turns, then the articles and the question. Pure; exposed for tests.
std::vector<chat_message> researcher_messages(const support_ticket& ticket,
                                              const knowledge_base& kb,
                                              const std::vector<kb_hit>& hits);

/// The data class a request built from a scrubbed ticket carries: "internal"
/// (customer correspondence with placeholders only). The originals never leave the
/// process, so the compliance gate sees no personal data to keep local.
std::string scrubbed_data_class(const support_ticket& ticket);

agent_factory researcher_agent(std::shared_ptr<support_shared> shared);

}  // namespace switchyard
