#include "router/circuit_breaker.hpp"

#include <algorithm>
#include <chrono>

namespace switchyard {

using std::chrono::milliseconds;

bool breaker_outcome_for(const std::string& kind, call_outcome& out) {
  if (kind.empty()) {
    out = call_outcome::success;
    return true;
  }
  if (kind == "timeout" || kind == "connection" || kind == "server_error" || kind == "overloaded" ||
      kind == "auth") {
    out = call_outcome::failure;
    return true;
  }
  if (kind == "bad_response") {
    out = call_outcome::semantic_failure;
    return true;
  }
  return false;
}

std::string to_string(breaker_state x) {
  switch (x) {
    case breaker_state::closed:
      return "closed";
    case breaker_state::open:
      return "open";
    case breaker_state::half_open:
      return "half_open";
  }
  return "closed";
}

circuit_breaker::circuit_breaker(breaker_settings settings)
    : settings_(settings),
      bucket_width_(milliseconds(std::max<uint32_t>(settings.window_ms / buckets, 1))),
      open_duration_(milliseconds(settings.open_ms)) {}

circuit_breaker::bucket& circuit_breaker::bucket_for(clock_time now) {
  int64_t index = now.count() / bucket_width_.count();
  bucket& b = window_[static_cast<size_t>(index % buckets)];
  if (b.index != index) b = bucket{index, 0, 0};
  return b;
}

uint32_t circuit_breaker::window_calls(clock_time now) const {
  int64_t current = now.count() / bucket_width_.count();
  uint32_t n = 0;
  for (const auto& b : window_) {
    if (b.index > current - buckets && b.index <= current) n += b.calls;
  }
  return n;
}

uint32_t circuit_breaker::window_failures(clock_time now) const {
  int64_t current = now.count() / bucket_width_.count();
  uint32_t n = 0;
  for (const auto& b : window_) {
    if (b.index > current - buckets && b.index <= current) n += b.failures;
  }
  return n;
}

void circuit_breaker::clear_window() {
  window_.fill(bucket{});
}

void circuit_breaker::trip(clock_time now) {
  state_ = breaker_state::open;
  open_until_ = now + open_duration_;
  probe_in_flight_ = false;
  clear_window();
}

breaker_admission circuit_breaker::admit(clock_time now) {
  if (state_ == breaker_state::closed) return {true, false, clock_time{0}};
  if (state_ == breaker_state::open) {
    if (now < open_until_) return {false, false, open_until_ - now};
    state_ = breaker_state::half_open;
    probe_in_flight_ = false;
  }
  // half-open: one probe at a time; a probe that never reported frees its slot.
  if (probe_in_flight_ && now < probe_deadline_) return {false, false, probe_deadline_ - now};
  probe_in_flight_ = true;
  probe_deadline_ = now + milliseconds(settings_.probe_timeout_ms);
  return {true, true, clock_time{0}};
}

void circuit_breaker::open_now(clock_time now, bool probe) {
  if (probe) {
    report(call_outcome::failure, now, true);
    return;
  }
  if (state_ == breaker_state::closed) trip(now);
}

void circuit_breaker::report(call_outcome outcome, clock_time now, bool probe) {
  bool failed = outcome != call_outcome::success;
  if (probe) {
    if (state_ != breaker_state::half_open || !probe_in_flight_) return;  // stale probe
    if (failed) {
      auto cap = clock_time(milliseconds(settings_.max_open_ms));
      open_duration_ = std::min(open_duration_ * 2, cap);
      trip(now);
    } else {
      state_ = breaker_state::closed;
      probe_in_flight_ = false;
      open_duration_ = milliseconds(settings_.open_ms);
      clear_window();
    }
    return;
  }
  if (state_ != breaker_state::closed) return;  // evidence from before it opened
  bucket& b = bucket_for(now);
  ++b.calls;
  if (failed) ++b.failures;
  if (!failed) return;
  uint32_t calls = window_calls(now);
  if (calls < settings_.min_calls) return;
  if (static_cast<double>(window_failures(now)) >= settings_.failure_rate * calls) trip(now);
}

breaker_state circuit_breaker::state(clock_time now) const {
  if (state_ == breaker_state::open && now >= open_until_) return breaker_state::half_open;
  return state_;
}

shared_breaker& breaker_registry::get(const endpoint_id& endpoint) {
  std::string key = endpoint.str();
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    auto it = index_.find(key);
    if (it != index_.end()) return *it->second;
  }
  std::unique_lock<std::shared_mutex> lock(mutex_);
  auto it = index_.find(key);
  if (it != index_.end()) return *it->second;
  breakers_.emplace_back(settings_);
  index_.emplace(std::move(key), &breakers_.back());
  return breakers_.back();
}

std::vector<std::pair<std::string, breaker_state>> breaker_registry::snapshot(
    clock_time now) const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  std::vector<std::pair<std::string, breaker_state>> out;
  out.reserve(index_.size());
  for (const auto& [key, breaker] : index_) out.emplace_back(key, breaker->state(now));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace switchyard
