#include <catch2/catch.hpp>

#include "runtime/config.hpp"

using namespace switchyard;

namespace {

config_load_result with_support(const std::string& support) {
  return parse_config_text(R"({"tiers": ["local"],
    "providers": [{"name": "sim", "kind": "sim"}],
    "models": [{"id": "m", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
                "price_out_per_mtok": 0, "context_window": 8192, "residency": "local"}],
    "support": )" + support + "}",
                           "support-config");
}

}  // namespace

TEST_CASE("config: the support section is read with its defaults", "[config]") {
  auto loaded = with_support(R"({"knowledge_base": "kb", "orders": "orders.json"})");
  INFO(loaded.message());
  REQUIRE(loaded.ok());
  CHECK(loaded.value->support.knowledge_base == "kb");
  CHECK(loaded.value->support.orders == "orders.json");
  CHECK(loaded.value->support.max_ticket_bytes == 262144);
  CHECK(loaded.value->support.articles == 3);
}

TEST_CASE("config: support errors name the path and the value", "[config]") {
  auto loaded =
      with_support(R"({"knowledge_base": "", "max_ticket_bytes": 0, "articles": 99, "kb": 1})");
  REQUIRE_FALSE(loaded.ok());
  auto text = loaded.message();
  CHECK(text.find("support.knowledge_base: must not be empty") != std::string::npos);
  CHECK(text.find("support.max_ticket_bytes") != std::string::npos);
  CHECK(text.find("support.articles") != std::string::npos);
  CHECK(text.find("support.kb: unknown key") != std::string::npos);
}
