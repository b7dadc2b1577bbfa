#include "server/cli_runs.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "examples/builtin_workflows.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/logging.hpp"
#include "runtime/run_result_json.hpp"
#include "workflows/engine.hpp"
#include "workflows/run_report.hpp"

namespace switchyard::cli {

std::string default_store_path() {
  if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state)
    return std::string{state} + "/switchyard/runs";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string{home} + "/.local/state/switchyard/runs";
  return "switchyard-runs";
}

std::string store_path(const std::string& db_flag, const config* cfg) {
  if (!db_flag.empty()) return db_flag;
  if (cfg && !cfg->store.path.empty()) return cfg->store.path;
  return default_store_path();
}

std::optional<int64_t> parse_duration_ms(const std::string& text) {
  if (text.size() < 2) return std::nullopt;
  int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1000;
      break;
    case 'm':
      unit = 60 * 1000;
      break;
    case 'h':
      unit = 3600 * 1000;
      break;
    case 'd':
      unit = 24 * 3600 * 1000;
      break;
    default:
      return std::nullopt;
  }
  int64_t n = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    n = n * 10 + (text[i] - '0');
    if (n > 1000000000) return std::nullopt;
  }
  if (n <= 0) return std::nullopt;
  return n * unit;
}

namespace {

std::shared_ptr<const config> load_optional_config(const std::string& path, bool& ok) {
  ok = true;
  if (path.empty()) return nullptr;
  auto loaded = load_config_file(path);
  if (!loaded.ok()) {
    std::cerr << loaded.message() << '\n';
    ok = false;
    return nullptr;
  }
  return std::make_shared<const config>(std::move(*loaded.value));
}

std::unique_ptr<checkpoint_store> open_store(const std::string& path, bool read_only,
                                             bool sync = false) {
  auto opened = checkpoint_store::open({path, sync, read_only});
  if (!opened.ok()) {
    std::cerr << opened.error << '\n';
    return nullptr;
  }
  return std::move(opened.store);
}

nlohmann::json summary_json(const run_checkpoint& c) {
  return {{"run_id", c.run_id},
          {"workflow", c.workflow},
          {"thread_id", c.thread_id},
          {"status", to_string(c.status)},
          {"reason", c.reason},
          {"detail", c.detail},
          {"waits_for", c.waits_for},
          {"steps", c.steps},
          {"hops", c.hops},
          {"cost_usd", static_cast<double>(c.spent_nano_usd) / 1e9},
          {"created_ms", c.created_ms},
          {"updated_ms", c.updated_ms}};
}

}  // namespace

int runs_list(const runs_options& opts) {
  bool ok = true;
  auto cfg = load_optional_config(opts.config_path, ok);
  if (!ok) return 2;
  std::optional<run_status> wanted;
  if (!opts.status.empty()) {
    wanted = parse_run_status(opts.status);
    if (!wanted) {
      std::cerr << "runs list: unknown status '" << opts.status
                << "' (running, blocked, completed, escalated, failed)\n";
      return 2;
    }
  }
  auto store = open_store(store_path(opts.db, cfg.get()), true);
  if (!store) return 2;
  size_t shown = 0;
  for (const auto& r : store->list()) {
    if (!r.state) {
      if (wanted && *wanted != run_status::failed) continue;
      if (opts.json)
        std::cout << nlohmann::json{{"run_id", r.run_id},
                                    {"status", "failed"},
                                    {"reason", "bad_checkpoint"},
                                    {"detail", r.error}}
                         .dump()
                  << '\n';
      else
        std::cout << fmt::format("{:<24} {:<10} bad_checkpoint: {}\n", r.run_id, "failed", r.error);
      ++shown;
      continue;
    }
    const auto& c = *r.state;
    if (wanted && c.status != *wanted) continue;
    ++shown;
    if (opts.json) {
      std::cout << summary_json(c).dump() << '\n';
      continue;
    }
    auto why = c.reason.empty() ? std::string{} : " (" + c.reason + ")";
    if (c.status == run_status::blocked) why += " waits for " + c.waits_for;
    std::cout << fmt::format("{:<24} {:<10} {:<10} steps {:>4}  ${:.6f}{}\n", c.run_id, c.workflow,
                             to_string(c.status), c.steps,
                             static_cast<double>(c.spent_nano_usd) / 1e9, why);
  }
  if (!opts.json && shown == 0) std::cout << "no runs\n";
  return 0;
}

int runs_show(const runs_options& opts) {
  bool ok = true;
  auto cfg = load_optional_config(opts.config_path, ok);
  if (!ok) return 2;
  auto store = open_store(store_path(opts.db, cfg.get()), true);
  if (!store) return 2;
  auto loaded = store->load(opts.run_id);
  if (!loaded) {
    std::cerr << "runs show: no run '" << opts.run_id << "' in '" << store->path() << "'\n";
    return 1;
  }
  if (!loaded->state) {
    std::cerr << "runs show: run '" << opts.run_id << "': " << loaded->error << '\n';
    return 1;
  }
  const auto& c = *loaded->state;
  std::vector<std::string> step_errors;
  auto steps = store->steps(c.run_id, &step_errors);
  auto ledger = store->ledger(c.run_id);
  int64_t ledger_nano = 0;
  for (const auto& e : ledger) ledger_nano += e.nano_usd;
  if (opts.json) {
    auto j = summary_json(c);
    j["input"] = c.input;
    j["output"] = c.output;
    j["next"] = {{"node", c.next_node}, {"step", c.next_step}};
    auto steps_json = nlohmann::json::array();
    for (const auto& s : steps) steps_json.push_back(to_json(s));
    j["transcript"] = std::move(steps_json);
    auto ledger_json = nlohmann::json::array();
    for (const auto& e : ledger)
      ledger_json.push_back({{"call_id", e.call_id},
                             {"model", e.model},
                             {"tokens", e.tokens},
                             {"cost_usd", static_cast<double>(e.nano_usd) / 1e9}});
    j["ledger"] = std::move(ledger_json);
    j["ledger_usd"] = static_cast<double>(ledger_nano) / 1e9;
    if (!step_errors.empty()) j["record_errors"] = step_errors;
    std::cout << j.dump() << '\n';
    return 0;
  }
  auto r = stored_result(c, std::move(steps));
  std::cout << describe_run(r);
  if (c.status == run_status::blocked) std::cout << "waits for " << c.waits_for << '\n';
  if (!c.input.empty()) std::cout << "input    " << c.input << '\n';
  std::cout << fmt::format("ledger   {} paid call(s), ${:.6f}\n", ledger.size(),
                           static_cast<double>(ledger_nano) / 1e9);
  for (const auto& e : ledger)
    std::cout << fmt::format("  {:<32} {:<22} {:>7} tok  ${:.6f}\n", e.call_id, e.model, e.tokens,
                             static_cast<double>(e.nano_usd) / 1e9);
  for (const auto& e : step_errors) std::cout << "bad record: " << e << '\n';
  std::cout << "decision traces: none recorded for this run\n";
  return 0;
}

int runs_resume(const runs_options& opts) {
  if (opts.config_path.empty()) {
    std::cerr << "runs resume: --config is required (the run's workflows and models)\n";
    return 2;
  }
  bool ok = true;
  auto cfg = load_optional_config(opts.config_path, ok);
  if (!ok) return 2;
  init_logging(opts.log_level.empty() ? cfg->runtime.log_level : opts.log_level);
  workflow_registry registry;
  if (auto problem = examples::register_builtin_workflows(registry); !problem.empty()) {
    std::cerr << problem << '\n';
    return 2;
  }
  std::shared_ptr<checkpoint_store> store =
      open_store(store_path(opts.db, cfg.get()), false, cfg->store.sync);
  if (!store) return 2;
  std::vector<std::string> ids;
  if (opts.all_blocked) {
    // Blocked runs, and running ones: a run "running" in a store nobody holds was cut
    // by a crash, and start-up recovery continues it anyway.
    for (const auto& r : store->list())
      if (r.state && !is_ended(r.state->status)) ids.push_back(r.run_id);
  } else {
    auto loaded = store->load(opts.run_id);
    if (!loaded) {
      std::cerr << "runs resume: no run '" << opts.run_id << "' in '" << store->path() << "'\n";
      return 1;
    }
    ids.push_back(opts.run_id);
  }
  std::vector<run_result> results;
  {
    actor_runtime runtime{cfg->runtime};
    engine eng{runtime.system(), cfg, registry, store};
    results = eng.resume_all(ids);
  }
  int status = 0;
  size_t completed = 0;
  for (const auto& r : results) {
    if (opts.json)
      std::cout << to_json(r).dump() << '\n';
    else
      std::cout << fmt::format("{:<24} {}{}\n", r.run_id, to_string(r.status),
                               r.reason.empty() ? "" : " (" + r.reason + ")");
    if (r.status == run_status::completed) ++completed;
    if (r.status == run_status::failed || r.status == run_status::blocked) status = 1;
  }
  if (!opts.json)
    std::cout << fmt::format("resumed {} run(s): {} completed\n", results.size(), completed);
  return status;
}

int runs_gc(const runs_options& opts) {
  auto older = parse_duration_ms(opts.older_than);
  if (!older) {
    std::cerr << "runs gc: --older-than must be a positive number and a unit s, m, h or d "
                 "(e.g. 7d, 12h, 30m), got '"
              << opts.older_than << "'\n";
    return 2;
  }
  bool ok = true;
  auto cfg = load_optional_config(opts.config_path, ok);
  if (!ok) return 2;
  auto store = open_store(store_path(opts.db, cfg.get()), false);
  if (!store) return 2;
  std::string error;
  auto erased = store->erase_ended_before(unix_now_ms() - *older, &error);
  std::cout << "deleted " << erased << " ended run(s) last updated more than " << opts.older_than
            << " ago from " << store->path() << '\n';
  if (!error.empty()) {
    std::cerr << error << '\n';
    return 1;
  }
  return 0;
}

}  // namespace switchyard::cli
