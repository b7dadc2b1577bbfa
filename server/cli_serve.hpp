#pragma once
// `switchyard serve`: the OpenAI-compatible HTTP gateway (docs/gateway.md).

#include <cstdint>
#include <string>

namespace switchyard::cli {

struct serve_options {
  std::string config_path;
  std::string listen;       // empty: the config's gateway.listen
  std::string db;           // checkpoint store; empty: config store.path, else the default
  bool no_db = false;       // runs in memory only
  std::string keys_db;      // key database; empty: gateway.keys_path, else "<store>-keys"
  double exit_after_s = 0;  // > 0: stop by itself after this long (tests)
  std::string log_level;
};

/// Serves until SIGINT/SIGTERM (or --exit-after). Prints
/// "switchyard serve: listening on http://HOST:PORT" once ready. Exit status 0 on a
/// clean stop, 2 for bad usage, config, store or a port it cannot bind.
int serve_command(const serve_options& opts);

/// Where the key database lives: `flag` when given, else `configured`
/// (gateway.keys_path), else "<store_dir>-keys".
std::string keys_db_path(const std::string& flag, const std::string& configured,
                         const std::string& store_dir);

}  // namespace switchyard::cli
