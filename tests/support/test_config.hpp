#pragma once
// Test helpers: configs written inline, loaded through the real validator.

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "runtime/config.hpp"

namespace switchyard::testing {

/// A config with one sim provider and the given models/workflows JSON fragments.
/// `models` is the JSON array text of the catalog; `extra` is appended to the root
/// object (e.g. R"("workflows": {...})").
inline std::shared_ptr<const config> make_config(const std::string& models,
                                                 const std::string& extra = "") {
  std::string text = R"({"runtime": {"workers": 2, "log_level": "off"},
    "tiers": ["local", "mid", "frontier"],
    "providers": [{"name": "sim", "kind": "sim", "seed": 7}],
    "models": )" + models;
  if (!extra.empty()) text += ", " + extra;
  text += "}";
  auto loaded = parse_config_text(text, "test-config");
  INFO(loaded.message());
  REQUIRE(loaded.ok());
  return std::make_shared<const config>(std::move(*loaded.value));
}

/// Two free-ish sim models, one local and one mid, with no latency and no faults.
inline const char* basic_models = R"([
  {"id": "local-a", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
   "price_out_per_mtok": 0, "context_window": 8192, "residency": "local"},
  {"id": "mid-a", "provider": "sim", "tier": "mid", "price_in_per_mtok": 1.0,
   "price_out_per_mtok": 2.0, "context_window": 16384, "residency": "cloud"}
])";

}  // namespace switchyard::testing
