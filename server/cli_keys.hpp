#pragma once
// `switchyard keys create|list|revoke`: the gateway's virtual API keys
// (gateway/key_store.hpp). The key database is locked while `switchyard serve` runs
// on it: manage keys with the gateway stopped.

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
/// Exit status 0, 1 when revoke names no key, 2 for bad usage or a locked database.
int keys_create(const keys_options& opts);
int keys_list(const keys_options& opts);
int keys_revoke(const keys_options& opts);

}  // namespace switchyard::cli
