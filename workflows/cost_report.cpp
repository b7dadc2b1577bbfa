#include "workflows/cost_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace switchyard {

cost_report::cost_report(const config& cfg) : tiers_(cfg.tiers) {
  if (cfg.tiers.empty()) return;
  const auto& top = cfg.tiers.back();
  const model_config* cheapest = nullptr;
  for (const auto& m : cfg.models) {
    if (m.tier != top) continue;
    if (!cheapest || m.price_in_per_mtok + m.price_out_per_mtok <
                         cheapest->price_in_per_mtok + cheapest->price_out_per_mtok)
      cheapest = &m;
  }
  if (cheapest) {
    frontier_model_ = cheapest->id;
    frontier_in_ = cheapest->price_in_per_mtok;
    frontier_out_ = cheapest->price_out_per_mtok;
  }
}

void cost_report::add(const report_run& run) {
  ++runs_;
  statuses_[to_string(run.status) + (run.reason.empty() ? "" : "/" + run.reason)] += 1;
  if (run.reason != "bad_ticket") latencies_.push_back(run.latency_ms);  // never ran
  for (const auto& c : run.calls) {
    auto& t = by_tier_[c.tier.empty() ? "?" : c.tier];
    t.calls += 1;
    t.input_tokens += c.input_tokens;
    t.output_tokens += c.output_tokens;
    t.usd += c.cost_usd;
    frontier_usd_ += (c.input_tokens * frontier_in_ + c.output_tokens * frontier_out_) / 1e6;
  }
  if (!run.route.empty()) by_route_[run.route] += 1;
  by_agent_[run.rejected ? "(rejected)" : run.agent.empty() ? "(none)" : run.agent] += 1;
  if (!run.has_expected) return;
  if (run.expected_route.empty()) {
    ++malformed_;
    if (run.rejected) ++malformed_rejected_;
    return;
  }
  ++expected_;
  if (run.route == run.expected_route)
    ++correct_;
  else
    misrouted_.emplace_back(run.expected_route, run.route.empty() ? "(none)" : run.route);
}

double cost_report::route_accuracy() const {
  return expected_ == 0 ? 0 : static_cast<double>(correct_) / static_cast<double>(expected_);
}

double cost_report::cost_usd() const {
  double sum = 0;
  for (const auto& [_, t] : by_tier_) sum += t.usd;
  return sum;
}

double cost_report::saving() const {
  return frontier_usd_ <= 0 ? 0 : 1.0 - cost_usd() / frontier_usd_;
}

double cost_report::latency_percentile(double p) const {
  if (latencies_.empty()) return 0;
  auto sorted = latencies_;
  std::sort(sorted.begin(), sorted.end());
  // Nearest rank: the smallest value with at least p of the runs at or below it.
  auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

std::string cost_report::text() const {
  std::string out = fmt::format("== cost report: {} runs ==\n", runs_);
  std::string statuses;
  for (const auto& [s, n] : statuses_)
    statuses += fmt::format("{}{} {}", statuses.empty() ? "" : ", ", s, n);
  out += fmt::format("outcomes   {}\n", statuses);
  out += fmt::format("{:<10} {:>6} {:>10} {:>10} {:>12}\n", "tier", "calls", "tokens in",
                     "tokens out", "USD");
  auto tier_order = tiers_;
  for (const auto& [t, _] : by_tier_)
    if (std::find(tier_order.begin(), tier_order.end(), t) == tier_order.end())
      tier_order.push_back(t);
  tier_totals all;
  for (const auto& name : tier_order) {
    auto it = by_tier_.find(name);
    tier_totals t = it == by_tier_.end() ? tier_totals{} : it->second;
    out += fmt::format("{:<10} {:>6} {:>10} {:>10} {:>12.6f}\n", name, t.calls, t.input_tokens,
                       t.output_tokens, t.usd);
    all.calls += t.calls;
    all.input_tokens += t.input_tokens;
    all.output_tokens += t.output_tokens;
    all.usd += t.usd;
  }
  out += fmt::format("{:<10} {:>6} {:>10} {:>10} {:>12.6f}\n", "total", all.calls, all.input_tokens,
                     all.output_tokens, all.usd);
  if (!frontier_model_.empty())
    out += fmt::format(
        "all-frontier: ${:.6f} (the same {} input and {} output tokens priced at {}, "
        "${}/${} per Mtok) -> saved {:.1f} %\n",
        frontier_usd_, all.input_tokens, all.output_tokens, frontier_model_, frontier_in_,
        frontier_out_, 100.0 * saving());
  std::string agents;
  for (const auto& [a, n] : by_agent_)
    agents += fmt::format("{}{} {}", agents.empty() ? "" : ", ", a, n);
  out += fmt::format("agents     {}\n", agents);
  std::string routes;
  for (const auto& [r, n] : by_route_)
    routes += fmt::format("{}{} {}", routes.empty() ? "" : ", ", r, n);
  out += fmt::format("routes     {}\n", routes.empty() ? "(none)" : routes);
  if (expected_ > 0)
    out += fmt::format("route accuracy {:.1f} % ({} of {} tickets with an expected route)\n",
                       100.0 * route_accuracy(), correct_, expected_);
  if (malformed_ > 0)
    out += fmt::format("malformed tickets rejected: {} of {}\n", malformed_rejected_, malformed_);
  for (const auto& [want, got] : misrouted_)
    out += fmt::format("  misrouted: expected {}, got {}\n", want, got);
  out += fmt::format("latency    p50 {:.1f} ms, p99 {:.1f} ms per run\n", latency_percentile(0.5),
                     latency_percentile(0.99));
  return out;
}

nlohmann::json cost_report::to_json() const {
  nlohmann::json j;
  j["runs"] = runs_;
  j["outcomes"] = statuses_;
  auto& tiers = j["tiers"] = nlohmann::json::object();
  for (const auto& [name, t] : by_tier_)
    tiers[name] = {{"calls", t.calls},
                   {"input_tokens", t.input_tokens},
                   {"output_tokens", t.output_tokens},
                   {"usd", t.usd}};
  j["cost_usd"] = cost_usd();
  j["all_frontier_usd"] = frontier_usd_;
  j["all_frontier_model"] = frontier_model_;
  j["saving"] = saving();
  j["routes"] = by_route_;
  j["agents"] = by_agent_;
  j["route_accuracy"] = route_accuracy();
  j["routed_expected"] = expected_;
  j["routed_correct"] = correct_;
  j["malformed"] = malformed_;
  j["malformed_rejected"] = malformed_rejected_;
  j["p50_ms"] = latency_percentile(0.5);
  j["p99_ms"] = latency_percentile(0.99);
  return j;
}

}  // namespace switchyard
