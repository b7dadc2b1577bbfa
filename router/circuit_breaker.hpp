#pragma once
// Circuit breaker per endpoint (model x provider x key), plain class, no CAF.
//
// States: closed (calls flow; outcomes are counted in a sliding window), open (calls
// are refused), half-open (exactly one probe call is let through).
// - closed -> open when the window holds at least `min_calls` calls and the share of
//   failures (failure + semantic_failure) reaches `failure_rate`.
// - open -> half-open once the open time has passed; the next admit() is the probe.
// - probe success -> closed (window cleared, open time back to `open_ms`).
// - probe failure -> open again for twice the previous open time, capped at
//   `max_open_ms` (30 s, 60 s, 120 s, 240 s, 300 s, 300 s ... with the defaults).
// The window is 10 buckets of window_ms / 10, so it slides in 10 % steps and costs
// O(1) per call with no allocation.
//
// Usage: `auto a = breaker.admit(now); if (!a.allowed) skip (retry in a.retry_in);
// ... call ...; breaker.report(outcome, now, a.probe);`. Outcomes of calls admitted
// while closed that arrive after the breaker opened are ignored: the breaker already
// acted on that evidence.
//
// circuit_breaker is not thread-safe; breaker_registry hands out synchronized ones.

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/clock.hpp"
#include "runtime/resilience_settings.hpp"

namespace switchyard {

/// What the caller saw. semantic_failure: the endpoint answered 200 but the answer is
/// unusable (empty output, unparseable JSON when JSON was asked, an error inside a 200).
enum class call_outcome { success, failure, semantic_failure };

/// How a model_error kind bears on endpoint health: "" -> success; timeout,
/// connection, server_error, overloaded, auth -> failure; bad_response ->
/// semantic_failure; everything else (rate_limited, bad_request, context_length,
/// content_filter, budget_exhausted, no_model) says nothing about the endpoint's
/// health and returns false (do not report). A 429 is the rate limiter's business.
bool breaker_outcome_for(const std::string& error_kind, call_outcome& out);

enum class breaker_state { closed, open, half_open };

std::string to_string(breaker_state x);

struct breaker_admission {
  bool allowed = false;
  bool probe = false;      // this call is the half-open probe; pass it to report()
  clock_time retry_in{0};  // when refused: time until the breaker may admit again
};

class circuit_breaker {
 public:
  explicit circuit_breaker(breaker_settings settings = {});

  /// May a call go now? Moves open -> half-open when the open time has passed.
  breaker_admission admit(clock_time now);
  /// Records the outcome of an admitted call. `probe` is the admission's flag.
  void report(call_outcome outcome, clock_time now, bool probe);
  /// A failure that proves the endpoint unusable by itself (its API key was
  /// rejected): opens at once instead of waiting for the window's failure rate. A
  /// failed probe doubles the open time as usual; an open breaker stays as it is.
  void open_now(clock_time now, bool probe);
  /// State at `now` (an open breaker whose time is up reads as half_open).
  breaker_state state(clock_time now) const;
  /// Closed, whatever the time: admit() lets every call through.
  bool closed() const { return state_ == breaker_state::closed; }
  /// While open: time until it lets a probe through; 0 otherwise.
  clock_time open_remaining(clock_time now) const {
    return state_ == breaker_state::open && now < open_until_ ? open_until_ - now : clock_time{0};
  }
  /// The open time that applies the next time the breaker opens (for tests/metrics).
  clock_time current_open_duration() const { return open_duration_; }
  /// Calls and failures currently in the window.
  uint32_t window_calls(clock_time now) const;
  uint32_t window_failures(clock_time now) const;

 private:
  static constexpr int buckets = 10;
  struct bucket {
    int64_t index = -1;  // which bucket_width slot of time it counts
    uint32_t calls = 0;
    uint32_t failures = 0;
  };

  bucket& bucket_for(clock_time now);
  void trip(clock_time now);
  void clear_window();

  breaker_settings settings_;
  clock_time bucket_width_;
  std::array<bucket, buckets> window_{};
  breaker_state state_ = breaker_state::closed;
  clock_time open_until_{0};
  clock_time open_duration_;
  bool probe_in_flight_ = false;
  clock_time probe_deadline_{0};
};

/// Identifies an endpoint. `key` names the API key (not the secret itself).
struct endpoint_id {
  std::string model;
  std::string provider;
  std::string key;

  std::string str() const { return model + "|" + provider + "|" + key; }
};

/// A circuit_breaker with its own mutex. admit/report take the lock for a few dozen ns.
class shared_breaker {
 public:
  explicit shared_breaker(breaker_settings s) : breaker_(s) {}
  breaker_admission admit(clock_time now) {
    // A closed breaker admits every call: no lock for the common case. A call that
    // races with a report opening it counts as admitted just before.
    if (closed_.load(std::memory_order_acquire)) return {true, false, clock_time{0}};
    std::lock_guard<std::mutex> lock(mutex_);
    auto admission = breaker_.admit(now);
    publish();
    return admission;
  }
  void report(call_outcome o, clock_time now, bool probe) {
    std::lock_guard<std::mutex> lock(mutex_);
    breaker_.report(o, now, probe);
    publish();
  }
  void open_now(clock_time now, bool probe) {
    std::lock_guard<std::mutex> lock(mutex_);
    breaker_.open_now(now, probe);
    publish();
  }
  breaker_state state(clock_time now) const {
    if (closed_.load(std::memory_order_acquire)) return breaker_state::closed;
    std::lock_guard<std::mutex> lock(mutex_);
    return breaker_.state(now);
  }
  clock_time open_remaining(clock_time now) const {
    if (closed_.load(std::memory_order_acquire)) return clock_time{0};
    std::lock_guard<std::mutex> lock(mutex_);
    return breaker_.open_remaining(now);
  }

 private:
  // Called with the lock held, after every change of the breaker.
  void publish() { closed_.store(breaker_.closed(), std::memory_order_release); }

  mutable std::mutex mutex_;
  circuit_breaker breaker_;
  // Whether breaker_ is closed, readable without the lock: every call asks the health
  // filter (state) and admit, and a breaker is closed nearly always.
  std::atomic<bool> closed_{true};
};

/// All breakers, keyed by endpoint. Thread-safe. get() returns a reference that stays
/// valid for the registry's lifetime (breakers are never removed), so hot paths look
/// an endpoint up once and keep the reference; the lookup itself takes a shared lock
/// and one hash of the key.
class breaker_registry {
 public:
  explicit breaker_registry(breaker_settings settings = {}) : settings_(settings) {}
  shared_breaker& get(const endpoint_id& endpoint);
  /// Every endpoint's state at `now`, sorted by key, for health endpoints and metrics.
  std::vector<std::pair<std::string, breaker_state>> snapshot(clock_time now) const;

 private:
  breaker_settings settings_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, shared_breaker*> index_;
  std::deque<shared_breaker> breakers_;  // deque: stable addresses on growth
};

}  // namespace switchyard
