#pragma once
// `switchyard keys create|list|revoke`: the gateway's virtual API keys
// (gateway/key_store.hpp). While `switchyard serve` holds the key database (RocksDB
// locks it), the commands go to that server's /admin/keys endpoint instead, which it
// announces in "<keys db>.admin.json" (gateway::keys_admin_file) with a
// token made at start; with neither the database nor a server to ask, a clear error.

#include <cstdint>
#include <string>

namespace switchyard::cli {

struct keys_options {
  std::string db;           // --db: the key database; else from --config, else the default
  std::string config_path;  // --config: gateway.keys_path and store.path
  std::string name;         // create
  double budget_usd = 0;    // create; 0: unlimited
  uint32_t rpm = 0;         // create; 0: unlimited
  std::string id;           // revoke
  bool json = false;
};

/// create prints the key once (it is not stored); list never shows keys, only ids.
/// Exit status 0, 1 when revoke names no key, 2 for bad usage, a locked database
/// without a reachable server, or a server that refused.
int keys_create(const keys_options& opts);
int keys_list(const keys_options& opts);
int keys_revoke(const keys_options& opts);

}  // namespace switchyard::cli
