#include "workflows/run_report.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "runtime/trace_codec.hpp"

namespace switchyard {

namespace {

// One line per routed call: route and where it came from, the target tier, the model
// chosen, and the models filters removed. The full trace is in --json.
void describe_decisions(std::string& out, const decision_traces& decisions) {
  auto traces = nlohmann::json::parse(traces_json_array(decisions.bytes), nullptr, false);
  if (!traces.is_array()) return;
  for (const auto& t : traces) {
    if (!t.is_object()) continue;
    std::string filtered;
    for (const auto& c : t.value("candidates", nlohmann::json::array()))
      if (c.value("verdict", "") != "chosen")
        filtered += fmt::format("{}{} ({})", filtered.empty() ? "" : ", ", c.value("model", "?"),
                                c.value("verdict", "?"));
    out += fmt::format("      route {} ({}), tier {} ({}) -> {}{}{}\n",
                       t.value("route", "").empty() ? "-" : t.value("route", ""),
                       t.value("route_source", "?"), t.value("target_tier", "?"),
                       t.value("tier_source", "?"),
                       t.value("model", "").empty() ? t.value("outcome", "?") : t.value("model", ""),
                       t.value("downgraded", false) ? ", " + t.value("note", "downgraded") : "",
                       filtered.empty() ? "" : "; filtered: " + filtered);
  }
}

}  // namespace

std::string describe_run(const run_result& r) {
  std::string out =
      fmt::format("run {}  thread {}  workflow {}\n", r.run_id, r.thread_id, r.workflow);
  out += fmt::format("status   {}{}\n", to_string(r.status),
                     r.reason.empty() ? "" : " (" + r.reason + ")");
  if (!r.detail.empty()) out += fmt::format("detail   {}\n", r.detail);
  out += fmt::format("hops     {}   tokens {} in / {} out   cost ${:.6f}   {:.1f} ms\n", r.hops,
                     r.input_tokens, r.output_tokens, r.cost_usd, r.latency_ms);
  out += fmt::format("{:>4}  {:<10} {:<14} {:<22} {:<9} {:>6} {:>6} {:>10} {:>8}\n", "step", "kind",
                     "agent", "model", "tier", "in", "out", "cost $", "ms");
  for (const auto& s : r.steps) {
    out += fmt::format("{:>4}  {:<10} {:<14} {:<22} {:<9} {:>6} {:>6} {:>10.6f} {:>8.1f}\n", s.step,
                       to_string(s.kind), s.agent, s.model.empty() ? "-" : s.model,
                       s.tier.empty() ? "-" : s.tier, s.input_tokens, s.output_tokens, s.cost_usd,
                       s.latency_ms);
    if (!s.decisions.empty()) describe_decisions(out, s.decisions);
    if (!s.error.empty()) out += fmt::format("      error: {}\n", s.error);
  }
  if (r.has_handoff)
    out += fmt::format("handoff  to a person: {} (last agent '{}')\n", r.handoff.reason,
                       r.handoff.last_agent);
  out += fmt::format("output   {}\n", r.output.empty() ? "(none)" : r.output);
  return out;
}

}  // namespace switchyard
