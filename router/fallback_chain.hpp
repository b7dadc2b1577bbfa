#pragma once
// The fallback chain of one model call: which endpoints to try, in which order, and
// what the call's outcome is. A plain state machine (no CAF) that the router actor
// drives:
//
//   fallback_chain chain(plan, requested_tier_rank, &breakers, retry, now, seed);
//   for (;;) {
//     auto a = chain.next_attempt(clock.now());
//     if (a.what == chain_attempt::done) break;
//     if (a.what == chain_attempt::wait) { schedule a wake-up after a.delay; continue; }
//     call plan[a.candidate]; chain.report(response.error, clock.now(), semantic_failure);
//   }
//   chain.result()  // success (maybe downgraded), blocked, or failed
//
// Order comes from plan_route() (a route's configured, ordered model list) or
// plan_from_catalog() (the primary, the same tier on other providers, then the next
// lower tier). Each candidate is skipped while its breaker refuses calls; errors are
// retried on the same endpoint per retry_policy, then the chain moves on. A
// context_length error skips candidates whose window is not larger. Outcomes:
// - success: `downgraded` is true when the answering model's tier ranks below the
//   requested tier; `reason` says why the better candidates did not answer.
// - blocked: every candidate was unavailable for reasons that time heals (breaker
//   open, retries exhausted on retriable errors, time budget spent). Not a failure:
//   the durable run parks the step; `retry_in` hints when a breaker may admit again.
// - failed: a non-retriable error (bad_request, content_filter, ...) or every
//   candidate refused for permanent reasons (auth, context too long).
// Not thread-safe: one call, one owner. Reports breaker outcomes itself.

#include <cstdint>
#include <string>
#include <vector>

#include "router/circuit_breaker.hpp"
#include "router/retry_policy.hpp"
#include "runtime/config.hpp"
#include "runtime/messages.hpp"

namespace switchyard {

struct fallback_candidate {
  endpoint_id endpoint;  // model, provider, key
  std::string tier;
  int tier_rank = 0;  // position in config::tiers; higher is more capable
  uint32_t context_window = 0;
  /// The provider has several keys, each its own endpoint (`endpoint.key` is then
  /// empty): the caller picks the key per attempt, admits that key's breaker itself
  /// and hands it over with use_breaker(); the chain does not admit on its own.
  bool per_key = false;
};

struct candidate_plan {
  std::vector<fallback_candidate> candidates;
  int requested_tier_rank = 0;
  std::string error;  // non-empty when the plan cannot be made (unknown model, ...)
};

/// A route's ordered model ids; the first one's tier is the requested tier.
candidate_plan plan_route(const config& cfg, const std::vector<std::string>& model_ids);
/// From the catalog: `primary`, then the other models of its tier (other providers
/// first, then cheapest first), then the next lower tier's models, cheapest first.
candidate_plan plan_from_catalog(const config& cfg, const std::string& primary);

struct chain_attempt {
  enum kind { call, wait, done };
  kind what = done;
  size_t candidate = 0;  // call: index into the plan's candidates
  bool probe = false;    // call: this is the endpoint's half-open probe
  clock_time delay{0};   // wait: call next_attempt() again after this long
};

struct chain_result {
  enum status { pending, success, blocked, failed };
  status what = pending;
  size_t candidate = 0;     // success: who answered
  bool downgraded = false;  // success: a lower tier than requested answered
  std::string reason;       // success+downgraded, blocked, failed: why, readable
  std::string error_kind;   // failed: the deciding model_error kind
  clock_time retry_in{0};   // blocked: soonest an open breaker admits again (0: unknown)
  uint32_t attempts = 0;    // calls made
};

std::string to_string(chain_result::status x);

class fallback_chain {
 public:
  /// `breakers` may be null (no health checks).
  fallback_chain(std::vector<fallback_candidate> candidates, int requested_tier_rank,
                 breaker_registry* breakers, const retry_settings& retry, clock_time start,
                 uint64_t seed);

  chain_attempt next_attempt(clock_time now);
  /// The outcome of the call next_attempt() handed out. `error.kind` empty is a
  /// success unless `semantic_failure` (empty output, bad JSON, error inside a 200).
  void report(const model_error& error, clock_time now, bool semantic_failure = false);
  /// Gives up on the call next_attempt() handed out without an answer to judge, and
  /// moves to the next candidate: the endpoint is known to be unavailable (a declared
  /// outage, rate limits saturated past the deadline, a stream that broke after output
  /// went out). `report_failure` counts it as a failure on the endpoint's breaker;
  /// `heals_with_time` decides whether running out of candidates is `blocked`;
  /// `retry_in` (> 0) hints when this endpoint is expected back.
  void skip(const std::string& why, clock_time now, bool report_failure, bool heals_with_time,
            clock_time retry_in = clock_time{0});
  /// For a per_key candidate: the breaker (and probe flag) of the key the in-flight
  /// attempt went out on, which report() and skip() then feed.
  void use_breaker(shared_breaker* breaker, bool probe) {
    attempt_breaker_ = breaker;
    in_flight_probe_ = probe;
  }
  /// The caller made the first attempt, on candidate 0, before this chain existed,
  /// having admitted it on that candidate's breaker itself (`probe`: the admission's
  /// flag). The chain takes it over as if next_attempt() had handed it out: report()
  /// and skip() then judge it. A call whose first attempt answers needs no chain.
  void adopt_first_attempt(bool probe);
  bool done() const { return result_.what != chain_result::pending; }
  const chain_result& result() const { return result_; }
  const std::vector<fallback_candidate>& candidates() const { return candidates_; }

 private:
  void move_on(const std::string& why, bool heals_with_time);
  void finish_exhausted();
  shared_breaker* breaker_of(size_t i);

  std::vector<fallback_candidate> candidates_;
  std::vector<shared_breaker*> breaker_cache_;
  shared_breaker* attempt_breaker_ = nullptr;  // per_key candidates: the key's breaker
  int requested_tier_rank_;
  breaker_registry* breakers_;
  retry_state retry_;
  size_t pos_ = 0;
  bool in_flight_ = false;
  bool in_flight_probe_ = false;
  clock_time pending_delay_{0};
  uint32_t min_context_ = 0;
  bool any_heals_with_time_ = false;
  std::string last_kind_;
  clock_time soonest_admit_ = clock_time::max();
  std::string log_;
  chain_result result_;
};

}  // namespace switchyard
