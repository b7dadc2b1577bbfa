#include "router/model_service.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "caf/all.hpp"
#include "router/cost.hpp"
#include "router/model_choice.hpp"
#include "router/providers/sim_provider.hpp"
#include "router/token_estimate.hpp"
#include "runtime/messages.hpp"
#include "runtime/supervisor.hpp"

namespace switchyard {

namespace {

using sim_done_atom = caf::atom_constant<caf::atom("sim_done")>;
using clock_type = std::chrono::steady_clock;

struct pending_call {
  caf::response_promise promise;
  std::string call_id;
  const model_config* model;
  sim_outcome outcome;  // the response is built from it on delivery: it is smaller
  uint64_t reservation;
  clock_type::time_point received;
};

struct model_service_state {
  std::shared_ptr<const config> cfg;
  budget_ledger* ledger = nullptr;
  std::unordered_map<std::string, sim_provider> sims;  // by provider name
  clock_type::time_point started = clock_type::now();
  std::unordered_map<uint64_t, pending_call> pending;
  uint64_t next_pending = 0;

  static inline const char* name = "model_service";
};

using service_actor = caf::stateful_actor<model_service_state>;

model_response error_response(const model_request& req, std::string kind, std::string message) {
  model_response resp;
  resp.call_id = req.call_id;
  resp.error.kind = std::move(kind);
  resp.error.message = std::move(message);
  return resp;
}

// Milliseconds until `model`'s sim outage window covering `since_start` ends; 0 when
// it is not in one. An outage is the provider being down, which blocks the run.
uint32_t outage_remaining_ms(const model_config& model, std::chrono::milliseconds since_start) {
  if (since_start.count() < 0) return 0;
  auto now_ms = static_cast<uint64_t>(since_start.count());
  uint64_t end = 0;
  for (const auto& o : model.sim.outages)
    if (o.from_ms <= now_ms && now_ms < o.to_ms) end = std::max(end, o.to_ms);
  return end == 0 ? 0 : static_cast<uint32_t>(std::min<uint64_t>(end - now_ms, UINT32_MAX));
}

// Settles or releases the call's reservation and answers the caller.
void finish_call(service_actor* self, pending_call& call) {
  auto& st = self->state;
  const auto& model = *call.model;
  auto& outcome = call.outcome;
  model_response resp;
  resp.call_id = std::move(call.call_id);
  resp.usage.model_id = model.id;
  resp.usage.tier = model.tier;
  if (outcome.error.ok()) {
    resp.text = std::move(outcome.text);
    resp.finish_reason = std::move(outcome.finish_reason);
    resp.usage.input_tokens = outcome.input_tokens;
    resp.usage.output_tokens = outcome.output_tokens;
    resp.usage.cost_usd = call_cost_usd(model, outcome.input_tokens, outcome.output_tokens);
  } else {
    resp.error = std::move(outcome.error);
  }
  resp.usage.latency_ms =
      std::chrono::duration<double, std::milli>(clock_type::now() - call.received).count();
  if (resp.ok())
    st.ledger->settle(call.reservation,
                      uint64_t{resp.usage.input_tokens} + resp.usage.output_tokens,
                      resp.usage.cost_usd);
  else
    st.ledger->release(call.reservation);
  call.promise.deliver(std::move(resp));
}

caf::behavior model_service(service_actor* self, std::shared_ptr<const config> cfg,
                            budget_ledger* ledger) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.ledger = ledger;
  for (const auto& p : st.cfg->providers)
    if (p.kind == "sim") st.sims.emplace(p.name, sim_provider{p.seed});
  return {
      [=](model_request& req) -> caf::result<model_response> {
        auto& st = self->state;
        auto received = clock_type::now();
        if (req.max_tokens == 0)
          return error_response(req, "bad_request", "max_tokens must be >= 1");
        auto choice = choose_model(*st.cfg, req.model, req.tier);
        if (!choice.model) return error_response(req, "no_model", choice.error);
        const auto& model = *choice.model;
        auto provider = st.sims.find(model.provider);
        if (provider == st.sims.end())
          return error_response(
              req, "no_model",
              fmt::format("model '{}' is served by provider '{}', which is not available", model.id,
                          model.provider));
        auto since_start =
            std::chrono::duration_cast<std::chrono::milliseconds>(received - st.started);
        if (auto down_for = outage_remaining_ms(model, since_start); down_for > 0) {
          auto resp = error_response(
              req, "blocked",
              fmt::format("provider '{}' is down for model '{}' (sim outage until {} ms after "
                          "start, {} ms from now)",
                          model.provider, model.id, since_start.count() + down_for, down_for));
          resp.error.retry_after_ms = down_for;
          resp.error.provider = model.provider;
          return resp;
        }
        // Worst case: the whole prompt plus every token max_tokens allows.
        auto prompt_tokens = estimate_prompt_tokens(req.messages);
        auto worst_tokens = uint64_t{prompt_tokens} + req.max_tokens;
        auto worst_usd = call_cost_usd(model, prompt_tokens, req.max_tokens);
        auto grant = st.ledger->reserve(req.ctx.thread_id, worst_tokens, worst_usd);
        if (!grant.granted) return error_response(req, reason_budget_exhausted, grant.reason);
        pending_call call{
            self->make_response_promise(),
            std::move(req.call_id),
            &model,
            provider->second.call(model, req.messages, req.max_tokens, since_start, prompt_tokens),
            grant.id,
            received};
        auto promise = call.promise;
        auto latency = call.outcome.latency;
        if (latency.count() <= 0) {
          finish_call(self, call);
        } else {
          auto key = st.next_pending++;
          st.pending.emplace(key, std::move(call));
          self->delayed_send(self, latency, sim_done_atom::value, key);
        }
        return promise;
      },
      [=](provider_status_atom, const std::string& provider) -> uint32_t {
        auto& st = self->state;
        auto since_start =
            std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - st.started);
        uint32_t longest = 0;
        for (const auto& m : st.cfg->models)
          if (m.provider == provider)
            longest = std::max(longest, outage_remaining_ms(m, since_start));
        return longest;
      },
      [=](sim_done_atom, uint64_t key) {
        auto& st = self->state;
        auto it = st.pending.find(key);
        if (it == st.pending.end()) return;
        finish_call(self, it->second);
        st.pending.erase(it);
      },
  };
}

}  // namespace

caf::actor spawn_model_service(caf::actor_system& sys, std::shared_ptr<const config> cfg,
                               budget_ledger& ledger) {
  return sys.spawn(model_service, std::move(cfg), &ledger);
}

}  // namespace switchyard
