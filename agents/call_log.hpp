#pragma once
// Per-call usage of the support swarm's model calls, by run id, for the cost report.
// A run's transcript sums the calls of each step (a step may make a local summary
// call and a frontier call), so the report takes each call's model, tier and tokens
// from here instead. The agents record every answered call; whoever awaited the run
// takes its calls once the run ended. Thread-safe (one mutex).

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/messages.hpp"

namespace switchyard {

class call_log {
 public:
  /// Adds one call of run `run_id` (calls with no model, i.e. never sent, are skipped).
  void record(const std::string& run_id, const model_usage& usage);
  /// The calls of `run_id` in the order recorded; forgets them.
  std::vector<model_usage> take(const std::string& run_id);
  size_t runs() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::vector<model_usage>> calls_;
};

}  // namespace switchyard
