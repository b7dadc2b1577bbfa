#include "agents/closer_agent.hpp"

#include "agents/fitted_call.hpp"
#include "agents/researcher_agent.hpp"
#include "agents/support_routing.hpp"
#include "caf/all.hpp"

namespace switchyard {

namespace {

constexpr size_t latest_max_bytes = 2000;  // the closer needs the gist, not a 100 KB paste

std::string join(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ", ") + id;
  return out;
}

// The placeholder of the customer's own name, if the vault holds it.
std::string own_name_placeholder(const pii_vault& vault) {
  for (size_t i = 1; i <= vault.count(pii_kind::name); ++i) {
    auto placeholder = "[NAME_" + std::to_string(i) + "]";
    const auto* e = vault.find(placeholder);
    if (e && e->customer_own) return placeholder;
  }
  return {};
}

}  // namespace

std::vector<chat_message> closer_messages(const support_ticket& ticket) {
  std::vector<chat_message> m;
  m.emplace_back("system", brand_voice_prompt());
  for (const auto& turn : ticket.history) m.push_back(turn);
  std::string latest = ticket.text.substr(0, latest_max_bytes);
  if (latest.size() < ticket.text.size()) latest += " [...]";
  m.emplace_back("user", "The customer wrote:\n" + latest +
                             "\n\nRewrite this draft answer in the Fernleaf voice, keeping every "
                             "fact:\n" +
                             ticket.draft);
  return m;
}

std::string final_reply(const support_ticket& ticket, const std::string& body,
                        const run_vault* vault) {
  std::string name = vault ? own_name_placeholder(vault->vault) : std::string{};
  auto reply = brand_reply(body, name, join(ticket.citations));
  if (!vault) {
    pii_vault empty;
    return restore(reply, empty, restore_policy{}).text;
  }
  return restore(reply, vault->vault, restore_policy{}).text;
}

agent_factory closer_agent(std::shared_ptr<support_shared> shared) {
  return [shared](caf::actor_system& sys, const agent_env& env) {
    std::string tier = env.settings.tier.empty() ? "local" : env.settings.tier;
    uint32_t max_tokens = env.settings.max_tokens > 0 ? env.settings.max_tokens : 300;
    return sys.spawn([=](caf::event_based_actor* self) -> caf::behavior {
      // Restores from the run's vault and forgets it: the reply is the run's end.
      auto finish = [shared](const step_context& ctx, const support_ticket& ticket,
                             const std::string& body) {
        std::string out;
        bool found = shared->vaults.with(
            ctx.run_id, [&](const run_vault& v) { out = final_reply(ticket, body, &v); });
        if (!found) out = final_reply(ticket, body, nullptr);
        shared->vaults.erase(ctx.run_id);
        return out;
      };
      return {[=](const step_request& req) -> caf::result<step_reply> {
        std::string problem;
        auto ticket = read_envelope(req.input, problem);
        if (ticket.source == "scripted") {
          step_reply reply;
          reply.output = finish(req.ctx, ticket, ticket.draft);
          return reply;
        }
        model_request call;
        call.ctx = req.ctx;
        call.call_id = make_call_id(req.ctx, 0);
        call.messages = closer_messages(ticket);
        call.tier = tier;
        call.max_tokens = max_tokens;
        call.route = ticket.route;
        call.data_class = scrubbed_data_class(ticket);
        auto promise = self->make_response_promise<step_reply>();
        auto ctx = req.ctx;
        call_fitted(self, env, &shared->calls, std::move(call),
                    [promise, ticket, ctx, finish](model_response& resp,
                                                   std::vector<model_usage>& extra) mutable {
                      step_reply reply;
                      reply.calls = std::move(extra);
                      if (!resp.usage.model_id.empty()) reply.calls.push_back(resp.usage);
                      reply.error = resp.error;
                      if (resp.ok()) reply.output = finish(ctx, ticket, resp.text);
                      promise.deliver(std::move(reply));
                    });
        return promise;
      }};
    });
  };
}

}  // namespace switchyard
