#pragma once
// Step timeouts without a timer per step.
//
// A CAF request timeout costs a round trip to CAF's clock thread for every step
// (a futex wake and two map updates), which halved the throughput of a bare-CAF
// baseline. Instead, each run registers once with the watchdog and publishes the
// start time of its oldest open step in an atomic; one ticking actor per engine scans
// the table and pokes only the runs whose oldest step is overdue. The run actor then
// checks its own steps and fails the run if one really is late.
//
// Thread-safe: registration and scans take a mutex; publishing a start time is a
// relaxed atomic store by the run's own actor.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "caf/actor.hpp"
#include "caf/actor_addr.hpp"

namespace switchyard {

class step_watchdog {
 public:
  using clock_type = std::chrono::steady_clock;

  /// One run's entry. The run's actor owns it (inside its state, so no allocation)
  /// and is its only writer; it must not move while registered.
  /// 24 bytes: ten thousand runs may be in flight, each with one.
  struct watch {
    caf::actor_addr run;  // weak: the run actor owns this entry, not the other way round
    /// Start of the oldest open step as clock_type ticks since epoch; 0 when no step
    /// is open.
    std::atomic<int64_t> oldest_open{0};
    std::chrono::duration<uint32_t, std::milli> timeout{0};  // config's step_timeout_ms
    /// Its place in the watchdog's table (no_slot when not in it), kept by the watchdog
    /// under its mutex: in the padding after `timeout`, so still 24 bytes.
    uint32_t slot = no_slot;
    static constexpr uint32_t no_slot = UINT32_MAX;

    void set_oldest_open(clock_type::time_point t) {
      oldest_open.store(t.time_since_epoch().count(), std::memory_order_relaxed);
    }
    void clear() { oldest_open.store(0, std::memory_order_relaxed); }
  };

  /// Removes the watch from the table when destroyed.
  class registration {
   public:
    registration() = default;
    registration(step_watchdog* owner, watch* w);
    registration(registration&& other) noexcept;
    registration& operator=(registration&&) noexcept;
    ~registration();
    watch* operator->() const { return watch_; }
    explicit operator bool() const { return watch_ != nullptr; }

   private:
    void reset();
    step_watchdog* owner_ = nullptr;
    watch* watch_ = nullptr;
  };

  /// Fills in `w` and puts it in the table until the registration is destroyed.
  /// `timeout` is kept in whole milliseconds.
  registration add(watch& w, caf::actor_addr run, std::chrono::nanoseconds timeout);

  /// add() for an owner that removes `w` itself (with remove()) before `w` goes away:
  /// it then keeps no registration, 16 bytes less per watch.
  void insert(watch& w, caf::actor_addr run, std::chrono::nanoseconds timeout);
  /// Takes `w` out of the table; nothing happens when it is not in it.
  void remove(watch& w) { remove(&w); }

  /// The runs whose oldest open step started more than their timeout before `now`.
  std::vector<caf::actor_addr> overdue(clock_type::time_point now) const;

  size_t size() const;

 private:
  void remove(watch* w);
  mutable std::mutex mutex_;
  // Every registered watch; each knows its place (watch::slot), so a run registers and
  // leaves without a hash or a node allocated and freed (a hash set cost both per run).
  std::vector<watch*> watches_;
};

static_assert(sizeof(step_watchdog::watch) <= 24, "a run holds one watch: keep it 24 bytes");

}  // namespace switchyard
