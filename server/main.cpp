// switchyard: the command-line entry point. Every subcommand has --help.

#include <CLI/CLI.hpp>
#include <iostream>

#include "agents/support_data.hpp"
#include "examples/builtin_workflows.hpp"
#include "runtime/config.hpp"
#include "server/cli_router.hpp"
#include "server/cli_calibrate.hpp"
#include "server/cli_keys.hpp"
#include "server/cli_serve.hpp"
#include "server/cli_run.hpp"
#include "server/cli_stub_provider.hpp"

#include "server/cli_runs.hpp"
#include "workflows/engine.hpp"

namespace {

int list_workflows() {
  switchyard::workflow_registry registry;
  if (auto problem = switchyard::examples::register_builtin_workflows(registry); !problem.empty()) {
    std::cerr << problem << '\n';
    return 2;
  }
  for (const auto& [name, wf] : registry.all()) {
    std::cout << name << "  (" << wf.definition->nodes().size() << " agents)  " << wf.description
              << '\n';
  }
  return 0;
}

int check_config(const std::string& path) {
  auto loaded = switchyard::load_config_file(path);
  if (!loaded.ok()) {
    std::cerr << loaded.message() << '\n';
    return 2;
  }
  switchyard::workflow_registry registry;
  if (auto problem = switchyard::examples::register_builtin_workflows(registry);
      !problem.empty()) {
    std::cerr << problem << '\n';
    return 2;
  }
  auto problems = switchyard::engine::check(*loaded.value, registry);
  // The support swarm's data, when named: a wrong path should show here, not mid-batch.
  std::string support_problem;
  if (!loaded.value->support.knowledge_base.empty() &&
      !switchyard::load_support_knowledge_base(*loaded.value, support_problem))
    problems.push_back(support_problem);
  support_problem.clear();
  if (!loaded.value->support.orders.empty() &&
      !switchyard::load_support_orders(*loaded.value, support_problem))
    problems.push_back(support_problem);
  for (const auto& p : problems) std::cerr << path << ": " << p << '\n';
  if (!problems.empty()) return 2;
  const auto& cfg = *loaded.value;
  std::cout << path << ": ok (" << cfg.tiers.size() << " tiers, " << cfg.models.size()
            << " models, " << cfg.workflows.size() << " workflow settings)\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Switchyard: a runtime for agent swarms with a multi-model router"};
  app.require_subcommand(1);

  switchyard::cli::run_options run_opts;
  auto* run = app.add_subcommand("run", "Run a registered workflow and print its result");
  run->add_option("workflow", run_opts.workflow, "Workflow name (see `switchyard workflows`)")
      ->required();
  run->add_option("--config", run_opts.config_path, "Config file (JSON)")
      ->required()
      ->check(CLI::ExistingFile);
  auto* input = run->add_option("--input", run_opts.input, "The message to start the run with");
  auto* batch = run->add_option("--batch", run_opts.batch_path,
                                "JSONL file, one run per line: {\"input\", \"thread_id\"?, "
                                "\"run_id\"?}")
                    ->check(CLI::ExistingFile);
  input->excludes(batch);
  batch->excludes(input);
  run->add_option("--thread", run_opts.thread_id,
                  "Thread id; runs on one thread share its budget (default: a new thread)");
  run->add_flag("--json", run_opts.json, "Print one JSON object per run on stdout");
  run->add_option("--log-level", run_opts.log_level,
                  "trace, debug, info, warn, error, critical or off (default: from config)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));

  run->add_option("--db", run_opts.db,
                  "Checkpoint store directory (default: the config's store.path, else " +
                      switchyard::cli::default_store_path() + ")");
  run->add_flag("--no-db", run_opts.no_db, "Keep runs in memory only: no checkpoints");
  run->add_option("--max-in-flight", run_opts.max_in_flight,
                  "Runs of a batch in flight at once (default: 256)")
      ->check(CLI::Range(1, 1000000));
  run->add_option("--audit", run_opts.audit_path,
                  "Write every model request as sent to this JSONL file (model, tier, "
                  "residency, payload)");
  run->add_flag("--progress", run_opts.progress,
                "support: show a progress bar on stderr for a batch (default: only on a TTY)");
  auto* interactive = run->add_flag(
      "--interactive", run_opts.interactive,
      "support: read one customer message per stdin line, one thread across turns");
  interactive->excludes(input);
  interactive->excludes(batch);

  auto* workflows = app.add_subcommand("workflows", "List the registered workflows");

  switchyard::cli::runs_options runs_opts;
  auto* runs = app.add_subcommand("runs", "Inspect and resume the runs of a checkpoint store");
  runs->require_subcommand(1);
  auto add_common = [&](CLI::App* cmd) {
    cmd->add_option("--db", runs_opts.db,
                    "Checkpoint store directory (default: the config's store.path, else " +
                        switchyard::cli::default_store_path() + ")");
    cmd->add_option("--config", runs_opts.config_path, "Config file (JSON)")
        ->check(CLI::ExistingFile);
  };
  auto* runs_list = runs->add_subcommand("list", "List runs with their status");
  add_common(runs_list);
  runs_list->add_option("--status", runs_opts.status,
                        "Only runs with this status: running, blocked, completed, escalated, "
                        "failed");
  runs_list->add_flag("--json", runs_opts.json, "One JSON object per run");
  auto* runs_show = runs->add_subcommand("show", "Show a run: transcript, cost per step, ledger");
  add_common(runs_show);
  runs_show->add_option("id", runs_opts.run_id, "Run id")->required();
  runs_show->add_flag("--json", runs_opts.json, "One JSON object");
  auto* runs_resume =
      runs->add_subcommand("resume", "Continue runs from their last checkpoint, once, and wait");
  add_common(runs_resume);
  auto* resume_id = runs_resume->add_option("id", runs_opts.run_id, "Run id");
  auto* resume_all =
      runs_resume->add_flag("--all-blocked", runs_opts.all_blocked,
                            "Every blocked run (and every running one a crash left behind)");
  resume_id->excludes(resume_all);
  runs_resume->add_flag("--json", runs_opts.json, "One JSON object per run");
  runs_resume->add_option("--log-level", runs_opts.log_level, "spdlog level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  auto* runs_gc = runs->add_subcommand("gc", "Delete ended runs older than a duration");
  add_common(runs_gc);
  runs_gc->add_option("--older-than", runs_opts.older_than, "e.g. 7d, 12h, 30m, 45s")->required();

  std::string config_path;
  auto* config_cmd = app.add_subcommand("config", "Work with config files");
  config_cmd->require_subcommand(1);
  auto* check =
      config_cmd->add_subcommand("check", "Validate a config file and report every problem");
  check->add_option("--config", config_path, "Config file (JSON)")->required();

  switchyard::cli::router_eval_options eval_opts;
  std::string solver_name = "cs";
  auto* router_cmd = app.add_subcommand("router", "Work with the model router");
  router_cmd->require_subcommand(1);
  auto* eval = router_cmd->add_subcommand(
      "eval", "Train the intent classifier on one labelled file and score it on another");
  eval->add_option("--train", eval_opts.train_path,
                   "Training utterances: CSV (text,label header) or JSONL {\"text\",\"label\"}");
  eval->add_option("--test", eval_opts.test_path, "Test utterances, same formats")->required();
  eval->add_option("--oos-label", eval_opts.oos_label,
                   "Label of out-of-scope test examples; \"no route\" counts as that label");
  eval->add_option("--threshold", eval_opts.threshold,
                   "Confidence below which the answer is \"no route\" (default 0)");
  eval->add_flag("--json", eval_opts.json, "End with one JSON object of the figures");
  eval->add_option("--save", eval_opts.save_path, "Write the trained model to this file");
  eval->add_option("--load", eval_opts.load_path, "Score a saved model instead of training");
  eval->add_option("--solver", solver_name,
                   "cs (Crammer-Singer multi-class SVM, default), svm (one-vs-rest) or lr "
                   "(logistic regression)")
      ->check(CLI::IsMember({"lr", "svm", "cs"}));
  eval->add_option("--c", eval_opts.classifier.c, "liblinear cost C (default 1)");
  eval->add_option("--min-weight", eval_opts.classifier.min_weight,
                   "Drop trained weights smaller than this in magnitude (default 0)");
  eval->add_option("--word-max", eval_opts.classifier.features.word_ngram_max,
                   "Longest word n-gram (default 2)");
  eval->add_option("--skip-window", eval_opts.classifier.features.skip_pair_window,
                   "Word pairs up to this far apart are features too, 0 for none (default 5)");
  eval->add_option("--char-min", eval_opts.classifier.features.char_ngram_min,
                   "Shortest char n-gram, 0 for none (default 2)");
  eval->add_option("--char-max", eval_opts.classifier.features.char_ngram_max,
                   "Longest char n-gram (default 5)");
  eval->add_option("--min-df", eval_opts.classifier.features.min_document_frequency,
                   "Texts an n-gram must appear in to be a feature (default 1)");
  eval->add_option("--char-weight", eval_opts.classifier.features.char_weight,
                   "Weight of the char block against the word block (default 1)");
  switchyard::cli::calibrate_options calibrate_opts;
  auto* calibrate = switchyard::cli::add_calibrate_subcommand(*router_cmd, calibrate_opts);

  switchyard::cli::stub_provider_options stub_opts;
  auto* stub = app.add_subcommand(
      "stub-provider",
      "Serve fake OpenAI/Anthropic/Gemini endpoints on 127.0.0.1 (docs/stub_provider.md)");
  stub->add_option("--port", stub_opts.port, "Port to listen on; 0 picks a free one (printed)")
      ->required();
  stub->add_option("--script", stub_opts.script_path, "JSON script of per-model behaviour")
      ->check(CLI::ExistingFile);
  stub->add_option("--max-seconds", stub_opts.max_seconds,
                   "Stop after this many seconds (default: run until SIGINT/SIGTERM)");

  switchyard::cli::serve_options serve_opts;
  auto* serve = app.add_subcommand(
      "serve", "Serve the OpenAI-compatible HTTP gateway (docs/gateway.md)");
  serve->add_option("--config", serve_opts.config_path, "Config file (JSON)")
      ->required()
      ->check(CLI::ExistingFile);
  serve->add_option("--listen", serve_opts.listen,
                    "HOST:PORT to listen on; port 0 picks a free one (default: gateway.listen, "
                    "127.0.0.1:8080)");
  serve->add_option("--db", serve_opts.db,
                    "Checkpoint store directory (default: the config's store.path, else " +
                        switchyard::cli::default_store_path() + ")");
  serve->add_flag("--no-db", serve_opts.no_db, "Keep runs in memory only: no checkpoints");
  serve->add_option("--keys-db", serve_opts.keys_db,
                    "Key database directory (default: gateway.keys_path, else <db>-keys)");
  serve->add_option("--exit-after", serve_opts.exit_after_s,
                    "Stop by itself after this many seconds (default: run until SIGINT/SIGTERM)");
  serve->add_option("--log-level", serve_opts.log_level, "spdlog level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));

  switchyard::cli::keys_options keys_opts;
  auto* keys = app.add_subcommand("keys", "Manage the gateway's virtual API keys");
  keys->require_subcommand(1);
  auto add_keys_common = [&](CLI::App* cmd) {
    cmd->add_option("--db", keys_opts.db,
                    "Key database directory (default: gateway.keys_path of --config, else "
                    "<store path>-keys)");
    cmd->add_option("--config", keys_opts.config_path, "Config file (JSON)")
        ->check(CLI::ExistingFile);
    cmd->add_flag("--json", keys_opts.json, "JSON output");
  };
  auto* keys_create = keys->add_subcommand("create", "Create a key and print it (only once)");
  add_keys_common(keys_create);
  keys_create->add_option("--name", keys_opts.name, "A label for the key")->required();
  keys_create->add_option("--budget-usd", keys_opts.budget_usd,
                          "Spend limit in USD (default 0: unlimited)")
      ->check(CLI::NonNegativeNumber);
  keys_create->add_option("--rpm", keys_opts.rpm,
                          "Requests per minute (default 0: unlimited)");
  auto* keys_list = keys->add_subcommand("list", "List keys (ids, never the keys)");
  add_keys_common(keys_list);
  auto* keys_revoke = keys->add_subcommand("revoke", "Revoke a key by id");
  add_keys_common(keys_revoke);
  keys_revoke->add_option("id", keys_opts.id, "Key id (from keys list)")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (*run) {
    if (input->count() == 0 && run_opts.batch_path.empty() && !run_opts.interactive) {
      std::cerr << "run: give --input TEXT, --batch FILE or (support) --interactive\n";
      return 2;
    }
    return switchyard::cli::run_command(run_opts);
  }
  if (*workflows) return list_workflows();
  if (*runs_list) return switchyard::cli::runs_list(runs_opts);
  if (*runs_show) return switchyard::cli::runs_show(runs_opts);
  if (*runs_resume) {
    if (runs_opts.run_id.empty() && !runs_opts.all_blocked) {
      std::cerr << "runs resume: give a run id or --all-blocked\n";
      return 2;
    }
    return switchyard::cli::runs_resume(runs_opts);
  }
  if (*runs_gc) return switchyard::cli::runs_gc(runs_opts);
  if (*check) return check_config(config_path);
  if (*eval) {
    switchyard::parse_linear_solver(solver_name, eval_opts.classifier.solver);
    return switchyard::cli::router_eval_command(eval_opts);
  }
  if (*calibrate) return switchyard::cli::calibrate_command(calibrate_opts);

  if (*stub) return switchyard::cli::stub_provider_command(stub_opts);
  if (*serve) return switchyard::cli::serve_command(serve_opts);
  if (*keys_create) return switchyard::cli::keys_create(keys_opts);
  if (*keys_list) return switchyard::cli::keys_list(keys_opts);
  if (*keys_revoke) return switchyard::cli::keys_revoke(keys_opts);
  return 2;
}
