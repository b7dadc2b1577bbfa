#pragma once
// An injectable clock, so time-driven decisions (breakers, rate limiters, retry budgets,
// cache TTLs) are tested by moving a manual clock instead of sleeping.
//
// `now()` is a duration since the clock's own epoch. For `steady_clock_source` that is
// the steady clock's epoch (monotonic, meaningless across processes); for
// `wall_clock_source` it is the Unix epoch, which is what anything persisted (the
// response cache's TTLs) must use. All implementations are thread-safe.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace switchyard {

using clock_time = std::chrono::nanoseconds;

class clock_source {
 public:
  virtual ~clock_source() = default;
  /// Current time since this clock's epoch. Never goes backwards for steady and
  /// manual clocks.
  virtual clock_time now() const = 0;
};

/// std::chrono::steady_clock: monotonic, for in-process deadlines and windows.
class steady_clock_source final : public clock_source {
 public:
  clock_time now() const override {
    return std::chrono::duration_cast<clock_time>(
        std::chrono::steady_clock::now().time_since_epoch());
  }
};

/// std::chrono::system_clock since the Unix epoch: for state that outlives the process.
class wall_clock_source final : public clock_source {
 public:
  clock_time now() const override {
    return std::chrono::duration_cast<clock_time>(
        std::chrono::system_clock::now().time_since_epoch());
  }
};

/// A clock that moves only when told to. For tests and simulations.
class manual_clock final : public clock_source {
 public:
  explicit manual_clock(clock_time start = clock_time{0}) : ns_(start.count()) {}
  clock_time now() const override { return clock_time{ns_.load(std::memory_order_acquire)}; }
  void advance(clock_time by) { ns_.fetch_add(by.count(), std::memory_order_acq_rel); }
  void set(clock_time to) { ns_.store(to.count(), std::memory_order_release); }

 private:
  std::atomic<int64_t> ns_;
};

}  // namespace switchyard
