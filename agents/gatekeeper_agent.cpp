#include "agents/gatekeeper_agent.hpp"

#include <fmt/format.h>

#include "agents/pii_scrubber.hpp"
#include "agents/support_ticket.hpp"
#include "agents/ticket_tags.hpp"
#include "caf/all.hpp"

namespace switchyard {

namespace {

step_reply bad_input(std::string message) {
  step_reply reply;
  reply.error.kind = "bad_input";
  reply.error.message = std::move(message);
  return reply;
}

}  // namespace

agent_factory gatekeeper_agent(std::shared_ptr<support_shared> shared) {
  return [shared](caf::actor_system& sys, const agent_env& env) {
    // Compiled once per engine; scrub() is const and thread-safe.
    auto scrubber = std::make_shared<const pii_scrubber>();
    size_t max_bytes = env.cfg ? env.cfg->support.max_ticket_bytes : 262144;
    return sys.spawn([shared, scrubber, max_bytes](caf::event_based_actor*) -> caf::behavior {
      return {[=](const step_request& req) -> step_reply {
        std::string problem;
        auto given = read_envelope(req.input, problem);
        if (!problem.empty()) return bad_input(problem);
        // Only what a customer's input may say is kept: a route, draft or source in
        // the input must not steer the agents after this one.
        support_ticket ticket;
        ticket.text = std::move(given.text);
        ticket.history = std::move(given.history);
        ticket.customer_name = std::move(given.customer_name);
        ticket.customer_email = std::move(given.customer_email);
        std::string cleaned;
        size_t replaced = 0;
        problem = check_ticket_text(ticket.text, max_bytes, cleaned, replaced);
        if (!problem.empty()) return bad_input(problem);
        run_vault vault;
        vault.customer.customer_name = std::move(ticket.customer_name);
        vault.customer.customer_email = std::move(ticket.customer_email);
        ticket.customer_name.clear();
        ticket.customer_email.clear();
        // Earlier turns first, so a value keeps its placeholder across the thread.
        size_t found = 0;
        for (auto& turn : ticket.history) {
          std::string turn_text;
          size_t turn_replaced = 0;
          if (!check_ticket_text(turn.content, max_bytes, turn_text, turn_replaced).empty())
            turn_text = "(unreadable turn)";
          auto s = scrubber->scrub(turn_text, vault.vault, vault.customer);
          found += s.replaced;
          turn.content = std::move(s.text);
        }
        auto scrubbed = scrubber->scrub(cleaned, vault.vault, vault.customer);
        found += scrubbed.replaced;
        // The account's name, even when the ticket does not say it: the closer greets by it.
        if (!vault.customer.customer_name.empty() && vault.vault.count(pii_kind::name) == 0)
          vault.vault.add(pii_kind::name, vault.customer.customer_name, true);
        auto tags = tag_ticket(cleaned);
        ticket.text = std::move(scrubbed.text);
        ticket.pii_found = found;
        ticket.data_class = found > 0 ? "pii" : "public";
        ticket.mood = std::string(to_string(tags.mood));
        ticket.urgency = std::string(to_string(tags.priority));
        ticket.language = tags.language;
        if (replaced > 0)
          ticket.note = fmt::format("{} invalid UTF-8 byte sequence{} replaced", replaced,
                                    replaced == 1 ? "" : "s");
        shared->vaults.put(req.ctx.run_id, std::move(vault));
        step_reply reply;
        reply.output = to_envelope(ticket);
        reply.label = ticket.data_class;
        return reply;
      }};
    });
  };
}

}  // namespace switchyard
