#include "router/call_core.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "caf/actor_addr.hpp"
#include "caf/actor_cast.hpp"
#include "caf/actor_control_block.hpp"
#include "caf/make_message.hpp"
#include "router/cost.hpp"
#include "router/decision_trace.hpp"
#include "router/fallback_chain.hpp"
#include "router/providers/error_mapping.hpp"
#include "router/providers/wire_adapter.hpp"
#include "router/route_training.hpp"
#include "router/token_estimate.hpp"

namespace switchyard {

namespace {

using clock_type = std::chrono::steady_clock;

clock_time now_ns() {
  return std::chrono::duration_cast<clock_time>(clock_type::now().time_since_epoch());
}

}  // namespace

const std::vector<key_rate_limits>* own_secret_keys(const config& cfg,
                                                    const std::string& provider) {
  auto it = cfg.resilience.rate_limits.find(provider);
  if (it == cfg.resilience.rate_limits.end() || !keys_have_own_secrets(&it->second)) return nullptr;
  const provider_config* p = cfg.find_provider(provider);
  return p != nullptr && p->is_http() ? &it->second : nullptr;
}

endpoint_id endpoint_of(const config& cfg, const model_config& m) {
  if (own_secret_keys(cfg, m.provider) != nullptr) return endpoint_id{m.id, m.provider, ""};
  const provider_config* p = cfg.find_provider(m.provider);
  return endpoint_id{m.id, m.provider, p != nullptr ? p->api_key_env : std::string{}};
}

endpoint_id key_endpoint(const model_config& m, const std::string& key_name) {
  return endpoint_id{m.id, m.provider, key_name};
}

std::string semantic_problem_of(bool json_mode, const model_response& reply) {
  if (!reply.ok()) return {};
  if (reply.text.empty() && reply.tool_calls.empty()) return "empty output";
  if (json_mode && reply.tool_calls.empty() && !nlohmann::json::accept(reply.text))
    return "unparseable JSON although json_mode was asked";
  return {};
}

// -- observed_models ----------------------------------------------------------------------

// Looks every model's breakers up once: the policy asks for each candidate model on every
// call, and the registry's references are stable. Kept per catalog position: a model of
// another config (a policy built from its own copy) has no breakers here.
observed_models::observed_models(const config& cfg, breaker_registry& breakers)
    : catalog_(cfg.models.data()),
      breakers_of_(cfg.models.size()),
      latency_(new std::atomic<double>[cfg.models.size()]) {
  for (size_t i = 0; i < cfg.models.size(); ++i) {
    latency_[i].store(-1, std::memory_order_relaxed);
    const model_config& m = cfg.models[i];
    auto& list = breakers_of_[i];
    if (const auto* keys = own_secret_keys(cfg, m.provider)) {
      for (const auto& k : *keys) list.push_back(&breakers.get(key_endpoint(m, k.key)));
    } else {
      list.push_back(&breakers.get(endpoint_of(cfg, m)));
    }
  }
}

bool observed_models::healthy_at(const model_config& m, clock_time now) const {
  size_t i = index_of(m);
  if (i == catalog_npos) return true;
  for (const auto* b : breakers_of_[i])
    if (b->state(now) != breaker_state::open) return true;
  return false;
}

clock_time observed_models::open_remaining(const model_config& m, clock_time now) const {
  size_t i = index_of(m);
  if (i == catalog_npos) return clock_time{0};
  clock_time soonest = clock_time::max();
  for (const auto* b : breakers_of_[i]) soonest = std::min(soonest, b->open_remaining(now));
  return soonest == clock_time::max() ? clock_time{0} : soonest;
}

double observed_models::observed_latency_ms(const model_config& m) const {
  size_t i = index_of(m);
  return i == catalog_npos ? -1 : latency_[i].load(std::memory_order_relaxed);
}

void observed_models::record_latency(const model_config& m, double ms) {
  size_t i = index_of(m);
  if (i == catalog_npos) return;
  double old = latency_[i].load(std::memory_order_relaxed);
  double next = 0;
  do {
    next = old < 0 ? ms : old + 0.2 * (ms - old);
  } while (!latency_[i].compare_exchange_weak(old, next, std::memory_order_relaxed));
}

// -- call_core ----------------------------------------------------------------------------

call_core::call_core(std::shared_ptr<const config> config_in, budget_ledger& ledger_in,
                     std::shared_ptr<const routing_policy> policy_in,
                     model_request_observer observer_in)
    : cfg(std::move(config_in)),
      ledger(&ledger_in),
      policy(std::move(policy_in)),
      observer(std::move(observer_in)) {
  breakers = std::make_unique<breaker_registry>(cfg->resilience.breaker);
  models = std::make_unique<observed_models>(*cfg, *breakers);
  for (const auto& [provider, keys] : cfg->resilience.rate_limits) {
    std::vector<key_limits> limits;
    for (const auto& k : keys)
      limits.push_back(key_limits{k.key, k.requests_per_minute, k.tokens_per_minute});
    limiters.emplace(provider, std::make_unique<rate_limiter>(std::move(limits), now_ns()));
  }
  for (const auto& p : cfg->providers) {
    if (!p.is_http()) continue;
    std::string error;
    auto keys = cfg->resilience.rate_limits.find(p.name);
    if (auto hp = make_http_provider(
            p, error, keys == cfg->resilience.rate_limits.end() ? nullptr : &keys->second)) {
      if (!hp->unusable.empty()) spdlog::error("model service: {}", hp->unusable);
      for (const auto& k : hp->keys)
        if (!k.unusable.empty()) spdlog::error("model service: {}", k.unusable);
      http_providers.emplace(p.name, std::move(*hp));
    } else {
      spdlog::error("model service: {}", error);
      broken_providers.emplace(p.name, error);
    }
  }
  for (const auto& m : cfg->models) {
    auto& f = facts.emplace_back();
    f.tier_rank = cfg->tier_rank(m.tier);
    f.per_key = own_secret_keys(*cfg, m.provider) != nullptr;
    f.broken = broken_providers.count(m.provider) > 0;
    f.endpoint = endpoint_of(*cfg, m);
    for (const auto& cand : plan_from_catalog(*cfg, m.id).candidates)
      f.catalog_plan.push_back(cfg->find_model(cand.endpoint.model));
    if (auto it = http_providers.find(m.provider); it != http_providers.end()) f.http = &it->second;
    if (auto it = limiters.find(m.provider); it != limiters.end()) f.limiter = it->second.get();
  }
  for (const auto& [route, ids] : cfg->resilience.fallback) {
    auto& resolved = fallback_routes[route];
    for (const auto& id : ids) {
      const model_config* m = cfg->find_model(id);
      if (m == nullptr) {
        resolved.error = "route names model '" + id + "', which is not in the catalog";
        break;
      }
      resolved.models.push_back(m);
    }
  }
  const bool embedded =
      std::dynamic_pointer_cast<const embedding_route_classifier>(policy->classifier()) != nullptr;
  if (!http_providers.empty() || embedded) http = std::make_unique<http_client>();
  direct_possible_ = http && !embedded && cfg->resilience.cache.path.empty();
}

call_core::~call_core() {
  if (http) http->shutdown(std::chrono::milliseconds{0});
}

routing_decision call_core::decide(const routing_input& in, clock_time now) const {
  return policy->decide(in, health_at{*models, now});
}

void call_core::decide(const routing_input& in, clock_time now, routing_decision& out) const {
  policy->decide(in, health_at{*models, now}, out);
}

std::string call_core::plan_for(const model_request& req, const routing_decision& decision,
                                call_plan& plan) const {
  plan.models.clear();
  const model_config* routed = decision.model;
  if (catalog_position(cfg->models.data(), cfg->models.size(), routed) == catalog_npos)
    routed = cfg->find_model(routed->id);
  auto route = req.model.empty() && !fallback_routes.empty() ? fallback_routes.find(decision.route)
                                                             : fallback_routes.end();
  if (routed == nullptr)
    return req.model.empty() && route == fallback_routes.end()
               ? "no model '" + decision.model->id + "' in the catalog"
               : "route names model '" + decision.model->id + "', which is not in the catalog";
  const std::vector<const model_config*>* fallbacks = nullptr;
  if (req.model.empty()) {
    if (route != fallback_routes.end()) {
      if (!route->second.error.empty()) return route->second.error;
      fallbacks = &route->second.models;
    } else {
      fallbacks = &facts_of(*routed).catalog_plan;
    }
  }
  plan.models.push_back(routed);
  if (fallbacks != nullptr) {
    for (const model_config* m : *fallbacks) {
      if (m == routed || facts_of(*m).broken) continue;
      bool eligible = false;
      for (const auto& note : decision.trace.candidates)
        if (note.model == m && (note.filtered_by == candidate_filter::none ||
                                note.filtered_by == candidate_filter::health))
          eligible = true;
      if (eligible) plan.models.push_back(m);
    }
  }
  // The policy ranked the target tier in its own config; the same one as ours, mostly.
  int target = &policy->catalog() == cfg.get() ? decision.target_rank
                                               : cfg->tier_rank(decision.trace.target_tier);
  plan.requested_tier_rank = target >= 0 ? target : facts_of(*routed).tier_rank;
  return {};
}

bool call_core::try_direct(model_request& req, const caf::strong_actor_ptr& requester,
                           caf::message_id request_id, const caf::strong_actor_ptr& service,
                           boost::asio::io_context* here, bool want_trace) {
  // What the service would route, cache, cascade or stream differently: not direct.
  if (!direct_possible_ || req.stream || req.max_tokens == 0 || !requester || !service)
    return false;
  latency_class cls = latency_class::interactive;
  if (!req.latency_class.empty() && !parse_latency_class(req.latency_class, cls)) return false;
  auto received = clock_type::now();
  const uint32_t prompt_tokens = estimate_prompt_tokens(req.messages);
  budget_ledger::account_ref account;
  routing_input input{req, latest_user_text(req.messages), prompt_tokens,
                      budget_left(ledger->usage(req.ctx.thread_id, account)), nullptr};
  const auto now = now_ns();
  routing_decision decision = decide(input, now);
  if (decision.outcome != routing_outcome::routed) return false;
  call_plan plan;
  if (!plan_for(req, decision, plan).empty()) return false;
  if (req.model.empty() && req.tier.empty() && cfg->resilience.cascade.count(decision.route) > 0)
    return false;
  // The chain's first attempt as the service makes it without a chain
  // (first_attempt_without_chain in model_service.cpp): one endpoint, the requested tier
  // or better (the retry budget, max_total_ms >= 1, has only just started).
  const model_config& model = *plan.models.front();
  const model_facts& f = facts_of(model);
  if (f.per_key || f.broken || f.http == nullptr || f.tier_rank < plan.requested_tier_rank)
    return false;
  if (!model.sim.outages.empty()) return false;
  const http_provider& provider = *f.http;
  if (!provider.unusable.empty()) return false;  // the service says why (kind auth)
  // Rate limit, budget, breaker, each given back when a later one refuses, so a refused
  // call leaves no trace and the service starts it afresh. (The service asks the breaker
  // first; only a closed breaker's admission is certain to have no effect, so it is
  // asked last here.)
  const uint32_t estimate = prompt_tokens + req.max_tokens;
  rate_limiter* limiter = f.limiter;
  rate_grant grant;
  if (limiter != nullptr) {
    grant = limiter->acquire(estimate, now, 0);
    if (!grant.granted) return false;  // the service waits or skips: its decision
  }
  auto worst_usd = call_cost_usd(model, prompt_tokens, req.max_tokens);
  auto reserved = ledger->reserve(req.ctx.thread_id, account, uint64_t{estimate}, worst_usd);
  if (!reserved.granted) {
    if (limiter != nullptr) limiter->cancel(grant, now);
    return false;
  }
  shared_breaker& breaker = models->only_breaker(model);
  breaker_admission admission = breaker.admit(now);
  if (!admission.allowed) {
    ledger->release(reserved.id);
    if (limiter != nullptr) limiter->cancel(grant, now);
    return false;
  }
  // Committed: from here the call is this path's until it answers or is handed over.
  auto call = std::make_shared<direct_call>();
  call->id = next_direct_.fetch_add(1, std::memory_order_relaxed);
  call->requester = requester;
  call->request_id = request_id;
  call->service = service;
  call->received = received;
  call->prompt_tokens = prompt_tokens;
  call->cls = cls;
  call->route = std::move(decision.route);
  if (want_trace) {
    call->decision = to_compact(decision.trace);
    call->decision.shrink_to_fit();
  }
  call->plan = std::move(plan);
  call->chain_start = now;
  call->breaker = &breaker;
  call->probe = admission.probe;
  call->limiter = grant.granted ? limiter : nullptr;
  call->grant = grant;
  call->account = std::move(account);
  call->reservation = reserved.id;
  call->req = std::move(req);
  direct.calls.fetch_add(1, std::memory_order_relaxed);
  direct.in_flight.fetch_add(1, std::memory_order_relaxed);

  // Hands the call to the service with the attempt's outcome: it continues as if it had
  // started the call (model_service.cpp, adopt_direct_call).
  auto hand_over = [this](const std::shared_ptr<direct_call>& c, model_response&& reply) {
    const uint64_t id = c->id;
    caf::strong_actor_ptr service = c->service;
    caf::strong_actor_ptr requester = c->requester;
    const caf::message_id request_id = c->request_id;
    {
      std::lock_guard<std::mutex> lock{handed_over_mu_};
      handed_over_.emplace(id, std::make_unique<direct_call>(std::move(*c)));
    }
    direct.handed_over.fetch_add(1, std::memory_order_relaxed);
    caf::actor_cast<caf::abstract_actor*>(service)->enqueue(
        std::move(requester), request_id,
        caf::make_message(direct_failed_atom::value, id, std::move(reply)), nullptr);
  };

  auto built = build_provider_request(call->req, model, provider.cfg, provider.api_key);
  if (!built.ok()) {
    model_response reply;
    reply.call_id = call->req.call_id;
    reply.error = built.error;
    hand_over(call, std::move(reply));
    return true;
  }
  if (observer) observer(model, call->req);
  // `provider` and `model` live in this core and its config, which outlive the client's
  // calls (the destructor shuts the client down first).
  http->send(provider.endpoint, std::move(built.request), provider.timeouts,
             [this, call, &provider, &model, hand_over](http_result result) {
               model_response reply;
               const std::string& secret = provider.api_key;
               if (!result.ok()) {
                 auto message =
                     fmt::format("provider '{}': {}", provider.cfg.name, result.failure.message);
                 redact_secret(message, secret);
                 reply.error = make_error(result.failure.kind, std::move(message));
               } else {
                 reply = parse_provider_response(provider.cfg, static_cast<int>(result.status),
                                                 result.headers, result.body, model,
                                                 call->req.call_id, secret);
               }
               if (!reply.ok() || !semantic_problem_of(call->req.json_mode, reply).empty()) {
                 hand_over(call, std::move(reply));
                 return;
               }
               // What attempt_done, finish_answered and deliver do for such an answer.
               auto now = clock_type::now();
               auto t = now_ns();
               call->breaker->report(call_outcome::success, t, call->probe);
               reply.usage.cost_usd =
                   call_cost_usd(model, reply.usage.input_tokens, reply.usage.output_tokens);
               auto tokens = reply.usage.input_tokens + reply.usage.output_tokens;
               if (call->limiter != nullptr) call->limiter->settle(call->grant, tokens, t);
               ledger->settle(call->reservation, uint64_t{tokens}, reply.usage.cost_usd);
               double attempt_ms =
                   std::chrono::duration<double, std::milli>(now - call->received).count();
               models->record_latency(model, attempt_ms);
               reply.usage.model_id = model.id;
               reply.usage.tier = model.tier;
               reply.usage.downgraded = false;
               reply.usage.decision = decision_traces{std::move(call->decision)};
               reply.call_id = call->req.call_id;
               if (reply.usage.route.empty()) reply.usage.route = std::move(call->route);
               reply.usage.latency_ms = attempt_ms;
               direct.answered.fetch_add(1, std::memory_order_relaxed);
               direct.in_flight.fetch_sub(1, std::memory_order_relaxed);
               call->requester->enqueue(call->service, call->request_id.response_id(),
                                        caf::make_message(std::move(reply)), nullptr);
             },
             {}, here);
  return true;
}

std::unique_ptr<direct_call> call_core::take_handed_over(uint64_t id) {
  std::lock_guard<std::mutex> lock{handed_over_mu_};
  auto it = handed_over_.find(id);
  if (it == handed_over_.end()) return nullptr;
  auto out = std::move(it->second);
  handed_over_.erase(it);
  direct.in_flight.fetch_sub(1, std::memory_order_relaxed);
  return out;
}

}  // namespace switchyard
