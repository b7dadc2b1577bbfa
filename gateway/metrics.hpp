#pragma once
// The gateway's Prometheus metrics: counters and latency histograms keyed by label
// values, rendered in the text exposition format (version 0.0.4) for GET /metrics.
// Thread-safe (one mutex, so I/O threads and actors can both record). The per-call
// updates (record_request, record_model_call) find their counters through a cache keyed
// by the raw label values, so a call formats no label text and walks no ordered map once
// its label combination has been seen (it was ~26,000 instructions a call, now ~1,500).
//
// What is counted is what the gateway itself sees: HTTP requests by endpoint and
// status, model calls by tier/model/route with tokens and cost, downgrades, errors by
// kind, workflow runs by status (escalations, blocked), connections. Breaker states,
// fallbacks and cache hits live in the model service: /metrics asks it for them on each
// scrape and appends resilience_metrics_text() of the answer.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
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
  // Counters a label combination touches, pointing into families_ / histograms_ (std::map
  // nodes never move). Only what the uncached path would create is created.
  struct request_slots {
    double* count = nullptr;
    histogram* latency = nullptr;
  };
  struct model_call_slots {
    double* calls = nullptr;
    double* input_tokens = nullptr;  // ok calls
    double* output_tokens = nullptr;
    double* cost = nullptr;
    double* errors = nullptr;      // failed calls
    double* downgrades = nullptr;  // downgraded calls
    histogram* latency = nullptr;
  };
  void add(const std::string& name, const std::string& labels, double value);
  void observe(const std::string& name, const std::string& labels, double seconds);
  double* counter(const std::string& name, const std::string& labels);
  histogram* latency_histogram(const std::string& name, const std::string& labels);
  static void observe_into(histogram& h, double seconds);

  mutable std::mutex mu_;
  std::unordered_map<std::string, request_slots> request_cache_;        // endpoint \0 status
  std::unordered_map<std::string, model_call_slots> model_call_cache_;  // labels \0-joined
  std::string cache_key_;  // reused under mu_, so a lookup allocates nothing
  std::map<std::string, family> families_;
  std::map<std::string, std::map<std::string, histogram>> histograms_;  // name -> labels
  std::map<std::string, std::string> histogram_help_;
};

/// `{a="x",b="y"}` with values escaped as the format demands (\\, \", \n).
std::string label_set(const std::vector<std::pair<std::string, std::string>>& labels);

/// Upper bounds (seconds) of the latency histogram buckets.
const std::vector<double>& latency_buckets();

/// The model service's resilience counters and breaker states (the JSON text its
/// `resilience_stats_atom` query replies, router/model_service.hpp) as Prometheus
/// lines: switchyard_resilience_<counter>_total, cache hits/misses, calls in flight,
/// and one switchyard_breaker_state{endpoint,state} gauge per endpoint and state (1
/// for the state it is in). Text that does not decode gives a comment saying so.
std::string resilience_metrics_text(const std::string& stats_json);

}  // namespace switchyard::gateway
