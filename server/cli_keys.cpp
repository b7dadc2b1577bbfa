#include "server/cli_keys.hpp"

#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "gateway/key_store.hpp"
#include "runtime/config.hpp"
#include "server/cli_runs.hpp"
#include "server/cli_serve.hpp"

namespace switchyard::cli {

namespace {

std::unique_ptr<gateway::key_store> open_keys(const keys_options& opts) {
  std::optional<config> cfg;
  if (!opts.config_path.empty()) {
    auto loaded = load_config_file(opts.config_path);
    if (!loaded.ok()) {
      std::cerr << loaded.message() << '\n';
      return nullptr;
    }
    cfg = std::move(*loaded.value);
  }
  auto path = keys_db_path(opts.db, cfg ? cfg->gateway.keys_path : "",
                           store_path("", cfg ? &*cfg : nullptr));
  auto opened = gateway::key_store::open(path);
  if (!opened.ok()) {
    std::cerr << "keys: " << opened.error << '\n';
    return nullptr;
  }
  return std::move(opened.store);
}

}  // namespace

int keys_create(const keys_options& opts) {
  auto keys = open_keys(opts);
  if (!keys) return 2;
  auto made = keys->create(opts.name, opts.budget_usd, opts.rpm);
  if (!made.error.empty()) {
    std::cerr << made.error << '\n';
    return 2;
  }
  if (opts.json) {
    std::cout << nlohmann::json{{"id", made.record.id},
                                {"name", made.record.name},
                                {"key", made.key},
                                {"budget_usd", made.record.budget_usd},
                                {"rpm", made.record.rpm}}
                     .dump()
              << std::endl;
  } else {
    std::cout << "id    " << made.record.id << "\nname  " << made.record.name << "\nkey   "
              << made.key << "\n(the key is shown only now; only its SHA-256 is stored)"
              << std::endl;
  }
  return 0;
}

int keys_list(const keys_options& opts) {
  auto keys = open_keys(opts);
  if (!keys) return 2;
  auto all = keys->list();
  for (const auto& k : all) {
    if (opts.json) {
      std::cout << nlohmann::json{{"id", k.id},
                                  {"name", k.name},
                                  {"revoked", k.revoked},
                                  {"created_ms", k.created_ms},
                                  {"budget_usd", k.budget_usd},
                                  {"rpm", k.rpm},
                                  {"spent_usd", k.spent_usd},
                                  {"tokens", k.tokens},
                                  {"requests", k.requests}}
                       .dump()
                << '\n';
    } else {
      std::cout << fmt::format("{}  {:<20} {:<8} spent ${:.6f}{}  {} requests  rpm {}\n", k.id,
                               k.name, k.revoked ? "revoked" : "active", k.spent_usd,
                               k.budget_usd > 0 ? fmt::format(" of ${:.2f}", k.budget_usd) : "",
                               k.requests,
                               k.rpm == 0 ? std::string("unlimited") : std::to_string(k.rpm));
    }
  }
  if (all.empty() && !opts.json) std::cout << "no keys\n";
  return 0;
}

int keys_revoke(const keys_options& opts) {
  auto keys = open_keys(opts);
  if (!keys) return 2;
  if (auto error = keys->revoke(opts.id); !error.empty()) {
    std::cerr << error << '\n';
    return 1;
  }
  std::cout << "revoked " << opts.id << std::endl;
  return 0;
}

}  // namespace switchyard::cli
