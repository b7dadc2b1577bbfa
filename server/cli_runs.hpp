#pragma once
// `switchyard runs ...`: list, show, resume and garbage-collect the runs of a
// checkpoint store, and the store opening shared with `switchyard run`.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "runtime/checkpoint_store.hpp"
#include "runtime/config.hpp"

namespace switchyard::cli {

/// $XDG_STATE_HOME/switchyard/runs, else $HOME/.local/state/switchyard/runs, else
/// ./switchyard-runs.
std::string default_store_path();

/// The store path to use: `--db`, else the config's store.path, else the default.
std::string store_path(const std::string& db_flag, const config* cfg);

/// Parses "30s", "30m", "12h", "7d" (a positive integer and a unit) into
/// milliseconds; nullopt when malformed.
std::optional<int64_t> parse_duration_ms(const std::string& text);

struct runs_options {
  std::string db;           // --db; empty: from the config or the default
  std::string config_path;  // --config; optional except for resume
  std::string status;       // list --status
  bool json = false;
  std::string run_id;        // show / resume
  bool all_blocked = false;  // resume --all-blocked
  std::string older_than;    // gc --older-than
  std::string log_level;
};

/// Exit status: 0 fine, 1 a run failed / is still blocked / not found, 2 bad usage,
/// config or store (locked, unreadable).
int runs_list(const runs_options& opts);
int runs_show(const runs_options& opts);
int runs_resume(const runs_options& opts);
int runs_gc(const runs_options& opts);

}  // namespace switchyard::cli
