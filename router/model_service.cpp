#include "router/model_service.hpp"

#include <fmt/format.h>

#include <spdlog/spdlog.h>

#include <algorithm>

#include <chrono>
#include <memory>
#include <unordered_map>

#include "caf/all.hpp"
#include "router/cost.hpp"
#include "router/routing_policy.hpp"
#include "router/providers/http_client.hpp"
#include "router/providers/error_mapping.hpp"
#include "router/providers/http_provider.hpp"
#include "router/providers/wire_adapter.hpp"
#include "router/providers/sim_provider.hpp"
#include "router/token_estimate.hpp"
#include "runtime/messages.hpp"
#include "runtime/supervisor.hpp"

namespace switchyard {

namespace {

using sim_done_atom = caf::atom_constant<caf::atom("sim_done")>;
using http_done_atom = caf::atom_constant<caf::atom("http_done")>;
using clock_type = std::chrono::steady_clock;

struct pending_call {
  caf::response_promise promise;
  std::string call_id;
  const model_config* model;
  sim_outcome outcome;  // the response is built from it on delivery: it is smaller
  uint64_t reservation;
  clock_type::time_point received;
  std::string route;
  bool downgraded;
  std::string decision;  // the trace as JSON text
};

// Observed latency per model (exponentially weighted), for the policy's latency-class
// filter and tie-breaks. Endpoint health stays "up" until circuit breakers feed it.
class observed_models final : public model_health {
 public:
  bool healthy(const model_config&) const override { return true; }
  double observed_latency_ms(const model_config& m) const override {
    auto it = latency_.find(&m);
    return it == latency_.end() ? -1 : it->second;
  }
  void record_latency(const model_config& m, double ms) {
    auto [it, fresh] = latency_.emplace(&m, ms);
    if (!fresh) it->second += 0.2 * (ms - it->second);
  }

 private:
  std::unordered_map<const model_config*, double> latency_;
};

// A call out over HTTP, waiting for its http_done message.
struct pending_http_call {
  caf::response_promise promise;
  std::string call_id;
  const model_config* model;
  uint64_t reservation;
  clock_type::time_point received;
  std::string route;
  bool downgraded;
  std::string decision;  // the trace as JSON text
};

struct model_service_state {
  std::shared_ptr<const config> cfg;
  budget_ledger* ledger = nullptr;
  std::shared_ptr<const routing_policy> policy;
  model_request_observer observer;  // audit hook; may be empty
  observed_models models;
  std::unordered_map<std::string, sim_provider> sims;  // by provider name
  std::unordered_map<std::string, http_provider> http_providers;  // by provider name
  std::unordered_map<std::string, std::string> broken_providers;  // name -> why (bad URL)
  // Created only when the config has an HTTP provider: its I/O thread is not free.
  std::unique_ptr<http_client> http;
  std::unordered_map<uint64_t, pending_http_call> pending_http;
  clock_type::time_point started = clock_type::now();
  std::unordered_map<uint64_t, pending_call> pending;
  uint64_t next_pending = 0;

  static inline const char* name = "model_service";

  ~model_service_state() {
    // Nobody waits for the answers any more: cancel at once instead of draining.
    if (http) http->shutdown(std::chrono::milliseconds{0});
  }
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
  resp.usage.route = std::move(call.route);
  resp.usage.downgraded = call.downgraded;
  resp.usage.decision = std::move(call.decision);
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
  if (resp.ok()) st.models.record_latency(model, resp.usage.latency_ms);
  if (resp.ok())
    st.ledger->settle(call.reservation,
                      uint64_t{resp.usage.input_tokens} + resp.usage.output_tokens,
                      resp.usage.cost_usd);
  else
    st.ledger->release(call.reservation);
  call.promise.deliver(std::move(resp));
}

void finish_http_call(service_actor* self, pending_http_call& call, model_response reply) {
  auto& st = self->state;
  const auto& model = *call.model;
  reply.call_id = std::move(call.call_id);
  reply.usage.model_id = model.id;
  reply.usage.tier = model.tier;
  reply.usage.route = std::move(call.route);
  reply.usage.downgraded = call.downgraded;
  reply.usage.decision = std::move(call.decision);
  reply.usage.latency_ms =
      std::chrono::duration<double, std::milli>(clock_type::now() - call.received).count();
  if (reply.ok()) {
    st.models.record_latency(model, reply.usage.latency_ms);
    reply.usage.cost_usd =
        call_cost_usd(model, reply.usage.input_tokens, reply.usage.output_tokens);
    st.ledger->settle(call.reservation,
                      uint64_t{reply.usage.input_tokens} + reply.usage.output_tokens,
                      reply.usage.cost_usd);
  } else {
    reply.text.clear();
    st.ledger->release(call.reservation);
  }
  call.promise.deliver(std::move(reply));
}

// Reserves the worst case, sends the call on the HTTP client's thread and answers when
// its http_done message comes back. The callbacks only parse and send: the actor's
// state is touched by the actor alone. With req.stream (and a kind that streams), the
// body is decoded as it arrives and each delta goes straight to the requester, in
// order, before the final response.
caf::result<model_response> call_over_http(service_actor* self, model_request& req,
                                           const model_config& model,
                                           const http_provider& provider,
                                           clock_type::time_point received,
                                           routing_decision& decision) {
  auto& st = self->state;
  if (!provider.unusable.empty()) return error_response(req, "auth", provider.unusable);
  auto built = build_provider_request(req, model, provider.cfg, provider.api_key);
  if (!built.ok()) return error_response(req, built.error.kind, built.error.message);
  auto prompt_tokens = estimate_prompt_tokens(req.messages);
  auto worst_tokens = uint64_t{prompt_tokens} + req.max_tokens;
  auto worst_usd = call_cost_usd(model, prompt_tokens, req.max_tokens);
  auto grant = st.ledger->reserve(req.ctx.thread_id, worst_tokens, worst_usd);
  if (!grant.granted) return error_response(req, reason_budget_exhausted, grant.reason);
  if (st.observer) st.observer(model, req);
  auto key = st.next_pending++;
  // Before make_response_promise, which takes the request over from the current message.
  auto requester = caf::actor_cast<caf::actor>(self->current_sender());
  auto promise = self->make_response_promise();
  auto call_id = req.call_id;
  st.pending_http.emplace(key, pending_http_call{promise, std::move(req.call_id), &model,
                                                 grant.id, received, std::move(decision.route),
                                                 decision.downgraded,
                                                 to_json_text(decision.trace)});
  auto me = caf::actor_cast<caf::actor>(self);
  // `provider` and `model` live in the state and the config, which outlive the client's
  // calls (the state's destructor shuts the client down first).
  std::shared_ptr<stream_decoder> decoder;
  if (req.stream && provider_streams(provider.cfg))
    decoder = make_stream_decoder(provider.cfg, call_id, model, provider.api_key);
  http_chunk_handler on_chunk;
  if (decoder) {
    on_chunk = [decoder, requester](std::string_view bytes) {
      for (auto& delta : decoder->feed(bytes))
        if (requester) caf::anon_send(requester, std::move(delta));
    };
  }
  st.http->send(
      provider.endpoint, std::move(built.request), provider.timeouts,
      [me, key, &provider, &model, call_id, decoder](http_result result) {
        model_response reply;
        if (!result.ok()) {
          auto message = fmt::format("provider '{}': {}", provider.cfg.name,
                                     result.failure.message);
          redact_secret(message, provider.api_key);
          reply.error = make_error(result.failure.kind, std::move(message));
        } else if (decoder && result.status >= 200 && result.status < 300) {
          reply = decoder->finish();
        } else {
          reply = parse_provider_response(provider.cfg, static_cast<int>(result.status),
                                          result.headers, result.body, model, call_id,
                                          provider.api_key);
        }
        caf::anon_send(me, http_done_atom::value, key, std::move(reply));
      },
      std::move(on_chunk));
  return promise;
}

caf::behavior model_service(service_actor* self, std::shared_ptr<const config> cfg,
                            budget_ledger* ledger, std::shared_ptr<const routing_policy> policy,
                            model_request_observer observer) {
  auto& st = self->state;
  st.observer = std::move(observer);
  st.cfg = std::move(cfg);
  st.ledger = ledger;
  st.policy = std::move(policy);
  for (const auto& p : st.cfg->providers) {
    if (p.kind == "sim") st.sims.emplace(p.name, sim_provider{p.seed});
    if (!p.is_http()) continue;
    std::string error;
    if (auto hp = make_http_provider(p, error)) {
      if (!hp->unusable.empty()) spdlog::error("model service: {}", hp->unusable);
      st.http_providers.emplace(p.name, std::move(*hp));
    } else {
      spdlog::error("model service: {}", error);
      st.broken_providers.emplace(p.name, error);
    }
  }
  if (!st.http_providers.empty()) st.http = std::make_unique<http_client>();
  return {
      [=](model_request& req) -> caf::result<model_response> {
        auto& st = self->state;
        auto received = clock_type::now();
        if (req.max_tokens == 0)
          return error_response(req, "bad_request", "max_tokens must be >= 1");
        auto prompt_tokens = estimate_prompt_tokens(req.messages);
        routing_input input{req, latest_user_text(req.messages), prompt_tokens,
                            budget_left(st.ledger->usage(req.ctx.thread_id))};
        auto decision = st.policy->decide(input, st.models);
        if (decision.outcome != routing_outcome::routed) {
          static const char* kinds[] = {"", "blocked", reason_budget_exhausted, "no_model"};
          auto resp = error_response(req, kinds[static_cast<int>(decision.outcome)],
                                     std::move(decision.message));
          resp.usage.route = std::move(decision.route);
          resp.usage.decision = to_json_text(decision.trace);
          return resp;
        }
        const auto& model = *decision.model;
        if (auto hp = st.http_providers.find(model.provider); hp != st.http_providers.end())
          return call_over_http(self, req, model, hp->second, received, decision);
        if (auto broken = st.broken_providers.find(model.provider);
            broken != st.broken_providers.end())
          return error_response(req, "no_model", broken->second);
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
        auto worst_tokens = uint64_t{prompt_tokens} + req.max_tokens;
        auto worst_usd = call_cost_usd(model, prompt_tokens, req.max_tokens);
        auto grant = st.ledger->reserve(req.ctx.thread_id, worst_tokens, worst_usd);
        if (!grant.granted) return error_response(req, reason_budget_exhausted, grant.reason);
        if (st.observer) st.observer(model, req);
        pending_call call{
            self->make_response_promise(),
            std::move(req.call_id),
            &model,
            provider->second.call(model, req.messages, req.max_tokens, since_start, prompt_tokens),
            grant.id,
            received,
            std::move(decision.route),
            decision.downgraded,
            to_json_text(decision.trace)};
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
      [=](http_done_atom, uint64_t key, model_response& reply) {
        auto& st = self->state;
        auto it = st.pending_http.find(key);
        if (it == st.pending_http.end()) return;
        finish_http_call(self, it->second, std::move(reply));
        st.pending_http.erase(it);
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
                               budget_ledger& ledger,
                               std::shared_ptr<const routing_policy> policy,
                               model_request_observer observer) {
  if (!policy) policy = std::make_shared<routing_policy>(cfg);
  return sys.spawn(model_service, std::move(cfg), &ledger, std::move(policy),
                   std::move(observer));
}

}  // namespace switchyard
