#pragma once
// Retry decisions for one request, plain class, no CAF.
//
// classify_error() sorts runtime/messages.hpp model_error kinds:
// - retry: rate_limited, overloaded, server_error, timeout, connection, bad_response
//   (the same call may succeed a moment later);
// - larger_window: context_length (retrying the same model is pointless; move to a
//   model with a larger context window);
// - next_candidate: auth (this key/provider is unusable; another provider may work);
// - fail: bad_request, content_filter, budget_exhausted, no_model and unknown kinds
//   (any model would refuse the same request).
//
// retry_state::on_error() decides whether to call the same endpoint again and when.
// Backoff for retry n (n = 1 for the first retry) is base * 2^(n-1), capped at
// max_delay, times a uniform factor in [1 - jitter, 1 + jitter]. A Retry-After is a
// floor: the delay is max(backoff, retry_after * (1 + u * jitter)), u uniform in
// [0, 1): never earlier than the server asked, and spread *above* it so clients told
// the same Retry-After do not return in lockstep. The budget per request is
// max_attempts per endpoint and max_total_ms overall, counted from the request start.
//
// The jitter RNG is a splitmix64 seeded by the caller (e.g. from the call id), so a
// request's delays are reproducible and two requests differ. Not thread-safe: one
// request, one owner. Cost: a few ns per decision, no allocation.

#include <cstdint>
#include <string>

#include "runtime/clock.hpp"
#include "runtime/resilience_settings.hpp"

namespace switchyard {

enum class error_action { retry, larger_window, next_candidate, fail };

error_action classify_error(const std::string& kind);

std::string to_string(error_action x);

/// splitmix64: tiny, fast, good enough for jitter.
class jitter_rng {
 public:
  explicit jitter_rng(uint64_t seed) : state_(seed) {}
  uint64_t next();
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

struct retry_decision {
  enum kind {
    retry_same,      // call the same endpoint again after `delay`
    exhausted,       // retriable error, but the attempt or time budget is spent
    larger_window,   // context_length: move to a model with a larger window
    next_candidate,  // this endpoint cannot serve (auth): try another
    fail             // non-retriable: stop
  };
  kind what = fail;
  clock_time delay{0};
};

class retry_state {
 public:
  /// `start` is when the request began; the time budget counts from there.
  retry_state(const retry_settings& settings, clock_time start, uint64_t seed);

  /// Decides after a failed attempt on the current endpoint. `retry_after_ms` is the
  /// server's Retry-After (0: none).
  retry_decision on_error(const std::string& kind, uint32_t retry_after_ms, clock_time now);
  /// Starting on another endpoint resets the per-endpoint attempt count (not the time
  /// budget).
  void next_endpoint() { attempts_ = 1; }
  /// The backoff before retry `n` (1-based), jitter included, without Retry-After.
  clock_time backoff(uint32_t n);
  /// True while the request's time budget is not spent at `now`.
  bool within_time_budget(clock_time now) const { return now - start_ <= max_total_; }
  uint32_t attempts() const { return attempts_; }

 private:
  retry_settings settings_;
  clock_time start_;
  clock_time max_total_;
  uint32_t attempts_ = 1;  // attempts made on the current endpoint, the first included
  jitter_rng rng_;
};

}  // namespace switchyard
