// The config's `router` section: routes, rules, thresholds and their validation.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "runtime/config.hpp"

using nlohmann::json;
using namespace switchyard;
using errors = std::vector<std::string>;

namespace {

json doc_with_router(const json& router) {
  json doc = R"({
    "tiers": ["local", "frontier"],
    "providers": [{"name": "sim", "kind": "sim"}],
    "models": [
      {"id": "small", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
       "price_out_per_mtok": 0, "context_window": 8192, "residency": "local"}
    ]
  })"_json;
  doc["router"] = router;
  return doc;
}

errors errors_of(const json& router) {
  auto result = parse_config(doc_with_router(router), "test.json");
  CHECK(result.ok() == result.errors.empty());
  return result.errors;
}

}  // namespace

TEST_CASE("config router: a complete section parses with its defaults", "[config][router]") {
  auto result = parse_config(doc_with_router(R"({
    "routes": [{"name": "faq", "tier": "local", "examples": ["when do you open"]},
               {"name": "hard", "tier": "frontier", "examples_file": "hard.txt"}],
    "default_route": "faq",
    "rules": [{"name": "pii", "regex": "\\d{3}-\\d{2}-\\d{4}", "data_class": "pii"},
              {"name": "vip", "metadata": {"user_tier": "gold"}, "tier": "frontier"}]
  })"_json),
                             "test.json");
  INFO(result.message());
  REQUIRE(result.ok());
  const auto& r = result.value->router;
  REQUIRE(r.routes.size() == 2);
  CHECK(r.routes[1].examples_file == "hard.txt");
  CHECK(r.threshold == Approx(0.5));
  CHECK(r.rules[1].metadata.at("user_tier") == "gold");
  CHECK(r.complexity.long_prompt_tokens == 1500);
  CHECK(r.latency.realtime_ms == 2000);
}

TEST_CASE("config router: every problem is named with its path", "[config][router]") {
  auto found = errors_of(R"({
    "routes": [{"name": "faq", "tier": "mid", "examples": ["x"]},
               {"name": "faq", "tier": "local"}],
    "default_route": "fqa",
    "threshold": 1.5,
    "rules": [{"name": "r", "regex": "(unclosed", "route": "nope"},
              {"name": "empty"}],
    "colour": "blue"
  })"_json);
  CHECK(found == errors{
                     "router.colour: unknown key",
                     "router.routes[0].tier: must be one of the tiers (local, frontier), got \"mid\"",
                     "router.routes[1]: needs example utterances: set examples or examples_file, "
                     "got {\"name\":\"faq\",\"tier\":\"local\"}",
                     "router.routes[1].name: duplicate route name, got \"faq\"",
                     "router.default_route: must be the name of an entry of router.routes, got "
                     "\"fqa\"",
                     "router.threshold: must be a number from 0 to 1, got 1.5",
                     "router.rules[0].regex: is not a valid RE2 pattern (missing ): (unclosed), "
                     "got \"(unclosed\"",
                     "router.rules[0].route: must be the name of an entry of router.routes, got "
                     "\"nope\"",
                     "router.rules[1]: needs a condition: keywords, regex or metadata, got "
                     "{\"name\":\"empty\"}",
                     "router.rules[1]: needs an effect: route, tier or data_class, got "
                     "{\"name\":\"empty\"}",
                 });
}

namespace {

json doc_with_embeddings(const json& embeddings) {
  json doc =
      doc_with_router(R"({"routes": [{"name": "faq", "tier": "local", "examples": ["x"]}]})"_json);
  doc["providers"].push_back(
      R"({"name": "oa", "kind": "openai", "base_url": "http://127.0.0.1:9/v1"})"_json);
  doc["providers"].push_back(R"({"name": "an", "kind": "anthropic"})"_json);
  doc["router"]["embeddings"] = embeddings;
  return doc;
}

}  // namespace

TEST_CASE("config router: embeddings name an OpenAI-compatible provider, a model and a dimension",
          "[config][router]") {
  auto result = parse_config(
      doc_with_embeddings(R"({"provider": "oa", "model": "embed-small", "dimension": 384})"_json),
      "test.json");
  INFO(result.message());
  REQUIRE(result.ok());
  const auto& e = result.value->router.embeddings;
  CHECK(e.enabled());
  CHECK(e.provider == "oa");
  CHECK(e.model == "embed-small");
  CHECK(e.dimension == 384);
  CHECK(e.batch_size == 64);
  CHECK(e.timeout_ms == 2000);
  CHECK(e.cooldown_ms == 5000);
  CHECK_FALSE(
      parse_config(doc_with_router(json::object()), "t").value->router.embeddings.enabled());
}

TEST_CASE("config router: bad embeddings settings are named with their path", "[config][router]") {
  auto result = parse_config(doc_with_embeddings(R"({"provider": "an", "dimension": 0,
      "batch_size": 5000, "timeout_ms": 0, "colour": 1})"_json),
                             "test.json");
  CHECK(result.errors ==
        errors{"router.embeddings.colour: unknown key",
               "router.embeddings.provider: must name a provider of kind openai (an "
               "OpenAI-compatible /v1/embeddings), not anthropic, got \"an\"",
               "router.embeddings.model: is required",
               "router.embeddings.dimension: must be an integer from 1 to 65536, got 0",
               "router.embeddings.batch_size: must be an integer from 1 to 2048, got 5000",
               "router.embeddings.timeout_ms: must be an integer from 1 to 3600000, got 0"});
  result = parse_config(
      doc_with_embeddings(R"({"provider": "nope", "model": "m", "dimension": 8})"_json), "t");
  CHECK(result.errors == errors{"router.embeddings.provider: must name an entry of providers (an, "
                                "oa, sim), got \"nope\""});
}
