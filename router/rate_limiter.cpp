#include "router/rate_limiter.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace switchyard {

using std::chrono::milliseconds;

namespace {
constexpr double ns_per_minute = 60e9;
}  // namespace

std::string to_string(latency_class x) {
  switch (x) {
    case latency_class::realtime:
      return "realtime";
    case latency_class::interactive:
      return "interactive";
    case latency_class::batch:
      return "batch";
  }
  return "interactive";
}

bool parse_latency_class(const std::string& text, latency_class& out) {
  if (text == "realtime") {
    out = latency_class::realtime;
  } else if (text == "interactive") {
    out = latency_class::interactive;
  } else if (text == "batch") {
    out = latency_class::batch;
  } else {
    return false;
  }
  return true;
}

clock_time deadline_for(latency_class cls, const latency_deadlines& d) {
  switch (cls) {
    case latency_class::realtime:
      return milliseconds(d.realtime_ms);
    case latency_class::interactive:
      return milliseconds(d.interactive_ms);
    case latency_class::batch:
      return milliseconds(d.batch_ms);
  }
  return milliseconds(d.interactive_ms);
}

bool wait_allowed(latency_class cls, clock_time waited, clock_time wait,
                  const latency_deadlines& deadlines) {
  return waited + wait <= deadline_for(cls, deadlines);
}

token_bucket::token_bucket(double per_minute, clock_time now)
    : capacity_(per_minute), per_ns_(per_minute / ns_per_minute), level_(per_minute), last_(now) {}

void token_bucket::refill(clock_time now) {
  if (now <= last_) return;  // a caller with an older reading must not refill twice
  level_ = std::min(capacity_, level_ + static_cast<double>((now - last_).count()) * per_ns_);
  last_ = now;
}

clock_time token_bucket::time_until(double amount) const {
  if (level_ >= amount) return clock_time{0};
  return clock_time{static_cast<int64_t>(std::ceil((amount - level_) / per_ns_))};
}

void token_bucket::give_back(double amount) {
  level_ = std::min(capacity_, level_ + amount);
}

rate_limiter::rate_limiter(std::vector<key_limits> keys, clock_time now) {
  if (keys.empty()) throw std::invalid_argument("rate_limiter: needs at least one key");
  if (keys.size() > 64) throw std::invalid_argument("rate_limiter: at most 64 keys");
  keys_.reserve(keys.size());
  for (auto& k : keys) {
    if (k.requests_per_minute == 0 || k.tokens_per_minute == 0) {
      throw std::invalid_argument("rate_limiter: key '" + k.key +
                                  "' needs requests_per_minute > 0 and tokens_per_minute > 0");
    }
    keys_.push_back(key_state{std::move(k.key), token_bucket(k.requests_per_minute, now),
                              token_bucket(static_cast<double>(k.tokens_per_minute), now)});
  }
}

rate_grant rate_limiter::acquire(uint32_t estimated_tokens, clock_time now, key_mask excluded) {
  std::lock_guard<std::mutex> lock(mutex_);
  const double need = estimated_tokens;
  size_t best = keys_.size();
  double best_headroom = -1;
  clock_time soonest = clock_time::max();
  bool fits_some_key = false;
  bool any_eligible = false;
  for (size_t i = 0; i < keys_.size(); ++i) {
    key_state& k = keys_[i];
    k.requests.refill(now);
    k.tokens.refill(now);
    if (need > k.tokens.capacity()) continue;
    fits_some_key = true;
    if ((excluded & key_bit(i)) != 0) continue;
    any_eligible = true;
    if (k.throttled_until > now) {
      soonest = std::min(soonest, k.throttled_until - now);
      continue;
    }
    if (k.requests.level() >= 1 && k.tokens.level() >= need) {
      double headroom = std::min((k.requests.level() - 1) / k.requests.capacity(),
                                 (k.tokens.level() - need) / k.tokens.capacity());
      if (headroom > best_headroom) {
        best_headroom = headroom;
        best = i;
      }
    } else {
      soonest = std::min(soonest, std::max(k.requests.time_until(1), k.tokens.time_until(need)));
    }
  }
  rate_grant grant;
  if (best < keys_.size()) {
    keys_[best].requests.take(1);
    keys_[best].tokens.take(need);
    grant.granted = true;
    grant.key_index = best;
    grant.reserved_tokens = estimated_tokens;
    return grant;
  }
  grant.impossible = !fits_some_key;
  grant.all_excluded = fits_some_key && !any_eligible;
  grant.wait = fits_some_key && any_eligible ? soonest : clock_time{0};
  return grant;
}

void rate_limiter::cancel(const rate_grant& grant, clock_time now) {
  if (!grant.granted || grant.key_index >= keys_.size()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  key_state& k = keys_[grant.key_index];
  k.requests.refill(now);
  k.tokens.refill(now);
  k.requests.give_back(1);
  k.tokens.give_back(grant.reserved_tokens);
}

void rate_limiter::throttle(size_t index, clock_time until) {
  if (index >= keys_.size()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  keys_[index].throttled_until = std::max(keys_[index].throttled_until, until);
}

void rate_limiter::settle(const rate_grant& grant, uint32_t actual_tokens, clock_time now) {
  if (!grant.granted || grant.key_index >= keys_.size()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  token_bucket& tokens = keys_[grant.key_index].tokens;
  tokens.refill(now);
  if (actual_tokens > grant.reserved_tokens) {
    tokens.take(actual_tokens - grant.reserved_tokens);
  } else {
    tokens.give_back(grant.reserved_tokens - actual_tokens);
  }
}

}  // namespace switchyard
