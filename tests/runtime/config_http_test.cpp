// Validation of the HTTP provider keys: base_url, api_key_env, timeouts.

#include <catch2/catch.hpp>
#include <string>

#include "runtime/config.hpp"

using namespace switchyard;

namespace {

config_load_result load_with_provider(const std::string& provider) {
  return parse_config_text(R"({"tiers": ["local"], "providers": [)" + provider + R"(],
      "models": [{"id": "m", "provider": "p", "tier": "local", "price_in_per_mtok": 0,
                  "price_out_per_mtok": 0, "context_window": 8192, "residency": "local"}]})",
                           "t");
}

bool has_error(const config_load_result& r, const std::string& text) {
  for (const auto& e : r.errors)
    if (e == text) return true;
  return false;
}

}  // namespace

TEST_CASE("config: an HTTP provider takes base_url, api_key_env and timeouts", "[config]") {
  auto r = load_with_provider(
      R"({"name": "p", "kind": "anthropic", "base_url": "https://api.anthropic.com/v1",
          "api_key_env": "ANTHROPIC_API_KEY", "connect_timeout_ms": 500,
          "first_byte_timeout_ms": 20000, "total_timeout_ms": 90000})");
  INFO(r.message());
  REQUIRE(r.ok());
  const auto& p = r.value->providers[0];
  CHECK(p.kind == "anthropic");
  CHECK(p.base_url == "https://api.anthropic.com/v1");
  CHECK(p.api_key_env == "ANTHROPIC_API_KEY");
  CHECK(p.connect_timeout_ms == 500);
  CHECK(p.first_byte_timeout_ms == 20000);
  CHECK(p.total_timeout_ms == 90000);
}

TEST_CASE("config: HTTP provider defaults leave no key and generous timeouts", "[config]") {
  auto r = load_with_provider(
      R"({"name": "p", "kind": "openai", "base_url": "http://127.0.0.1:11434/v1"})");
  INFO(r.message());
  REQUIRE(r.ok());
  const auto& p = r.value->providers[0];
  CHECK(p.api_key_env.empty());
  CHECK(p.connect_timeout_ms == 10000);
  CHECK(p.first_byte_timeout_ms == 60000);
  CHECK(p.total_timeout_ms == 300000);
}

TEST_CASE("config: bad HTTP provider settings are reported with their paths", "[config]") {
  auto missing = load_with_provider(R"({"name": "p", "kind": "gemini"})");
  CHECK(has_error(missing, "providers[0].base_url: is required"));
  auto r = load_with_provider(
      R"({"name": "p", "kind": "openai", "base_url": "ftp://x", "api_key_env": "sk-abc",
          "total_timeout_ms": 0})");
  INFO(r.message());
  CHECK(has_error(r, "providers[0].base_url: must start with http:// or https://, got \"ftp://x\""));
  CHECK(has_error(r, "providers[0].api_key_env: must be an environment variable name (letters, "
                     "digits, _; not starting with a digit), got \"sk-abc\""));
  CHECK(has_error(r, "providers[0].total_timeout_ms: must be an integer from 1 to 3600000, got 0"));
  auto creds = load_with_provider(
      R"({"name": "p", "kind": "openai", "base_url": "https://u:sk-secret@host/v1"})");
  REQUIRE_FALSE(creds.ok());
  CHECK(creds.message().find("sk-secret") == std::string::npos);
  auto sim = load_with_provider(R"({"name": "p", "kind": "sim", "base_url": "http://x"})");
  CHECK(has_error(sim, "providers[0].base_url: only allowed for the HTTP kinds (openai, "
                       "anthropic, gemini), got \"http://x\""));
}
