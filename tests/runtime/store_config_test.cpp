// The `store` section of the config: defaults, values, and errors naming the path.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "runtime/config.hpp"

using nlohmann::json;
using namespace switchyard;

namespace {

json doc_with_store(const json& store) {
  auto doc = R"({
    "tiers": ["local"],
    "providers": [{"name": "sim", "kind": "sim"}],
    "models": [{"id": "small", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
                "price_out_per_mtok": 0, "context_window": 8192, "residency": "local"}]
  })"_json;
  if (!store.is_null()) doc["store"] = store;
  return doc;
}

}  // namespace

TEST_CASE("config: without a store section runs stay in memory, with documented defaults",
          "[config]") {
  auto loaded = parse_config(doc_with_store(nullptr), "t");
  REQUIRE(loaded.ok());
  const auto& s = loaded.value->store;
  CHECK(s.path.empty());
  CHECK_FALSE(s.sync);
  CHECK(s.completed_ttl_hours == 168);
  CHECK(s.resume_backoff_ms == 200);
  CHECK(s.resume_max_backoff_ms == 30000);
}

TEST_CASE("config: store settings are read", "[config]") {
  auto loaded = parse_config(doc_with_store({{"path", "/var/lib/sy"},
                                             {"sync", true},
                                             {"completed_ttl_hours", 24},
                                             {"resume_backoff_ms", 50},
                                             {"resume_max_backoff_ms", 5000}}),
                             "t");
  REQUIRE(loaded.ok());
  const auto& s = loaded.value->store;
  CHECK(s.path == "/var/lib/sy");
  CHECK(s.sync);
  CHECK(s.completed_ttl_hours == 24);
  CHECK(s.resume_backoff_ms == 50);
  CHECK(s.resume_max_backoff_ms == 5000);
}

TEST_CASE("config: bad store settings are reported with their paths", "[config]") {
  auto loaded = parse_config(doc_with_store({{"path", 3},
                                             {"sync", "yes"},
                                             {"resume_backoff_ms", 500},
                                             {"resume_max_backoff_ms", 100},
                                             {"ttl", 1}}),
                             "t");
  REQUIRE_FALSE(loaded.ok());
  auto all = loaded.message();
  INFO(all);
  CHECK(all.find("store.ttl: unknown key") != std::string::npos);
  CHECK(all.find("store.path: must be a string, got 3") != std::string::npos);
  CHECK(all.find("store.sync: must be true or false, got \"yes\"") != std::string::npos);
  CHECK(all.find("store.resume_max_backoff_ms: must be >= resume_backoff_ms (500), got 100") !=
        std::string::npos);
}
