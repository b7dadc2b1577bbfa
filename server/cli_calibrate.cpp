#include "server/cli_calibrate.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "router/cascade.hpp"
#include "runtime/config.hpp"
#include "server/cli_common.hpp"

namespace switchyard::cli {

namespace {

std::string number(double x, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
  return buf;
}

void print_route(const route_calibration& r, double target) {
  std::string order;
  for (const auto& t : r.tiers) order += (order.empty() ? "" : " -> ") + t;
  std::cout << "route " << r.route << " (" << order << "; " << r.samples
            << (r.joint ? " queries, replayed per query" : " records, tiers assumed independent")
            << ")\n";
  std::string thresholds;
  for (const auto& t : r.tiers) {
    auto it = r.thresholds.find(t);
    if (it == r.thresholds.end()) continue;
    thresholds += (thresholds.empty() ? "" : ", ") + t + " >= " + number(it->second, 4);
  }
  std::cout << "  thresholds: " << thresholds << "\n";
  std::cout << "  expected quality " << number(r.quality, 4) << " (target " << number(target, 4)
            << (r.target_met ? ", met" : ", NOT reachable; best shown") << "), cost "
            << number(r.cost, 6) << " per query\n";
  double saving = r.top_tier_cost > 0 ? 100.0 * (1.0 - r.cost / r.top_tier_cost) : 0.0;
  std::cout << "  " << r.tiers.back() << " alone: quality " << number(r.top_tier_quality, 4)
            << ", cost " << number(r.top_tier_cost, 6) << " per query (cascade saves "
            << number(saving, 1) << " %)\n";
}

}  // namespace

CLI::App* add_calibrate_subcommand(CLI::App& router_cmd, calibrate_options& opts) {
  auto* calibrate = router_cmd.add_subcommand(
      "calibrate",
      "Fit cascade thresholds per route from labelled outcomes (JSONL: route, tier, "
      "confidence, correct, cost, optional id) to reach a target quality at least cost");
  calibrate->add_option("--outcomes", opts.outcomes_path, "Labelled outcomes (JSONL)")->required();
  calibrate
      ->add_option("--target", opts.target,
                   "Target quality: share of correct final answers, > 0 and <= 1")
      ->required();
  calibrate->add_option("--write-config", opts.write_config,
                        "Config file (JSON) to write the thresholds into "
                        "(resilience.cascade.ROUTE.thresholds); its tiers set the cascade order");
  return calibrate;
}

int calibrate_command(const calibrate_options& opts) {
  if (!(opts.target > 0 && opts.target <= 1)) {
    std::cerr << "router calibrate: --target must be > 0 and <= 1, got " << opts.target << '\n';
    return 2;
  }
  std::string text;
  if (!read_file(opts.outcomes_path, text)) {
    std::cerr << opts.outcomes_path << ": cannot read file\n";
    return 2;
  }
  auto loaded = parse_outcomes_jsonl(text, opts.outcomes_path);
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) std::cerr << e << '\n';
    return 2;
  }

  std::vector<std::string> tier_order;
  std::string config_text;
  if (!opts.write_config.empty()) {
    auto cfg = load_config_file(opts.write_config);
    if (!cfg.ok()) {
      std::cerr << cfg.message() << '\n';
      return 2;
    }
    tier_order = cfg.value->tiers;
    read_file(opts.write_config, config_text);
  }

  auto result = calibrate_thresholds(loaded.records, opts.target, tier_order);
  for (const auto& r : result.routes) print_route(r, opts.target);
  for (const auto& e : result.errors) std::cerr << opts.outcomes_path << ": " << e << '\n';
  if (!result.errors.empty()) return 2;
  bool all_met = true;
  for (const auto& r : result.routes) all_met = all_met && r.target_met;
  if (!all_met) {
    std::cerr << "router calibrate: some routes cannot reach quality " << opts.target
              << " with these outcomes" << (opts.write_config.empty() ? "" : "; config not written")
              << '\n';
    return 1;
  }
  if (opts.write_config.empty()) return 0;

  std::string updated, error;
  if (!write_thresholds_into_config(config_text, result.routes, opts.write_config, updated,
                                    error)) {
    std::cerr << error << '\n';
    return 2;
  }
  // Write next to the target, then rename: a crash never leaves half a config.
  std::string tmp = opts.write_config + ".calibrate.tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << updated;
    if (!out.flush()) {
      std::cerr << tmp << ": cannot write\n";
      return 2;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, opts.write_config, ec);
  if (ec) {
    std::cerr << opts.write_config << ": cannot replace: " << ec.message() << '\n';
    std::filesystem::remove(tmp, ec);
    return 2;
  }
  std::cout << "wrote thresholds of " << result.routes.size() << " route(s) to "
            << opts.write_config << " (resilience.cascade)\n";
  return 0;
}

}  // namespace switchyard::cli
