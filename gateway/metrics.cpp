#include "gateway/metrics.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string_view>

namespace switchyard::gateway {

namespace {

struct family_spec {
  const char* name;
  const char* type;
  const char* help;
};

const family_spec families[] = {
    {"switchyard_http_requests_total", "counter", "HTTP requests answered, by endpoint and status"},
    {"switchyard_model_calls_total", "counter", "Model calls, by tier, model, route and outcome"},
    {"switchyard_tokens_total", "counter", "Tokens, by tier, model, route and direction"},
    {"switchyard_cost_usd_total", "counter", "Cost in USD, by tier, model and route"},
    {"switchyard_downgrades_total", "counter", "Calls a cheaper tier than intended answered"},
    {"switchyard_errors_total", "counter", "Failed model calls, by error kind"},
    {"switchyard_rejected_requests_total", "counter",
     "Requests refused before a model call (auth, rate_limit, budget, invalid_request...)"},
    {"switchyard_runs_total", "counter", "Workflow runs by outcome (escalated, blocked, ...)"},
    {"switchyard_open_connections", "gauge", "HTTP connections open now"},
    {"switchyard_refused_connections_total", "counter", "Connections refused over the cap"},
};

std::string escape(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string number(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v)) && v < 1e15 && v > -1e15)
    return std::to_string(static_cast<int64_t>(v));
  return fmt::format("{:.9g}", v);
}

std::string or_none(const std::string& v) {
  return v.empty() ? "none" : v;
}

}  // namespace

std::string label_set(const std::vector<std::pair<std::string, std::string>>& labels) {
  std::string out = "{";
  for (const auto& [k, v] : labels) {
    if (out.size() > 1) out += ',';
    out += k + "=\"" + escape(v) + "\"";
  }
  return out + "}";
}

const std::vector<double>& latency_buckets() {
  static const std::vector<double> b = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                        0.25,   0.5,   1,      2.5,   5,    10,    30};
  return b;
}

metrics_registry::metrics_registry() {
  for (const auto& f : families) families_[f.name] = family{f.help, f.type, {}};
  families_["switchyard_open_connections"].values[""] = 0;
  histogram_help_["switchyard_http_request_duration_seconds"] = "HTTP request latency by endpoint";
  histogram_help_["switchyard_model_call_duration_seconds"] =
      "Model call latency seen by the gateway, by route";
}

void metrics_registry::add(const std::string& name, const std::string& labels, double value) {
  families_[name].values[labels] += value;
}

double* metrics_registry::counter(const std::string& name, const std::string& labels) {
  return &families_[name].values[labels];
}

metrics_registry::histogram* metrics_registry::latency_histogram(const std::string& name,
                                                                 const std::string& labels) {
  auto& h = histograms_[name][labels];
  if (h.buckets.empty()) h.buckets.assign(latency_buckets().size(), 0);
  return &h;
}

void metrics_registry::observe_into(histogram& h, double s) {
  const auto& bounds = latency_buckets();
  for (size_t i = 0; i < bounds.size(); ++i)
    if (s <= bounds[i]) {
      ++h.buckets[i];
      break;
    }
  ++h.count;
  h.sum += s;
}

void metrics_registry::observe(const std::string& name, const std::string& labels, double s) {
  observe_into(*latency_histogram(name, labels), s);
}

void metrics_registry::record_request(const std::string& endpoint, unsigned status,
                                      double seconds) {
  std::lock_guard<std::mutex> lock{mu_};
  cache_key_.assign(endpoint);
  cache_key_ += '\0';
  cache_key_ += std::to_string(status);
  auto it = request_cache_.find(cache_key_);
  if (it == request_cache_.end()) {
    request_slots slots;
    slots.count = counter("switchyard_http_requests_total",
                          label_set({{"endpoint", endpoint}, {"status", std::to_string(status)}}));
    slots.latency = latency_histogram("switchyard_http_request_duration_seconds",
                                      label_set({{"endpoint", endpoint}}));
    it = request_cache_.emplace(cache_key_, slots).first;
  }
  *it->second.count += 1;
  observe_into(*it->second.latency, seconds);
}

void metrics_registry::record_model_call(const model_response& r, double latency_s) {
  const auto& u = r.usage;
  const std::string& outcome_kind = r.error.kind;
  std::lock_guard<std::mutex> lock{mu_};
  cache_key_.assign(u.tier);
  cache_key_ += '\0';
  cache_key_ += u.model_id;
  cache_key_ += '\0';
  cache_key_ += u.route;
  cache_key_ += '\0';
  cache_key_ += r.ok() ? std::string_view{"\x01ok"} : std::string_view{outcome_kind};
  cache_key_ += '\0';
  cache_key_ += u.downgraded ? 'd' : '-';
  auto it = model_call_cache_.find(cache_key_);
  if (it == model_call_cache_.end()) {
    auto tier = or_none(u.tier), model = or_none(u.model_id), route = or_none(u.route);
    model_call_slots slots;
    slots.calls = counter("switchyard_model_calls_total",
                          label_set({{"tier", tier},
                                     {"model", model},
                                     {"route", route},
                                     {"outcome", r.ok() ? "ok" : r.error.kind}}));
    if (r.ok()) {
      slots.input_tokens = counter(
          "switchyard_tokens_total",
          label_set({{"tier", tier}, {"model", model}, {"route", route}, {"direction", "input"}}));
      slots.output_tokens = counter(
          "switchyard_tokens_total",
          label_set({{"tier", tier}, {"model", model}, {"route", route}, {"direction", "output"}}));
      slots.cost = counter("switchyard_cost_usd_total",
                           label_set({{"tier", tier}, {"model", model}, {"route", route}}));
    } else {
      slots.errors = counter("switchyard_errors_total", label_set({{"kind", r.error.kind}}));
    }
    if (u.downgraded)
      slots.downgrades =
          counter("switchyard_downgrades_total", label_set({{"tier", tier}, {"route", route}}));
    slots.latency = latency_histogram("switchyard_model_call_duration_seconds",
                                      label_set({{"route", route}}));
    it = model_call_cache_.emplace(cache_key_, slots).first;
  }
  const auto& slots = it->second;
  *slots.calls += 1;
  if (slots.input_tokens) *slots.input_tokens += u.input_tokens;
  if (slots.output_tokens) *slots.output_tokens += u.output_tokens;
  if (slots.cost) *slots.cost += u.cost_usd;
  if (slots.errors) *slots.errors += 1;
  if (slots.downgrades) *slots.downgrades += 1;
  observe_into(*slots.latency, latency_s);
}

void metrics_registry::record_step(const step_record& s) {
  if (s.model_calls == 0) return;
  auto tier = or_none(s.tier), model = or_none(s.model), route = or_none(s.route);
  std::lock_guard<std::mutex> lock{mu_};
  add("switchyard_model_calls_total",
      label_set({{"tier", tier},
                 {"model", model},
                 {"route", route},
                 {"outcome", s.error.empty() ? "ok" : "error"}}),
      s.model_calls);
  add("switchyard_tokens_total",
      label_set({{"tier", tier}, {"model", model}, {"route", route}, {"direction", "input"}}),
      s.input_tokens);
  add("switchyard_tokens_total",
      label_set({{"tier", tier}, {"model", model}, {"route", route}, {"direction", "output"}}),
      s.output_tokens);
  add("switchyard_cost_usd_total", label_set({{"tier", tier}, {"model", model}, {"route", route}}),
      s.cost_usd);
  if (s.downgraded)
    add("switchyard_downgrades_total", label_set({{"tier", tier}, {"route", route}}), 1);
}

void metrics_registry::record_run(const std::string& workflow, run_status status,
                                  const std::string& reason) {
  std::lock_guard<std::mutex> lock{mu_};
  add("switchyard_runs_total",
      label_set(
          {{"workflow", workflow}, {"status", to_string(status)}, {"reason", or_none(reason)}}),
      1);
}

void metrics_registry::record_rejection(const std::string& kind) {
  std::lock_guard<std::mutex> lock{mu_};
  add("switchyard_rejected_requests_total", label_set({{"kind", kind}}), 1);
}

void metrics_registry::connection_opened() {
  std::lock_guard<std::mutex> lock{mu_};
  add("switchyard_open_connections", "", 1);
}

void metrics_registry::connection_closed() {
  std::lock_guard<std::mutex> lock{mu_};
  add("switchyard_open_connections", "", -1);
}

void metrics_registry::connection_refused() {
  std::lock_guard<std::mutex> lock{mu_};
  add("switchyard_refused_connections_total", "", 1);
}

double metrics_registry::total(const std::string& name) const {
  std::lock_guard<std::mutex> lock{mu_};
  double sum = 0;
  if (auto it = families_.find(name); it != families_.end())
    for (const auto& [labels, v] : it->second.values) sum += v;
  if (auto it = histograms_.find(name); it != histograms_.end())
    for (const auto& [labels, h] : it->second) sum += static_cast<double>(h.count);
  return sum;
}

std::string metrics_registry::render() const {
  std::string out;
  {
    std::lock_guard<std::mutex> lock{mu_};
    for (const auto& [name, f] : families_) {
      out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.type + "\n";
      for (const auto& [labels, v] : f.values) out += name + labels + " " + number(v) + "\n";
    }
    for (const auto& [name, help] : histogram_help_) {
      out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
      auto it = histograms_.find(name);
      if (it == histograms_.end()) continue;
      const auto& bounds = latency_buckets();
      for (const auto& [labels, h] : it->second) {
        // labels is "{k=\"v\"}": splice le into it.
        auto inner = labels.substr(1, labels.size() - 2);
        auto with_le = [&](const std::string& le) {
          return "{" + inner + (inner.empty() ? "" : ",") + "le=\"" + le + "\"}";
        };
        uint64_t cumulative = 0;
        for (size_t i = 0; i < bounds.size(); ++i) {
          cumulative += h.buckets[i];
          out += name + "_bucket" + with_le(number(bounds[i])) + " " + std::to_string(cumulative) +
                 "\n";
        }
        out += name + "_bucket" + with_le("+Inf") + " " + std::to_string(h.count) + "\n";
        out += name + "_sum" + labels + " " + number(h.sum) + "\n";
        out += name + "_count" + labels + " " + std::to_string(h.count) + "\n";
      }
    }
  }
  return out;
}

std::string resilience_metrics_text(const std::string& stats_json) {
  auto doc = nlohmann::json::parse(stats_json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return "# model service resilience stats unavailable: not a JSON object\n";
  std::string out;
  auto counter = [&](const std::string& name, const char* help, const nlohmann::json& value) {
    if (!value.is_number()) return;
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " counter\n";
    out += name + " " + number(value.get<double>()) + "\n";
  };
  struct field {
    const char* key;
    const char* help;
  };
  for (const auto& f : {field{"calls", "Model calls the model service received."},
                        field{"answered", "Calls answered successfully."},
                        field{"attempts", "Provider attempts, retries and fallbacks included."},
                        field{"retries", "Retries after a retriable error."},
                        field{"fallbacks", "Moves to the next candidate of a fallback chain."},
                        field{"downgraded", "Answers from a lower tier than intended."},
                        field{"blocked", "Calls that ended blocked (every candidate down)."},
                        field{"failed", "Calls that ended with a non-retriable error."},
                        field{"rate_limit_waits", "Calls that waited for a rate limit."},
                        field{"rate_limited", "Calls refused after waiting for a rate limit."},
                        field{"key_failovers",
                              "Attempts moved to another key of the provider after a 401 or 429."},
                        field{"stream_switches", "Streams continued on another model."},
                        field{"stream_tool_call_aborts",
                              "Streams ended because a tool call had already gone out."},
                        field{"semantic_failures",
                              "Answers counted as failures: empty, bad JSON, error in a 200."}}) {
    if (auto it = doc.find(f.key); it != doc.end())
      counter(std::string("switchyard_resilience_") + f.key + "_total", f.help, *it);
  }
  if (auto cache = doc.find("cache"); cache != doc.end() && cache->is_object()) {
    if (auto hits = cache->find("hits"); hits != cache->end())
      counter("switchyard_cache_hits_total", "Response cache hits.", *hits);
    if (auto misses = cache->find("misses"); misses != cache->end())
      counter("switchyard_cache_misses_total", "Response cache misses.", *misses);
  }
  // Nested counter groups: {"judge": {"calls": n, ...}} -> switchyard_judge_calls_total.
  struct group_field {
    const char* group;
    const char* key;
    const char* help;
  };
  for (const auto& f :
       {group_field{"judge", "calls", "Cascade stages graded by a judge model."},
        group_field{"judge", "failures",
                    "Judge grades that failed or did not parse (the stage escalated)."},
        group_field{"embeddings", "asked", "Routing embeddings asked of the embeddings service."},
        group_field{"embeddings", "failed",
                    "Routing embeddings that failed (the call was routed with TF-IDF)."},
        group_field{"embeddings", "skipped",
                    "Routing embeddings not asked: the service failed within its cooldown."}}) {
    auto group = doc.find(f.group);
    if (group == doc.end() || !group->is_object()) continue;
    if (auto it = group->find(f.key); it != group->end())
      counter(std::string("switchyard_") + f.group + "_" + f.key + "_total", f.help, *it);
  }
  if (auto in_flight = doc.find("in_flight"); in_flight != doc.end() && in_flight->is_number()) {
    out += "# HELP switchyard_model_calls_in_flight Calls the model service is working on.\n"
           "# TYPE switchyard_model_calls_in_flight gauge\n";
    out += "switchyard_model_calls_in_flight " + number(in_flight->get<double>()) + "\n";
  }
  if (auto breakers = doc.find("breakers"); breakers != doc.end() && breakers->is_array()) {
    out += "# HELP switchyard_breaker_state Circuit breaker state per endpoint "
           "(model|provider|key): 1 for the state it is in.\n"
           "# TYPE switchyard_breaker_state gauge\n";
    for (const auto& b : *breakers) {
      if (!b.is_object() || !b.contains("endpoint") || !b["endpoint"].is_string()) continue;
      std::string state = b.value("state", "");
      for (const char* s : {"closed", "open", "half_open"})
        out += "switchyard_breaker_state" +
               label_set({{"endpoint", b["endpoint"].get<std::string>()}, {"state", s}}) + " " +
               (state == s ? "1" : "0") + "\n";
    }
  }
  return out;
}

}  // namespace switchyard::gateway
