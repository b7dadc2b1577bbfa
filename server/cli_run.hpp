#pragma once
// `switchyard run`: run a registered workflow once (--input) or over a JSONL batch.

#include <string>

namespace switchyard::cli {

struct run_options {
  std::string workflow;
  std::string config_path;
  std::string input;
  std::string batch_path;
  std::string thread_id;
  bool json = false;
  std::string log_level;  // empty: the config's runtime.log_level
  std::string db;         // checkpoint store; empty: config store.path, else the default
  bool no_db = false;     // in memory only: nothing survives the process
  size_t max_in_flight = 256;
  std::string audit_path;    // write every model request as sent (JSONL); empty: none
  bool progress = false;     // support batches: progress bar even when stderr is no TTY
  bool interactive = false;  // support: stdin lines are turns of one thread
};

/// Every run is checkpointed in the store (see docs/durability.md) unless `no_db`;
/// runs left running or blocked there by an earlier process are recovered too.
/// Exit status: 0 when every run completed or was escalated (a handled outcome),
/// 1 when any run failed, 2 for bad usage, config, input or store (e.g. locked).
/// Workflow "support" goes to support_command (server/cli_support.hpp).
int run_command(const run_options& opts);

}  // namespace switchyard::cli
