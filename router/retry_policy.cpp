#include "router/retry_policy.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace switchyard {

using std::chrono::milliseconds;

error_action classify_error(const std::string& kind) {
  if (kind == "rate_limited" || kind == "overloaded" || kind == "server_error" ||
      kind == "timeout" || kind == "connection" || kind == "bad_response") {
    return error_action::retry;
  }
  if (kind == "context_length") return error_action::larger_window;
  if (kind == "auth") return error_action::next_candidate;
  return error_action::fail;
}

std::string to_string(error_action x) {
  switch (x) {
    case error_action::retry:
      return "retry";
    case error_action::larger_window:
      return "larger_window";
    case error_action::next_candidate:
      return "next_candidate";
    case error_action::fail:
      return "fail";
  }
  return "fail";
}

uint64_t jitter_rng::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

retry_state::retry_state(const retry_settings& settings, clock_time start, uint64_t seed)
    : settings_(settings),
      start_(start),
      max_total_(milliseconds(settings.max_total_ms)),
      rng_(seed) {}

clock_time retry_state::backoff(uint32_t n) {
  double ms = settings_.base_delay_ms * std::ldexp(1.0, static_cast<int>(std::min(n, 40u)) - 1);
  ms = std::min(ms, static_cast<double>(settings_.max_delay_ms));
  double factor = 1.0 - settings_.jitter + 2.0 * settings_.jitter * rng_.uniform();
  return std::chrono::duration_cast<clock_time>(
      std::chrono::duration<double, std::milli>(ms * factor));
}

retry_decision retry_state::on_error(const std::string& kind, uint32_t retry_after_ms,
                                     clock_time now) {
  switch (classify_error(kind)) {
    case error_action::larger_window:
      return {retry_decision::larger_window, clock_time{0}};
    case error_action::next_candidate:
      return {retry_decision::next_candidate, clock_time{0}};
    case error_action::fail:
      return {retry_decision::fail, clock_time{0}};
    case error_action::retry:
      break;
  }
  if (attempts_ >= settings_.max_attempts) return {retry_decision::exhausted, clock_time{0}};
  clock_time delay = backoff(attempts_);
  if (retry_after_ms > 0) {
    double floor_ms = retry_after_ms * (1.0 + settings_.jitter * rng_.uniform());
    delay = std::max(delay, std::chrono::duration_cast<clock_time>(
                                std::chrono::duration<double, std::milli>(floor_ms)));
  }
  if (now + delay - start_ > max_total_) return {retry_decision::exhausted, clock_time{0}};
  ++attempts_;
  return {retry_decision::retry_same, delay};
}

}  // namespace switchyard
