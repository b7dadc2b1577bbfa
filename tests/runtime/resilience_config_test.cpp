#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/config.hpp"

using nlohmann::json;
using namespace switchyard;

namespace {

json doc_with_resilience(const json& resilience) {
  json doc = R"({
    "tiers": ["local", "mid", "frontier"],
    "providers": [{"name": "sim", "kind": "sim"}],
    "models": [
      {"id": "small", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
       "price_out_per_mtok": 0, "context_window": 8192, "residency": "local"}
    ]
  })"_json;
  doc["resilience"] = resilience;
  return doc;
}

std::vector<std::string> errors_of(const json& doc) {
  return parse_config(doc, "test.json").errors;
}

}  // namespace

TEST_CASE("config: resilience defaults apply when the section is absent", "[config]") {
  auto result = parse_config(doc_with_resilience(json::object()), "test.json");
  REQUIRE(result.ok());
  const auto& r = result.value->resilience;
  CHECK(r.breaker.window_ms == 30000);
  CHECK(r.breaker.min_calls == 10);
  CHECK(r.breaker.failure_rate == 0.5);
  CHECK(r.breaker.open_ms == 30000);
  CHECK(r.breaker.max_open_ms == 300000);
  CHECK(r.retry.base_delay_ms == 500);
  CHECK(r.retry.jitter == 0.25);
  CHECK(r.retry.max_attempts == 3);
  CHECK(r.deadlines.realtime_ms == 250);
  CHECK(r.deadlines.interactive_ms == 3000);
  CHECK(r.deadlines.batch_ms == 120000);
  CHECK(r.cascade.empty());
  CHECK(r.cache.ttl_ms == 3600000);
  CHECK(r.cache.semantic_threshold == 0.92);
}

TEST_CASE("config: resilience values are read", "[config]") {
  auto result = parse_config(doc_with_resilience(R"({
      "breaker": {"window_ms": 10000, "min_calls": 5, "failure_rate": 0.3, "open_ms": 1000,
                  "max_open_ms": 8000, "probe_timeout_ms": 500},
      "retry": {"base_delay_ms": 100, "max_delay_ms": 2000, "jitter": 0.1, "max_attempts": 5,
                "max_total_ms": 9000},
      "latency_deadlines_ms": {"realtime": 0, "interactive": 1000, "batch": 60000},
      "cascade": {"billing": {"thresholds": {"local": 0.8, "mid": 0.55}}},
      "cache": {"ttl_ms": 5000, "semantic_threshold": 0.95}
    })"_json),
                             "test.json");
  INFO(result.message());
  REQUIRE(result.ok());
  const auto& r = result.value->resilience;
  CHECK(r.breaker.min_calls == 5);
  CHECK(r.breaker.failure_rate == 0.3);
  CHECK(r.breaker.max_open_ms == 8000);
  CHECK(r.retry.max_attempts == 5);
  CHECK(r.retry.jitter == 0.1);
  CHECK(r.deadlines.realtime_ms == 0);
  CHECK(r.cascade.at("billing").thresholds.at("mid") == 0.55);
  CHECK(r.cache.semantic_threshold == 0.95);
}

TEST_CASE("config: bad resilience values are reported with their paths", "[config]") {
  auto errors = errors_of(doc_with_resilience(R"({
      "breaker": {"failure_rate": 0, "open_ms": 60000, "max_open_ms": 1000, "windw_ms": 5},
      "retry": {"jitter": 1, "max_attempts": 0},
      "latency_deadlines_ms": {"urgent": 5},
      "cascade": {"billing": {"thresholds": {"premium": 0.5, "local": 1.5}}},
      "cache": {"semantic_threshold": "high"}
    })"_json));
  CHECK(errors == std::vector<std::string>{
                      "resilience.breaker.windw_ms: unknown key (did you mean window_ms?)",
                      "resilience.breaker.failure_rate: must be a number > 0 and <= 1, got 0",
                      "resilience.breaker.max_open_ms: must be >= open_ms (60000), got 1000",
                      "resilience.retry.jitter: must be a number >= 0 and < 1, got 1",
                      "resilience.retry.max_attempts: must be an integer from 1 to 100, got 0",
                      "resilience.latency_deadlines_ms.urgent: unknown key",
                      "resilience.cascade.billing.thresholds.local: must be a number >= 0 and "
                      "<= 1, got 1.5",
                      "resilience.cascade.billing.thresholds.premium: must be one of the tiers "
                      "(local, mid, frontier)",
                      "resilience.cache.semantic_threshold: must be a number > 0 and <= 1, got "
                      "\"high\""});
  CHECK(errors_of(doc_with_resilience(R"({"cascade": {"billing": {}}})"_json)) ==
        std::vector<std::string>{"resilience.cascade.billing.thresholds: is required"});
}

TEST_CASE("config: rate limits per provider key and fallback lists per route are read",
          "[config]") {
  auto result = parse_config(doc_with_resilience(R"({
      "rate_limits": {"sim": [{"key": "a", "requests_per_minute": 60, "tokens_per_minute": 9000},
                              {"requests_per_minute": 30, "tokens_per_minute": 4000}]},
      "fallback": {"support": ["small"]}})"_json),
                             "test.json");
  INFO(result.message());
  REQUIRE(result.ok());
  const auto& limits = result.value->resilience.rate_limits.at("sim");
  REQUIRE(limits.size() == 2);
  CHECK(limits[0].key == "a");
  CHECK(limits[0].requests_per_minute == 60);
  CHECK(limits[0].tokens_per_minute == 9000);
  CHECK(limits[1].key == "key1");
  CHECK(result.value->resilience.fallback.at("support") == std::vector<std::string>{"small"});
}

TEST_CASE("config: bad rate limits and fallback lists name their JSON path", "[config]") {
  auto errors = errors_of(doc_with_resilience(R"({
      "rate_limits": {"nope": [{"requests_per_minute": 1, "tokens_per_minute": 1}],
                      "sim": [{"key": "a", "requests_per_minute": 0, "tokens_per_minute": 5,
                               "burst": 3},
                              {"key": "a", "requests_per_minute": 1, "tokens_per_minute": 1}]},
      "fallback": {"support": ["small", "ghost"], "empty": []}})"_json));
  auto has = [&](const std::string& text) {
    for (const auto& e : errors)
      if (e.find(text) != std::string::npos) return true;
    return false;
  };
  INFO(::Catch::Detail::stringify(errors));
  CHECK(has("resilience.rate_limits.nope: must name a provider"));
  CHECK(has("resilience.rate_limits.sim[0].requests_per_minute: must be an integer from 1"));
  CHECK(has("resilience.rate_limits.sim[0].burst: unknown key"));
  CHECK(has("resilience.rate_limits.sim[1].key: is a duplicate"));
  CHECK(has("resilience.fallback.support[1]: must be a model id"));
  CHECK(has("resilience.fallback.empty: must be a non-empty array"));
}
