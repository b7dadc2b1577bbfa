#pragma once
// When to look again at blocked runs. Plain class, no CAF, time passed in: the
// resumer actor owns one and asks it what to do at each tick.
//
// Blocked runs are grouped by the provider they wait for (a blocked run holds only
// its id here, ~50 bytes). Each provider has a next probe time and a backoff: the
// first probe is after max(backoff, the provider's own hint, e.g. Retry-After), each
// probe that finds the provider still down doubles the backoff up to the cap, and a
// probe that finds it up hands back every run waiting for it and resets the backoff.
// Not thread-safe (one owner).

#include <chrono>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace switchyard {

class resume_schedule {
 public:
  using clock_type = std::chrono::steady_clock;
  using time_point = clock_type::time_point;
  using ms = std::chrono::milliseconds;

  resume_schedule(ms initial_backoff, ms max_backoff);

  /// A run blocked on `provider`; `hint` is when the provider expects to be back
  /// (0 when unknown). A run already waiting is not added twice.
  void park(const std::string& run_id, const std::string& provider, time_point now, ms hint);

  /// Providers whose probe is due at `now`. Each is leased until `now` + its backoff,
  /// so it is not probed twice while one probe is out.
  std::vector<std::string> due(time_point now);

  /// The probe found `provider` up: every run waiting for it, to re-drive. Forgets it.
  std::vector<std::string> provider_up(const std::string& provider);
  /// The probe found it down; `hint` is how long it says it will stay down (0: unknown).
  void provider_down(const std::string& provider, time_point now, ms hint);

  /// Takes `run_id` out (resumed on command). False when it was not waiting.
  bool take(const std::string& run_id);
  /// Takes every waiting run out.
  std::vector<std::string> take_all();

  size_t blocked_runs() const { return runs_.size(); }
  bool is_waiting(const std::string& run_id) const;
  /// The earliest next probe, or time_point::max() when nothing waits.
  time_point next_probe() const;
  /// The backoff `provider` is at (initial when unknown).
  ms backoff_of(const std::string& provider) const;

 private:
  struct waiting {
    size_t runs = 0;
    time_point next_probe;
    ms backoff;
  };
  ms initial_;
  ms max_;
  std::map<std::string, waiting> providers_;
  std::unordered_map<std::string, std::string> runs_;  // run id -> provider
};

}  // namespace switchyard
