#pragma once
// The cost report of a batch of runs (printed by `switchyard run support`): model
// calls, tokens and USD per tier, routing distribution, route accuracy against
// expected routes, p50/p99 run latency, and what the same calls would have cost on
// the frontier tier alone.
//
// The all-frontier figure reprices every call actually made — the same input and
// output tokens — at the cheapest model of the config's top tier. It leaves out what
// a frontier-only deployment would do differently (no cheaper steps to skip, longer
// answers), so it compares prices for the same work, nothing more.

#include <cstddef>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "runtime/config.hpp"
#include "runtime/messages.hpp"

namespace switchyard {

/// One run as the report sees it.
struct report_run {
  run_status status = run_status::completed;
  std::string reason;  // escalation reason or failure kind
  double latency_ms = 0;
  std::vector<model_usage> calls;  // every model call the run made
  std::string route;               // the route picked, "" when none was
  std::string agent;               // the worker that served it
  bool has_expected = false;
  std::string expected_route;  // "" with has_expected: must be rejected
  bool rejected = false;       // the ticket was refused as malformed
};

class cost_report {
 public:
  explicit cost_report(const config& cfg);

  void add(const report_run& run);

  size_t runs() const { return runs_; }
  /// Correct routes over tickets with a non-empty expected route (0 when none).
  double route_accuracy() const;
  size_t routed_expected() const { return expected_; }
  size_t routed_correct() const { return correct_; }
  /// Malformed tickets (expected "") that were rejected, and how many there were.
  size_t malformed_rejected() const { return malformed_rejected_; }
  size_t malformed() const { return malformed_; }
  double cost_usd() const;
  double all_frontier_usd() const { return frontier_usd_; }
  /// 1 - cost / all-frontier cost (0 when nothing was spent).
  double saving() const;
  double latency_percentile(double p) const;
  /// The model the all-frontier figure is priced at ("" without a top tier).
  const std::string& frontier_model() const { return frontier_model_; }

  /// The report for people, several lines.
  std::string text() const;
  /// The same figures as one JSON object.
  nlohmann::json to_json() const;

 private:
  struct tier_totals {
    size_t calls = 0;
    uint64_t input_tokens = 0;
    uint64_t output_tokens = 0;
    double usd = 0;
  };
  std::vector<std::string> tiers_;
  std::string frontier_model_;
  double frontier_in_ = 0;
  double frontier_out_ = 0;
  size_t runs_ = 0;
  std::map<std::string, size_t> statuses_;
  std::map<std::string, tier_totals> by_tier_;
  std::map<std::string, size_t> by_route_;
  std::map<std::string, size_t> by_agent_;
  std::vector<std::pair<std::string, std::string>> misrouted_;  // expected, got
  size_t expected_ = 0;
  size_t correct_ = 0;
  size_t malformed_ = 0;
  size_t malformed_rejected_ = 0;
  double frontier_usd_ = 0;
  std::vector<double> latencies_;
};

}  // namespace switchyard
