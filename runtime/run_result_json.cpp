#include "runtime/run_result_json.hpp"

#include "runtime/trace_codec.hpp"

namespace switchyard {

nlohmann::json to_json(const step_record& x) {
  nlohmann::json j{
      {"step", x.step},
      {"kind", to_string(x.kind)},
      {"agent", x.agent},
      {"hops", x.hops},
      {"output", x.output},
      {"model", x.model},
      {"tier", x.tier},
      {"model_calls", x.model_calls},
      {"input_tokens", x.input_tokens},
      {"output_tokens", x.output_tokens},
      {"cost_usd", x.cost_usd},
      {"latency_ms", x.latency_ms},
  };
  if (!x.caller.empty()) j["caller"] = x.caller;
  if (!x.label.empty()) j["label"] = x.label;
  if (!x.error.empty()) j["error"] = x.error;
  if (!x.route.empty()) j["route"] = x.route;
  if (x.downgraded) j["downgraded"] = true;
  if (!x.decisions.empty()) {
    // Held compact, rendered here; a trace that does not parse is shown as text, never
    // dropped.
    auto text = traces_json_array(x.decisions.bytes);
    auto parsed = nlohmann::json::parse(text, nullptr, false);
    j["decisions"] = parsed.is_discarded() ? nlohmann::json(text) : std::move(parsed);
  }
  return j;
}

nlohmann::json to_json(const handoff_record& x) {
  return {
      {"run_id", x.run_id},           {"thread_id", x.thread_id}, {"workflow", x.workflow},
      {"reason", x.reason},           {"detail", x.detail},       {"last_agent", x.last_agent},
      {"last_output", x.last_output},
  };
}

nlohmann::json to_json(const run_result& x) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : x.steps) steps.push_back(to_json(s));
  nlohmann::json j{
      {"run_id", x.run_id},
      {"thread_id", x.thread_id},
      {"workflow", x.workflow},
      {"status", to_string(x.status)},
      {"reason", x.reason},
      {"detail", x.detail},
      {"output", x.output},
      {"hops", x.hops},
      {"input_tokens", x.input_tokens},
      {"output_tokens", x.output_tokens},
      {"cost_usd", x.cost_usd},
      {"latency_ms", x.latency_ms},
      {"steps", std::move(steps)},
  };
  if (x.has_handoff) j["handoff"] = to_json(x.handoff);
  return j;
}

}  // namespace switchyard
