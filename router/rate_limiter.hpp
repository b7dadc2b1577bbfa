#pragma once
// Client-side rate limits of one provider, plain class, no CAF, thread-safe.
//
// Each API key has two token buckets: requests per minute and tokens per minute
// (prompt plus completion). A bucket holds at most its per-minute limit and refills
// continuously at limit / 60 s, so over any interval T a key is granted at most
// limit + limit * T / 60 s, and never more than the limit in a burst.
//
// acquire() takes one request and the *estimated* tokens from the key with the most
// headroom (the smaller of its two buckets' free shares), which spreads load over the
// keys. settle() corrects the token bucket with the actual usage once the call
// returns: a refund when the estimate was high, a debit (the bucket may go below zero,
// delaying later calls) when it was low. When no key can take the call, acquire()
// says how long until one can; the caller waits up to its latency class's deadline
// (wait_allowed()) and otherwise fails the call as rate_limited.
//
// Cost: one mutex and O(keys) arithmetic per call, no allocation.

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/clock.hpp"
#include "runtime/resilience_settings.hpp"

namespace switchyard {

enum class latency_class { realtime, interactive, batch };

std::string to_string(latency_class x);
/// "realtime", "interactive", "batch"; false for anything else.
bool parse_latency_class(const std::string& text, latency_class& out);

/// The longest a request of `cls` may wait for a rate-limit slot.
clock_time deadline_for(latency_class cls, const latency_deadlines& deadlines);

/// May a request that has already waited `waited` wait `wait` more? True when the total
/// stays within its class deadline.
bool wait_allowed(latency_class cls, clock_time waited, clock_time wait,
                  const latency_deadlines& deadlines);

struct key_limits {
  std::string key;  // the key's name (never the secret)
  uint32_t requests_per_minute = 0;
  uint64_t tokens_per_minute = 0;
};

/// A continuously refilling bucket. Not thread-safe (rate_limiter locks around it).
class token_bucket {
 public:
  token_bucket(double per_minute, clock_time now);
  /// Refills up to capacity for the time since the last call.
  void refill(clock_time now);
  double level() const { return level_; }
  double capacity() const { return capacity_; }
  /// Time until `amount` is available (0 when it already is). Assumes refill(now).
  clock_time time_until(double amount) const;
  void take(double amount) { level_ -= amount; }
  void give_back(double amount);

 private:
  double capacity_;
  double per_ns_;
  double level_;
  clock_time last_;
};

struct rate_grant {
  bool granted = false;
  /// The call can never fit: it needs more tokens than a key's whole per-minute limit.
  bool impossible = false;
  /// Every key that could hold the call is in the `excluded` mask: waiting won't help.
  bool all_excluded = false;
  size_t key_index = 0;  // which key, when granted
  uint32_t reserved_tokens = 0;
  clock_time wait{0};  // when not granted: until a key can take it
};

/// A set of key indexes (bit i: key i). Providers have at most 64 keys (the config
/// loader enforces it).
using key_mask = uint64_t;
inline key_mask key_bit(size_t index) {
  return key_mask{1} << index;
}

class rate_limiter {
 public:
  /// Every key must have requests_per_minute > 0 and tokens_per_minute > 0; at most 64.
  rate_limiter(std::vector<key_limits> keys, clock_time now);

  /// Takes a slot from the key with the most headroom among those not in `excluded`
  /// (keys whose breaker is open, keys that already failed this call). When every
  /// key is excluded the grant is neither granted nor impossible and `wait` is 0.
  rate_grant acquire(uint32_t estimated_tokens, clock_time now, key_mask excluded = 0);
  /// Corrects the granted key's token bucket from the call's actual usage.
  void settle(const rate_grant& grant, uint32_t actual_tokens, clock_time now);
  /// Gives a grant back whole (its request and its tokens): the call was not sent.
  void cancel(const rate_grant& grant, clock_time now);
  /// The provider answered 429 on this key: it grants nothing until `until` (the
  /// Retry-After), while the other keys go on.
  void throttle(size_t index, clock_time until);
  const std::string& key_name(size_t index) const { return keys_[index].key; }
  size_t key_count() const { return keys_.size(); }

 private:
  struct key_state {
    std::string key;
    token_bucket requests;
    token_bucket tokens;
    clock_time throttled_until{0};
  };
  std::mutex mutex_;
  std::vector<key_state> keys_;
};

}  // namespace switchyard
