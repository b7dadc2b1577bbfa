#include "router/decision_trace.hpp"

namespace switchyard {

const char* to_string(candidate_filter x) {
  switch (x) {
    case candidate_filter::none:
      return "eligible";
    case candidate_filter::compliance:
      return "compliance";
    case candidate_filter::context_window:
      return "context_window";
    case candidate_filter::capability:
      return "capability";
    case candidate_filter::health:
      return "health";
    case candidate_filter::latency:
      return "latency";
    case candidate_filter::budget:
      return "budget";
  }
  return "eligible";
}

nlohmann::json to_json(const decision_trace& t) {
  using nlohmann::json;
  json candidates = json::array();
  for (const auto& c : t.candidates) {
    json j{{"model", c.model},
           {"tier", c.tier},
           {"verdict", c.model == t.chosen_model ? "chosen" : to_string(c.filtered_by)},
           {"estimated_usd", c.estimated_usd}};
    if (!c.detail.empty()) j["detail"] = c.detail;
    candidates.push_back(std::move(j));
  }
  json out{{"outcome", t.outcome},
           {"route", t.route},
           {"route_source", t.route_source},
           {"target_tier", t.target_tier},
           {"tier_source", t.tier_source},
           {"rules_fired", t.rules_fired},
           {"complexity",
            {{"prompt_tokens", t.complexity.prompt_tokens},
             {"long_prompt", t.complexity.long_prompt},
             {"has_code", t.complexity.has_code},
             {"parts", t.complexity.parts},
             {"multi_part", t.complexity.multi_part},
             {"tier_steps", t.complexity.tier_steps}}},
           {"candidates", std::move(candidates)},
           {"model", t.chosen_model},
           {"tier", t.chosen_tier},
           {"downgraded", t.downgraded}};
  if (t.classifier.used) {
    json top = json::array();
    for (const auto& [route, score] : t.classifier.top) top.push_back({{route, score}});
    out["classifier"] = {{"route", t.classifier.route},
                         {"confidence", t.classifier.confidence},
                         {"runner_up", t.classifier.runner_up},
                         {"runner_up_confidence", t.classifier.runner_up_confidence},
                         {"threshold", t.classifier.threshold},
                         {"top", std::move(top)}};
  }
  if (!t.data_class.empty())
    out["data_class"] = {{"class", t.data_class}, {"source", t.data_class_source}};
  if (!t.latency_class.empty()) out["latency_class"] = t.latency_class;
  json budget = json::object();
  budget["tokens_left"] = t.budget.tokens_limited ? json(t.budget.tokens_left) : json(nullptr);
  budget["usd_left"] = t.budget.usd_limited ? json(t.budget.usd_left) : json(nullptr);
  out["budget"] = std::move(budget);
  if (!t.note.empty()) out["note"] = t.note;
  return out;
}

}  // namespace switchyard
