#pragma once
// The machine-readable account of one routing decision: which rules fired, what the
// classifier said, how complex the request looked, each candidate model and why it
// was kept or filtered out, and the thread's budget at the time. It travels in its
// compact form (runtime/trace_codec.hpp) in model_usage::decision, lands in the run
// transcript and the step records that way, and becomes JSON only for a reader.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "router/complexity.hpp"
#include "runtime/config.hpp"

namespace switchyard {

/// Why a candidate model was not chosen. `none` means it was eligible.
enum class candidate_filter : uint8_t {
  none,
  compliance,      // sensitive data and the model's residency is cloud
  context_window,  // prompt + max_tokens does not fit
  capability,      // lacks a required capability
  health,          // the model's endpoint is down
  latency,         // observed latency above the request's latency class
  budget,          // the worst case would exceed what the thread has left
};

const char* to_string(candidate_filter x);

struct candidate_note {
  const model_config* model = nullptr;  // the catalog entry: outlives the trace's use
  candidate_filter filtered_by = candidate_filter::none;
  std::string detail;          // the numbers behind the verdict
  double estimated_usd = 0;    // worst case for this request
};

struct classifier_note {
  bool used = false;
  std::string route;  // best route, whatever its confidence
  double confidence = 0;
  std::string runner_up;
  double runner_up_confidence = 0;
  double threshold = 0;
  std::vector<std::pair<std::string, double>> top;  // best first
  std::string encoder;  // route_guess::encoder; left out of the JSON when empty
};

struct budget_note {
  bool tokens_limited = false;
  uint64_t tokens_left = 0;
  bool usd_limited = false;
  double usd_left = 0;
};

struct decision_trace {
  std::string outcome;  // routed, blocked, budget_exhausted, no_model
  std::vector<std::string> rules_fired;
  classifier_note classifier;
  std::string route;
  std::string route_source;  // request, rule:<name>, classifier, default, none
  complexity_estimate complexity;
  std::string data_class;
  std::string data_class_source;  // request, rule:<name>
  std::string latency_class;
  std::string target_tier;
  std::string tier_source;  // model_pin, request, rule:<name>, route, lowest (+complexity)
  budget_note budget;
  std::vector<candidate_note> candidates;
  std::string chosen_model;
  std::string chosen_tier;
  bool downgraded = false;
  std::string note;  // why it downgraded, or why nothing was chosen
};

/// The trace's compact form (runtime/trace_codec.hpp): what travels in
/// model_usage::decision. Rendered (trace_json), it is to_json_text's text byte for byte.
std::string to_compact(const decision_trace& trace);

/// The trace as compact JSON text: what readers of a trace see. The chosen
/// candidate and every filtered one appear with their verdict and numbers; models that
/// were merely eligible are counted (`also_eligible`); false flags, an empty route and
/// an unlimited budget are left out. Written by hand, without a JSON tree. Readers get
/// this text from the compact form (trace_json); this writer is its reference.
std::string to_json_text(const decision_trace& trace);

/// The same, as a JSON value (parses to_json_text).
nlohmann::json to_json(const decision_trace& trace);

}  // namespace switchyard
