#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "runtime/config.hpp"

using nlohmann::json;
using switchyard::parse_config;

namespace {

json minimal() {
  return R"({
    "tiers": ["local"],
    "providers": [{"name": "sim", "kind": "sim"}],
    "models": [{"id": "small", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
                "price_out_per_mtok": 0, "context_window": 8192, "residency": "local"}]
  })"_json;
}

}  // namespace

TEST_CASE("config gateway: defaults apply when the section is absent", "[config]") {
  auto loaded = parse_config(minimal(), "t");
  REQUIRE(loaded.ok());
  const auto& g = loaded.value->gateway;
  CHECK(g.listen == "127.0.0.1:8080");
  CHECK(g.auth == "keys");
  CHECK(g.max_body_bytes == 1048576);
  CHECK(g.max_connections == 1024);
  CHECK(g.audit_path.empty());
  CHECK_FALSE(g.audit_prompts);
}

TEST_CASE("config gateway: every field is read", "[config]") {
  auto doc = minimal();
  doc["gateway"] = R"({"listen": "0.0.0.0:9000", "io_threads": 2, "auth": "none",
    "keys_path": "/tmp/k", "max_body_bytes": 2048, "max_header_bytes": 4096,
    "idle_timeout_ms": 100, "read_timeout_ms": 200, "max_connections": 3,
    "request_timeout_ms": 5000, "default_max_tokens": 77,
    "audit": {"path": "a.jsonl", "max_bytes": 10000, "keep_files": 1, "prompts": true}})"_json;
  auto loaded = parse_config(doc, "t");
  REQUIRE(loaded.ok());
  const auto& g = loaded.value->gateway;
  CHECK(g.listen == "0.0.0.0:9000");
  CHECK(g.io_threads == 2);
  CHECK(g.auth == "none");
  CHECK(g.max_connections == 3);
  CHECK(g.default_max_tokens == 77);
  CHECK(g.audit_path == "a.jsonl");
  CHECK(g.audit_max_bytes == 10000);
  CHECK(g.audit_keep_files == 1);
  CHECK(g.audit_prompts);
}

TEST_CASE("config gateway: bad values and unknown keys are reported with their paths", "[config]") {
  auto doc = minimal();
  doc["gateway"] = R"({"listen": "localhost", "auth": "maybe", "max_connections": 0,
    "colour": 1, "audit": {"prompts": "yes"}})"_json;
  auto loaded = parse_config(doc, "t");
  REQUIRE_FALSE(loaded.ok());
  auto text = loaded.message();
  CHECK(text.find("gateway.listen: must be HOST:PORT") != std::string::npos);
  CHECK(text.find("gateway.auth: must be one of keys, none") != std::string::npos);
  CHECK(text.find("gateway.max_connections: must be an integer from 1") != std::string::npos);
  CHECK(text.find("gateway.colour: unknown key") != std::string::npos);
  CHECK(text.find("gateway.audit.prompts: must be true or false") != std::string::npos);
}
