#pragma once
// The model service's decisions about a call's start, as a plain class: where it goes
// (routing and its fallback plan), the health and latency table the policy reads, and
// what a first attempt needs (breakers, rate limiters, the budget ledger, the HTTP
// providers and client). The model service's actor uses it for every call; a caller on
// another thread (the gateway's I/O thread) starts a plain call with it directly
// (try_direct), so such a call wakes no CAF worker on its way out.
//
// Everything here is safe to use from several threads at once: the breakers, rate
// limiters and ledger have their own locks, the latency table is atomics, the rest is
// read-only after construction. The actor keeps its own call table; the few counters a
// direct call moves are atomics (direct_counters) that the service adds to its own.
//
// A direct call is the call the model service would answer without deciding anything
// after the first attempt (its `answer_directly` case): the first attempt, made without
// a fallback chain, not streamed, no cascade, no response cache, no embeddings service,
// a plain request (no forwarding stages), one endpoint for the model. try_direct
// refuses anything else before it has changed anything, and the caller sends the
// request to the actor as usual. A direct call's usable answer is settled (breaker,
// rate limit, budget, latency) and delivered on the HTTP client's thread. An error or
// an unusable reply is handed to the actor (direct_failed_atom), which takes the call
// over as if it had started it: retries, fallbacks, breakers and the error's mapping
// are the actor's, unchanged.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "caf/actor.hpp"
#include "caf/atom.hpp"
#include "caf/message_id.hpp"
#include "router/circuit_breaker.hpp"
#include "router/model_service.hpp"
#include "router/providers/http_client.hpp"
#include "router/providers/http_provider.hpp"
#include "router/rate_limiter.hpp"
#include "router/routing_policy.hpp"
#include "runtime/budget_ledger.hpp"
#include "runtime/config.hpp"
#include "runtime/messages.hpp"

namespace switchyard {

/// `(direct_failed_atom, uint64_t id, model_response reply)`: a direct call's attempt
/// ended without a usable answer; sent to the model service as a request from the
/// call's requester with the call's request id, so the service's answer reaches the
/// requester as the answer to its call. The service takes the call from
/// call_core::take_handed_over(id).
using direct_failed_atom = caf::atom_constant<caf::atom("dir_fail")>;

/// The position of a model in the catalog array [first, first + count), or
/// catalog_npos for a model of another config.
constexpr size_t catalog_npos = static_cast<size_t>(-1);
inline size_t catalog_position(const model_config* first, size_t count, const model_config* m) {
  return m >= first && m < first + count ? static_cast<size_t>(m - first) : catalog_npos;
}

/// The provider's rate-limit keys when they carry secrets of their own (each key is
/// then an endpoint with its own breaker per model), else null.
const std::vector<key_rate_limits>* own_secret_keys(const config& cfg, const std::string& provider);

/// The breaker's endpoint of a model: model x provider x key, where the key is named by
/// the provider's api_key_env (the secret itself never leaves http_provider). A
/// provider whose keys have their own secrets has one endpoint per key (key_endpoint);
/// this one then names none.
endpoint_id endpoint_of(const config& cfg, const model_config& m);
endpoint_id key_endpoint(const model_config& m, const std::string& key_name);

/// Empty output, or JSON that does not parse when JSON was asked: the endpoint answered
/// but the answer is unusable. Returns why, or "" when the answer is fine.
std::string semantic_problem_of(bool json_mode, const model_response& reply);

/// Endpoint health per catalog model: a model is down when all its endpoints' breakers
/// are open (one endpoint, or one per key). Observed latency per model (exponentially
/// weighted) feeds the latency-class filter and tie-breaks. Thread-safe.
class observed_models {
 public:
  observed_models(const config& cfg, breaker_registry& breakers);
  bool healthy_at(const model_config& m, clock_time now) const;
  /// Until one of the model's endpoints admits again; 0 when one does now.
  clock_time open_remaining(const model_config& m, clock_time now) const;
  /// The one breaker of a model whose provider has no per-key secrets.
  shared_breaker& only_breaker(const model_config& m) {
    return *breakers_of_.at(index_of(m)).front();
  }
  /// The breaker of key `index` of a model whose provider has per-key secrets.
  shared_breaker& key_breaker(const model_config& m, size_t index) {
    return *breakers_of_.at(index_of(m)).at(index);
  }
  double observed_latency_ms(const model_config& m) const;  // -1 until one was recorded
  void record_latency(const model_config& m, double ms);

 private:
  size_t index_of(const model_config& m) const {
    return catalog_position(catalog_, breakers_of_.size(), &m);
  }
  const model_config* catalog_;
  std::vector<std::vector<shared_breaker*>> breakers_of_;
  std::unique_ptr<std::atomic<double>[]> latency_;
};

/// The table as the policy reads it for one decision: every breaker at one instant.
class health_at final : public model_health {
 public:
  health_at(const observed_models& models, clock_time now) : models_(models), now_(now) {}
  bool healthy(const model_config& m) const override { return models_.healthy_at(m, now_); }
  double observed_latency_ms(const model_config& m) const override {
    return models_.observed_latency_ms(m);
  }

 private:
  const observed_models& models_;
  clock_time now_;
};

/// What a call needs to know of each catalog model, resolved once.
struct model_facts {
  int tier_rank = -1;
  bool per_key = false;  // the provider's keys have their own secrets (own_secret_keys)
  bool broken = false;   // the provider could not be set up (broken_providers)
  endpoint_id endpoint;  // endpoint_of()
  std::vector<const model_config*> catalog_plan;  // plan_from_catalog(), in its order
  // The HTTP provider serving it and that provider's rate limiter, or null.
  const http_provider* http = nullptr;
  rate_limiter* limiter = nullptr;
};

/// Where a routed call may go: its candidates (the routed model first) and the tier it
/// was meant for.
struct call_plan {
  std::vector<const model_config*> models;
  int requested_tier_rank = 0;
};

struct direct_call;

class call_core {
 public:
  call_core(std::shared_ptr<const config> cfg, budget_ledger& ledger,
            std::shared_ptr<const routing_policy> policy, model_request_observer observer);
  /// Shuts the HTTP client down first: its callbacks use what the core owns.
  ~call_core();
  call_core(const call_core&) = delete;
  call_core& operator=(const call_core&) = delete;

  /// The policy's decision for `in` with the endpoints' health at `now`.
  routing_decision decide(const routing_input& in, clock_time now) const;
  /// The same, written into `out` (routing_policy::decide's reusing form).
  void decide(const routing_input& in, clock_time now, routing_decision& out) const;
  /// The candidates of a routed call: the routed model first, then fallbacks the
  /// policy judged eligible for this very request (a health verdict is fine: breakers
  /// decide at call time). A pinned model has no fallbacks: the caller asked for that
  /// model. Returns why no plan could be made, or "".
  std::string plan_for(const model_request& req, const routing_decision& decision,
                       call_plan& plan) const;
  /// The facts of a catalog model of `cfg`.
  const model_facts& facts_of(const model_config& m) const {
    return facts[catalog_position(cfg->models.data(), cfg->models.size(), &m)];
  }

  /// Starts `req` from the calling thread when it is a plain call (see the header
  /// comment) and returns true: its answer goes to `requester` as the response to
  /// `request_id`, sent by `service`, from the HTTP client's thread (or the service's,
  /// after a handover). Returns false, with nothing changed and `req` untouched, for
  /// any other call: the caller sends it to the service.
  /// `here`: the io_context the calling thread runs (alone), or null. With it, the
  /// provider call runs on this thread too when a pooled connection is idle
  /// (http_client::send_here): it reads the reply and answers, no other thread wakes.
  /// `want_trace` false: the answer's decision trace is left empty (nobody reads it).
  bool try_direct(model_request& req, const caf::strong_actor_ptr& requester,
                  caf::message_id request_id, const caf::strong_actor_ptr& service,
                  boost::asio::io_context* here = nullptr, bool want_trace = true);
  /// The direct call handed over with direct_failed_atom, or null when unknown.
  std::unique_ptr<direct_call> take_handed_over(uint64_t id);

  std::shared_ptr<const config> cfg;
  budget_ledger* ledger = nullptr;
  std::shared_ptr<const routing_policy> policy;
  model_request_observer observer;  // audit hook; may be empty
  std::unique_ptr<breaker_registry> breakers;
  std::unique_ptr<observed_models> models;
  std::unordered_map<std::string, std::unique_ptr<rate_limiter>> limiters;  // by provider
  std::unordered_map<std::string, http_provider> http_providers;            // by provider name
  std::unordered_map<std::string, std::string> broken_providers;            // name -> why (bad URL)
  std::vector<model_facts> facts;  // per catalog model, same index
  // The models of each `resilience.fallback` route, resolved once; `error` when the
  // route names a model the catalog lacks.
  struct route_models {
    std::vector<const model_config*> models;
    std::string error;
  };
  std::unordered_map<std::string, route_models> fallback_routes;
  // Created only when the config has an HTTP provider or routes on an embeddings
  // service: its I/O thread is not free. Declared last: destroyed (joined) first.
  std::unique_ptr<http_client> http;

  /// What direct calls did that the service's own counters do not see. A handed-over
  /// call leaves `in_flight` when the service takes it.
  struct direct_counters {
    std::atomic<uint64_t> calls{0};     // started (each one attempt)
    std::atomic<uint64_t> answered{0};  // answered on the HTTP client's thread
    std::atomic<int64_t> in_flight{0};
    std::atomic<uint64_t> handed_over{0};
  } direct;

 private:
  bool direct_possible_ = false;  // no cache and no embeddings service: see try_direct
  std::mutex handed_over_mu_;
  std::unordered_map<uint64_t, std::unique_ptr<direct_call>> handed_over_;
  std::atomic<uint64_t> next_direct_{1};
};

/// A direct call's state until it ends; the service takes it over after a failure.
struct direct_call {
  uint64_t id = 0;
  model_request req;
  caf::strong_actor_ptr requester;
  caf::message_id request_id;
  caf::strong_actor_ptr service;
  std::chrono::steady_clock::time_point received;
  uint32_t prompt_tokens = 0;
  latency_class cls = latency_class::interactive;
  std::string route;
  std::string decision;  // the policy's trace, compact (trace_codec)
  call_plan plan;
  clock_time chain_start{0};
  shared_breaker* breaker = nullptr;
  bool probe = false;
  rate_limiter* limiter = nullptr;
  rate_grant grant;
  budget_ledger::account_ref account;
  uint64_t reservation = 0;
};

}  // namespace switchyard
