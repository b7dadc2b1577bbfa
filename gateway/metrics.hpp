#pragma once
// The gateway's Prometheus metrics: counters and latency histograms keyed by label
// values, rendered in the text exposition format (version 0.0.4) for GET /metrics.
// Thread-safe (one mutex; every update is a few map operations, well under a
// microsecond, so I/O threads and actors can both record).
//
// What is counted is what the gateway itself sees: HTTP requests by endpoint and
// status, model calls by tier/model/route with tokens and cost, downgrades, errors by
// kind, workflow runs by status (escalations, blocked), connections. Breaker states,
// fallbacks and cache hits live in the model service: `set_extra_source` is the seam a
// model-service stats query plugs into; its text is appended to the exposition.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/messages.hpp"

namespace switchyard::gateway {

class metrics_registry {
 public:
  metrics_registry();

  /// One HTTP request answered: `endpoint` is the route pattern ("/v1/chat/completions").
  void record_request(const std::string& endpoint, unsigned status, double seconds);
  /// One model call that reached the model service (ok or not). `latency_s` is the
  /// gateway-side wall time. Error kinds come from model_error.
  void record_model_call(const model_response& response, double latency_s);
  /// One workflow step's model usage (a run's transcript line).
  void record_step(const step_record& step);
  /// A workflow run that ended (or parked as blocked) with `status` and `reason`.
  void record_run(const std::string& workflow, run_status status, const std::string& reason);
  /// A request refused before any model call: auth, rate_limit, budget, invalid_request, ...
  void record_rejection(const std::string& kind);
  void connection_opened();
  void connection_closed();
  void connection_refused();  // over the connection cap

  /// Text appended to render(): Prometheus lines from elsewhere (the model service's
  /// breakers, fallbacks, cache). Called on every scrape; must be thread-safe.
  void set_extra_source(std::function<std::string()> source);

  /// The exposition text.
  std::string render() const;

  /// Total of one counter family over all label values (for tests and the bench).
  double total(const std::string& family) const;

 private:
  struct family {
    std::string help;
    std::string type;                      // counter, gauge
    std::map<std::string, double> values;  // rendered label set -> value
  };
  struct histogram {
    std::vector<uint64_t> buckets;  // cumulative at render time; per-bucket here
    uint64_t count = 0;
    double sum = 0;
  };
  void add(const std::string& name, const std::string& labels, double value);
  void observe(const std::string& name, const std::string& labels, double seconds);

  mutable std::mutex mu_;
  std::map<std::string, family> families_;
  std::map<std::string, std::map<std::string, histogram>> histograms_;  // name -> labels
  std::map<std::string, std::string> histogram_help_;
  std::function<std::string()> extra_;
};

/// `{a="x",b="y"}` with values escaped as the format demands (\\, \", \n).
std::string label_set(const std::vector<std::pair<std::string, std::string>>& labels);

/// Upper bounds (seconds) of the latency histogram buckets.
const std::vector<double>& latency_buckets();

}  // namespace switchyard::gateway
