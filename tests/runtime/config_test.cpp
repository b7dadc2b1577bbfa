#include "runtime/config.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using nlohmann::json;
using switchyard::config;
using switchyard::parse_config;
using switchyard::parse_config_text;
using switchyard::residency;
using errors = std::vector<std::string>;

namespace {

const std::string default_config_path = SWITCHYARD_SOURCE_DIR "/examples/configs/default.json";

// The smallest valid document: only the required sections. Each test breaks one
// thing in it, so an expected error list of one entry also proves no cascade.
json minimal_doc() {
  return R"({
    "tiers": ["local", "mid", "frontier"],
    "providers": [{"name": "sim", "kind": "sim"}],
    "models": [
      {"id": "small", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
       "price_out_per_mtok": 0, "context_window": 8192, "residency": "local"},
      {"id": "big", "provider": "sim", "tier": "frontier", "price_in_per_mtok": 2.5,
       "price_out_per_mtok": 10, "context_window": 200000, "residency": "cloud"}
    ]
  })"_json;
}

// A minimal document whose first model has one sim fault, for the fault rules.
json doc_with_fault(const json& fault) {
  json doc = minimal_doc();
  doc["models"][0]["sim"] = {{"faults", json::array({fault})}};
  return doc;
}

// A minimal document with one workflow "hello" whose agent "answerer" is `agent`.
json doc_with_agent(const json& agent) {
  json doc = minimal_doc();
  doc["workflows"] = {{"hello", {{"agents", {{"answerer", agent}}}}}};
  return doc;
}

errors errors_of(const json& doc) {
  auto result = parse_config(doc, "test.json");
  // The contract: a value exactly when there is nothing to report.
  CHECK(result.ok() == result.errors.empty());
  return result.errors;
}

config parsed(const json& doc) {
  auto result = parse_config(doc, "test.json");
  INFO(result.message());
  REQUIRE(result.ok());
  return *result.value;
}

}  // namespace

// --- the example and the defaults ---------------------------------------------------

TEST_CASE("config: default.json loads with tiers local, mid, frontier and sim models in each",
          "[config]") {
  auto result = switchyard::load_config_file(default_config_path);
  INFO(result.message());
  REQUIRE(result.ok());
  const config& c = *result.value;

  CHECK(c.tiers == errors{"local", "mid", "frontier"});
  REQUIRE(c.providers.size() == 1);
  CHECK(c.providers[0].kind == "sim");
  for (const std::string& tier : c.tiers) {
    int in_tier = 0;
    for (const auto& m : c.models) in_tier += m.tier == tier ? 1 : 0;
    INFO(tier);
    CHECK(in_tier >= 2);
  }
  for (const auto& m : c.models) {
    INFO(m.id);
    CHECK(m.provider == "sim");
    CHECK(m.sim.faults.empty());
    CHECK(m.sim.outages.empty());
    CHECK(m.sim.latency_ms >= 5);
    CHECK(m.sim.latency_ms <= 40);
    if (m.tier == "local") CHECK(m.price_in_per_mtok == 0.0);
    if (m.tier != "local") CHECK(m.price_out_per_mtok > m.price_in_per_mtok);
  }
  const auto* mid = c.find_model("sim-mid-fast");
  REQUIRE(mid != nullptr);
  CHECK(mid->price_in_per_mtok == Approx(0.15));
  CHECK(mid->price_out_per_mtok == Approx(0.60));
  CHECK(c.supervisor.max_hops == 8);
  CHECK(c.thread_budget.max_tokens == 200000);
  CHECK(c.thread_budget.max_cost_usd == Approx(1.0));
}

TEST_CASE("config: default.json defines workflow hello's three agents and loop's hop limit",
          "[config]") {
  auto result = switchyard::load_config_file(default_config_path);
  REQUIRE(result.ok());
  auto hello = result.value->workflow("hello");
  REQUIRE(hello.agents.count("intake") == 1);
  REQUIRE(hello.agents.count("answerer") == 1);
  REQUIRE(hello.agents.count("acknowledger") == 1);
  CHECK(hello.agents["answerer"].tier == "mid");
  CHECK(hello.agents["answerer"].max_tokens == 200);
  CHECK(hello.agents["acknowledger"].tier == "local");
  CHECK(result.value->workflow("loop").max_hops == 8);
}

TEST_CASE("config: omitted optional sections and fields take the documented defaults", "[config]") {
  config c = parsed(minimal_doc());
  CHECK(c.runtime.scheduler == "sharing");
  CHECK(c.runtime.workers == 0);
  CHECK(c.runtime.log_level == "info");
  CHECK(c.providers[0].seed == 42);
  CHECK(c.supervisor.max_hops == 8);
  CHECK(c.supervisor.step_timeout_ms == 60000);
  CHECK(c.supervisor.escalation.target == "handoff");
  CHECK(c.thread_budget.max_tokens == 0);
  CHECK(c.thread_budget.max_cost_usd == 0.0);
  CHECK(c.workflows.empty());
  CHECK(c.models[0].capabilities.empty());
  CHECK(c.models[0].region.empty());
  CHECK(c.models[0].sim.timeout_ms == 30000);
}

TEST_CASE("config: residency names map to the enum and back", "[config]") {
  json doc = minimal_doc();
  doc["models"][0]["residency"] = "local";
  doc["models"][1]["residency"] = "private";
  config c = parsed(doc);
  CHECK(c.models[0].where == residency::local);
  CHECK(c.models[1].where == residency::private_host);
  CHECK(switchyard::to_string(residency::local) == "local");
  CHECK(switchyard::to_string(residency::private_host) == "private");
  CHECK(switchyard::to_string(residency::cloud) == "cloud");
}

TEST_CASE("config: find_model, find_provider and tier_rank look entries up by name", "[config]") {
  config c = parsed(minimal_doc());
  REQUIRE(c.find_model("big") != nullptr);
  CHECK(c.find_model("big")->context_window == 200000);
  CHECK(c.find_model("huge") == nullptr);
  REQUIRE(c.find_provider("sim") != nullptr);
  CHECK(c.find_provider("openai") == nullptr);
  CHECK(c.tier_rank("local") == 0);
  CHECK(c.tier_rank("frontier") == 2);
  CHECK(c.tier_rank("ultra") == -1);
}

TEST_CASE("config: integers written as whole doubles are accepted", "[config]") {
  json doc = minimal_doc();
  doc["models"][0]["context_window"] = 8192.0;
  CHECK(parsed(doc).models[0].context_window == 8192);
}

// --- document shape -------------------------------------------------------------------

TEST_CASE("config: a document that is not an object is reported at (root)", "[config]") {
  CHECK(errors_of(json::array({1, 2})) == errors{"(root): must be an object, got [1,2]"});
}

TEST_CASE("config: each missing required section is reported", "[config]") {
  CHECK(errors_of(json::object()) ==
        errors{"tiers: is required", "providers: is required", "models: is required"});
}

TEST_CASE("config: unknown keys are errors at every depth", "[config]") {
  json doc = minimal_doc();
  doc["tier"] = "local";
  doc["runtime"] = {{"worker", 4}};
  doc["models"][0]["cost"] = 1;
  doc["models"][0]["sim"] = {
      {"faults", json::array({{{"kind", "timeout"}, {"every", 3}, {"often", 1}}})}};
  doc["budgets"] = {{"per_thread", {{"max_token", 10}}}};
  doc["workflows"] = {{"hello", {{"agents", {{"answerer", {{"prompt", "hi"}}}}}}}};
  errors found = errors_of(doc);
  CHECK(found.size() == 6);
  CHECK_THAT(found, Catch::VectorContains(std::string("tier: unknown key (did you mean tiers?)")));
  CHECK_THAT(found, Catch::VectorContains(
                        std::string("runtime.worker: unknown key (did you mean workers?)")));
  CHECK_THAT(found, Catch::VectorContains(std::string("models[0].cost: unknown key")));
  CHECK_THAT(found,
             Catch::VectorContains(std::string("models[0].sim.faults[0].often: unknown key")));
  CHECK_THAT(found, Catch::VectorContains(std::string(
                        "budgets.per_thread.max_token: unknown key (did you mean max_tokens?)")));
  CHECK_THAT(found, Catch::VectorContains(
                        std::string("workflows.hello.agents.answerer.prompt: unknown key")));
}

TEST_CASE("config: a misspelt or truncated key suggests the key it resembles", "[config]") {
  json doc = minimal_doc();
  doc["models"][0]["prise_in"] = 1;
  CHECK(errors_of(doc) ==
        errors{"models[0].prise_in: unknown key (did you mean price_in_per_mtok?)"});
}

TEST_CASE("config: a section of the wrong JSON type names the expected type and the value",
          "[config]") {
  json doc = minimal_doc();
  doc["runtime"] = json::array();
  doc["supervisor"] = "strict";
  doc["models"][0]["capabilities"] = "tools";
  doc["models"][1]["sim"] = {{"faults", {{"kind", "timeout"}}}};
  CHECK(errors_of(doc) == errors{
                              "runtime: must be an object, got []",
                              "models[0].capabilities: must be an array, got \"tools\"",
                              "models[1].sim.faults: must be an array, got {\"kind\":\"timeout\"}",
                              "supervisor: must be an object, got \"strict\"",
                          });
}

TEST_CASE("config: several problems in one document are all reported", "[config]") {
  json doc = minimal_doc();
  doc["tiers"].push_back("mid");               // duplicate
  doc["providers"][0]["kind"] = "grpc";        // unknown kind
  doc["models"][0]["price_in_per_mtok"] = -1;  // negative price
  doc["models"][1]["context_window"] = 0;      // empty window
  doc["runtime"] = {{"scheduler", "fifo"}};    // unknown scheduler
  doc["supervisor"] = {{"max_hops", 0}};       // no hops at all
  errors found = errors_of(doc);
  CAPTURE(found);
  CHECK(found.size() == 6);
}

// --- tiers ----------------------------------------------------------------------------

TEST_CASE("config: tiers must be a non-empty array", "[config]") {
  json doc = minimal_doc();
  doc["tiers"] = json::array();
  // Models' tier references go unchecked then: one error, not one per model.
  CHECK(errors_of(doc) == errors{"tiers: must not be empty, got []"});
  doc["tiers"] = "local";
  CHECK(errors_of(doc) == errors{"tiers: must be an array, got \"local\""});
}

TEST_CASE("config: a tier must be a non-empty string", "[config]") {
  json doc = minimal_doc();
  doc["tiers"] = {"local", "", "frontier", 3};
  CHECK(errors_of(doc) ==
        errors{"tiers[1]: must not be empty, got \"\"", "tiers[3]: must be a string, got 3"});
}

TEST_CASE("config: a tier named twice is reported with its index", "[config]") {
  json doc = minimal_doc();
  doc["tiers"].push_back("local");
  CHECK(errors_of(doc) == errors{"tiers[3]: duplicate tier, got \"local\""});
}

// --- providers ------------------------------------------------------------------------

TEST_CASE("config: providers must be a non-empty array", "[config]") {
  json doc = minimal_doc();
  doc["providers"] = json::array();
  CHECK(errors_of(doc) == errors{"providers: must not be empty, got []"});
}

TEST_CASE("config: a provider name must be present, non-empty and unique", "[config]") {
  json doc = minimal_doc();
  doc["providers"].push_back({{"name", "sim"}, {"kind", "sim"}});
  doc["providers"].push_back({{"name", ""}, {"kind", "sim"}});
  doc["providers"].push_back({{"kind", "sim"}});
  CHECK(errors_of(doc) == errors{"providers[1].name: duplicate provider name, got \"sim\"",
                                 "providers[2].name: must not be empty, got \"\"",
                                 "providers[3].name: is required"});
}

TEST_CASE("config: an unknown provider kind lists the allowed kinds", "[config]") {
  json doc = minimal_doc();
  doc["providers"][0]["kind"] = "openia";
  CHECK(errors_of(doc) ==
        errors{"providers[0].kind: must be one of sim, openai, anthropic, gemini, "
               "got \"openia\""});
}

TEST_CASE("config: HTTP providers take base_url, key variable, version, headers and timeouts",
          "[config]") {
  json doc = minimal_doc();
  doc["providers"].push_back({{"name", "azure"},
                              {"kind", "openai"},
                              {"base_url", "https://res.openai.azure.com/openai/deployments/d1/"},
                              {"api_key_env", "AZURE_OPENAI_KEY"},
                              {"api_version", "2024-06-01"},
                              {"headers", {{"X-Title", "switchyard"}}},
                              {"connect_timeout_ms", 1000},
                              {"first_byte_timeout_ms", 2000},
                              {"total_timeout_ms", 3000},
                              {"max_connections", 2}});
  doc["providers"].push_back({{"name", "claude"}, {"kind", "anthropic"}});
  doc["providers"].push_back({{"name", "google"}, {"kind", "gemini"}});
  doc["models"][1]["provider"] = "azure";
  doc["models"][1]["provider_model"] = "gpt-4o";
  config c = parsed(doc);
  const auto& azure = c.providers[1];
  CHECK(azure.is_http());
  CHECK(azure.base_url == "https://res.openai.azure.com/openai/deployments/d1/");
  CHECK(azure.api_key_env == "AZURE_OPENAI_KEY");
  CHECK(azure.api_version == "2024-06-01");
  CHECK(azure.headers ==
        std::vector<std::pair<std::string, std::string>>{{"X-Title", "switchyard"}});
  CHECK(azure.connect_timeout_ms == 1000);
  CHECK(azure.first_byte_timeout_ms == 2000);
  CHECK(azure.total_timeout_ms == 3000);
  CHECK(azure.max_connections == 2);
  CHECK(c.models[1].wire_name() == "gpt-4o");
  CHECK(c.models[0].wire_name() == "small");
  // Defaults per kind.
  CHECK(c.providers[2].base_url == "https://api.anthropic.com");
  CHECK(c.providers[2].api_version == "2023-06-01");
  CHECK(c.providers[2].api_key_env.empty());
  CHECK(c.providers[2].connect_timeout_ms == 5000);
  CHECK(c.providers[2].first_byte_timeout_ms == 60000);
  CHECK(c.providers[2].total_timeout_ms == 300000);
  CHECK(c.providers[2].max_connections == 8);
  CHECK(c.providers[3].base_url == "https://generativelanguage.googleapis.com/v1beta");
  CHECK_FALSE(c.providers[0].is_http());
}

TEST_CASE("config: HTTP provider fields are validated and never echo a pasted key", "[config]") {
  json doc = minimal_doc();
  doc["providers"].push_back({{"name", "p"},
                              {"kind", "openai"},
                              {"base_url", "ftp://example.com"},
                              {"api_key_env", "sk-live-123secret"},
                              {"headers", {{"Bad Header", "x"}, {"X-Ok", "a\r\nInjected: 1"}}},
                              {"connect_timeout_ms", 0},
                              {"max_connections", 5000},
                              {"seed", 1}});
  doc["providers"].push_back({{"name", "g"},
                              {"kind", "gemini"},
                              {"api_version", "v1"},
                              {"base_url", "https://user:pw@host/v1"}});
  doc["providers"][0]["base_url"] = "http://localhost:11434/v1";
  doc["models"][0]["provider_model"] = "llama3";
  auto errs = errors_of(doc);
  CHECK(errs ==
        errors{"providers[0].base_url: only allowed on HTTP providers (kind openai, "
               "anthropic or gemini), got \"http://localhost:11434/v1\"",
               "providers[1].seed: only allowed on sim providers, got 1",
               "providers[1].base_url: must start with http:// or https://, got "
               "\"ftp://example.com\"",
               "providers[1].api_key_env: must be the NAME of an environment variable "
               "(letters, digits, _), not a key",
               "providers[1].headers[\"Bad Header\"]: is not a valid HTTP header name",
               "providers[1].headers.X-Ok: must not contain line breaks",
               "providers[1].connect_timeout_ms: must be an integer from 1 to 3600000, got 0",
               "providers[1].max_connections: must be an integer from 1 to 1024, got 5000",
               "providers[2].base_url: must not contain credentials (put the key's variable "
               "name in api_key_env)",
               "providers[2].api_version: is not used by gemini providers, got \"v1\"",
               "models[0].provider_model: is not used by sim providers, got \"llama3\""});
  for (const auto& e : errs) {
    CHECK(e.find("123secret") == std::string::npos);
    CHECK(e.find("pw@") == std::string::npos);
  }
}

TEST_CASE("config: a provider seed must be a non-negative integer", "[config]") {
  json doc = minimal_doc();
  doc["providers"][0]["seed"] = -1;
  CHECK(errors_of(doc) == errors{"providers[0].seed: must be a non-negative integer, got -1"});
  doc["providers"][0]["seed"] = 7;
  CHECK(parsed(doc).providers[0].seed == 7);
}

// --- models ---------------------------------------------------------------------------

TEST_CASE("config: models must be a non-empty array", "[config]") {
  json doc = minimal_doc();
  doc["models"] = json::array();
  CHECK(errors_of(doc) == errors{"models: must not be empty, got []"});
}

TEST_CASE("config: each missing required model field is reported", "[config]") {
  json doc = minimal_doc();
  doc["models"][1] = json::object();
  CHECK(errors_of(doc) == errors{
                              "models[1].id: is required",
                              "models[1].provider: is required",
                              "models[1].tier: is required",
                              "models[1].price_in_per_mtok: is required",
                              "models[1].price_out_per_mtok: is required",
                              "models[1].context_window: is required",
                              "models[1].residency: is required",
                          });
}

TEST_CASE("config: a model id must be non-empty and unique", "[config]") {
  json doc = minimal_doc();
  doc["models"][0]["id"] = "";
  CHECK(errors_of(doc) == errors{"models[0].id: must not be empty, got \"\""});
  doc["models"][0]["id"] = "big";
  CHECK(errors_of(doc) == errors{"models[1].id: duplicate model id, got \"big\""});
}

TEST_CASE("config: a model's provider must name an entry of providers", "[config]") {
  json doc = minimal_doc();
  doc["models"][1]["provider"] = "simm";
  CHECK(errors_of(doc) ==
        errors{"models[1].provider: must name an entry of providers (sim), got \"simm\""});
}

TEST_CASE("config: a model's tier must name an entry of tiers", "[config]") {
  json doc = minimal_doc();
  doc["models"][1]["tier"] = "high";
  CHECK(errors_of(doc) ==
        errors{"models[1].tier: must be one of the tiers (local, mid, frontier), got \"high\""});
}

TEST_CASE("config: a negative price is reported with its JSON path and value", "[config]") {
  json doc = minimal_doc();
  doc["models"][0]["price_in_per_mtok"] = -1;
  doc["models"][1]["price_out_per_mtok"] = -0.5;
  CHECK(errors_of(doc) ==
        errors{"models[0].price_in_per_mtok: must be a finite number >= 0, got -1",
               "models[1].price_out_per_mtok: must be a finite number >= 0, "
               "got -0.5"});
}

TEST_CASE("config: a price that is not a number, or not finite, is an error", "[config]") {
  json doc = minimal_doc();
  doc["models"][0]["price_in_per_mtok"] = "free";
  doc["models"][0]["price_out_per_mtok"] = std::nan("");  // only possible in code-built JSON
  CHECK(errors_of(doc) ==
        errors{"models[0].price_in_per_mtok: must be a number, got \"free\"",
               "models[0].price_out_per_mtok: must be a finite number >= 0, got null"});
}

TEST_CASE("config: context_window must be an integer > 0 that fits 32 bits", "[config]") {
  json doc = minimal_doc();
  doc["models"][0]["context_window"] = 0;
  CHECK(errors_of(doc) == errors{"models[0].context_window: must be an integer > 0, got 0"});
  doc["models"][0]["context_window"] = 1.5;
  CHECK(errors_of(doc) == errors{"models[0].context_window: must be an integer > 0, got 1.5"});
  doc["models"][0]["context_window"] = 5000000000;
  CHECK(errors_of(doc) ==
        errors{"models[0].context_window: must be at most 4294967295, got 5000000000"});
}

TEST_CASE("config: capabilities must be known and listed once", "[config]") {
  json doc = minimal_doc();
  doc["models"][0]["capabilities"] = {"tools", "vison", "tools"};
  CHECK(errors_of(doc) ==
        errors{"models[0].capabilities[1]: must be one of tools, vision, json_mode, logprobs, "
               "got \"vison\"",
               "models[0].capabilities[2]: duplicate capability, got \"tools\""});
  doc["models"][0]["capabilities"] = {"tools", "vision", "json_mode", "logprobs"};
  CHECK(parsed(doc).models[0].capabilities.size() == 4);
}

TEST_CASE("config: residency must be local, private or cloud", "[config]") {
  json doc = minimal_doc();
  doc["models"][0]["residency"] = "public";
  CHECK(errors_of(doc) ==
        errors{"models[0].residency: must be one of local, private, cloud, got \"public\""});
}

TEST_CASE("config: region is an optional string", "[config]") {
  json doc = minimal_doc();
  doc["models"][0]["region"] = 5;
  CHECK(errors_of(doc) == errors{"models[0].region: must be a string, got 5"});
  doc["models"][0]["region"] = "eu-west";
  CHECK(parsed(doc).models[0].region == "eu-west");
}

TEST_CASE("config: a sim section is rejected when the model's provider is not a sim", "[config]") {
  json doc = minimal_doc();
  doc["providers"].push_back({{"name", "remote"}, {"kind", "http"}});
  doc["models"][0]["provider"] = "remote";
  doc["models"][0]["sim"] = json::object();
  CHECK(errors_of(doc) ==
        errors{"providers[1].kind: must be one of sim, openai, anthropic, gemini, got \"http\"",
               "models[0].sim: only allowed when the provider's kind is sim (provider remote has "
               "kind \"http\"), got {}"});
  // A provider without a kind is reported once, not again for each of its models.
  doc["providers"][1].erase("kind");
  CHECK(errors_of(doc) == errors{"providers[1].kind: is required"});
}

// --- sim ------------------------------------------------------------------------------

TEST_CASE("config: sim settings are parsed into the model", "[config]") {
  json doc = minimal_doc();
  doc["models"][0]["sim"] = R"({
    "latency_ms": 5, "ms_per_output_token": 2, "timeout_ms": 100,
    "faults": [{"kind": "rate_limited", "every": 10, "retry_after_ms": 250},
               {"kind": "server_error", "probability": 1}],
    "outages": [{"from_ms": 0, "to_ms": 1000}]
  })"_json;
  config c = parsed(doc);
  const auto& sim = c.models[0].sim;
  CHECK(sim.latency_ms == 5);
  CHECK(sim.ms_per_output_token == 2);
  CHECK(sim.timeout_ms == 100);
  REQUIRE(sim.faults.size() == 2);
  CHECK(sim.faults[0].kind == "rate_limited");
  CHECK(sim.faults[0].every == 10);
  CHECK(sim.faults[0].retry_after_ms == 250);
  CHECK(sim.faults[1].probability == 1.0);
  REQUIRE(sim.outages.size() == 1);
  CHECK(sim.outages[0].to_ms == 1000);
}

TEST_CASE("config: sim latencies are non-negative integers and timeout_ms is > 0", "[config]") {
  json doc = minimal_doc();
  doc["models"][0]["sim"] = {{"latency_ms", -5}, {"ms_per_output_token", "1"}, {"timeout_ms", 0}};
  CHECK(errors_of(doc) == errors{
                              "models[0].sim.latency_ms: must be a non-negative integer, got -5",
                              "models[0].sim.ms_per_output_token: must be a non-negative "
                              "integer, got \"1\"",
                              "models[0].sim.timeout_ms: must be an integer > 0, got 0",
                          });
}

TEST_CASE("config: a fault kind must be rate_limited, server_error or timeout", "[config]") {
  CHECK(errors_of(doc_with_fault({{"kind", "crash"}, {"every", 2}})) ==
        errors{"models[0].sim.faults[0].kind: must be one of rate_limited, server_error, "
               "timeout, got \"crash\""});
  CHECK(errors_of(doc_with_fault({{"every", 2}})) ==
        errors{"models[0].sim.faults[0].kind: is required"});
}

TEST_CASE("config: a fault sets exactly one of every and probability", "[config]") {
  CHECK(errors_of(doc_with_fault({{"kind", "timeout"}, {"every", 2}, {"probability", 0.5}})) ==
        errors{"models[0].sim.faults[0]: set every or probability, not both, got "
               "{\"every\":2,\"kind\":\"timeout\",\"probability\":0.5}"});
  CHECK(errors_of(doc_with_fault({{"kind", "timeout"}})) ==
        errors{"models[0].sim.faults[0]: must set every or probability, got "
               "{\"kind\":\"timeout\"}"});
}

TEST_CASE("config: a fault's every is > 0 and its probability above 0 and at most 1", "[config]") {
  CHECK(errors_of(doc_with_fault({{"kind", "timeout"}, {"every", 0}})) ==
        errors{"models[0].sim.faults[0].every: must be an integer > 0, got 0"});
  CHECK(errors_of(doc_with_fault({{"kind", "timeout"}, {"probability", 0}})) ==
        errors{"models[0].sim.faults[0].probability: must be > 0 and <= 1, got 0"});
  CHECK(errors_of(doc_with_fault({{"kind", "timeout"}, {"probability", 1.5}})) ==
        errors{"models[0].sim.faults[0].probability: must be > 0 and <= 1, got 1.5"});
  CHECK(errors_of(doc_with_fault({{"kind", "timeout"}, {"probability", "often"}})) ==
        errors{"models[0].sim.faults[0].probability: must be a number, got \"often\""});
  CHECK(errors_of(doc_with_fault({{"kind", "timeout"}, {"probability", 1}})).empty());
}

TEST_CASE("config: retry_after_ms is only allowed on rate_limited faults", "[config]") {
  CHECK(errors_of(
            doc_with_fault({{"kind", "server_error"}, {"every", 3}, {"retry_after_ms", 500}})) ==
        errors{"models[0].sim.faults[0].retry_after_ms: only allowed when kind is rate_limited, "
               "got 500"});
  CHECK(
      errors_of(doc_with_fault({{"kind", "rate_limited"}, {"every", 3}, {"retry_after_ms", -1}})) ==
      errors{"models[0].sim.faults[0].retry_after_ms: must be a non-negative integer, got -1"});
  CHECK(parsed(doc_with_fault({{"kind", "rate_limited"}, {"every", 3}}))
            .models[0]
            .sim.faults[0]
            .retry_after_ms == 1000);
}

TEST_CASE("config: an outage must end after it starts", "[config]") {
  json doc = minimal_doc();
  doc["models"][0]["sim"] = {
      {"outages", json::array({{{"from_ms", 1000}, {"to_ms", 1000}}, {{"from_ms", 5}}})}};
  CHECK(errors_of(doc) ==
        errors{"models[0].sim.outages[0].to_ms: must be greater than from_ms (1000), got 1000",
               "models[0].sim.outages[1].to_ms: is required"});
}

// --- runtime --------------------------------------------------------------------------

TEST_CASE("config: runtime scheduler, workers and log_level are checked against their ranges",
          "[config]") {
  json doc = minimal_doc();
  doc["runtime"] = {{"scheduler", "fifo"}, {"workers", 257}, {"log_level", "verbose"}};
  CHECK(errors_of(doc) ==
        errors{"runtime.scheduler: must be one of sharing, stealing, got \"fifo\"",
               "runtime.workers: must be an integer from 0 to 256, got 257",
               "runtime.log_level: must be one of trace, debug, info, warn, error, critical, "
               "off, got \"verbose\""});
  doc["runtime"] = {{"scheduler", "stealing"}, {"workers", 256}, {"log_level", "off"}};
  CHECK(parsed(doc).runtime.workers == 256);
}

// --- supervisor -----------------------------------------------------------------------

TEST_CASE("config: supervisor max_hops is 1..10000 and step_timeout_ms is > 0", "[config]") {
  json doc = minimal_doc();
  doc["supervisor"] = {{"max_hops", 0}, {"step_timeout_ms", 0}};
  CHECK(errors_of(doc) == errors{"supervisor.max_hops: must be an integer from 1 to 10000, got 0",
                                 "supervisor.step_timeout_ms: must be an integer > 0, got 0"});
  doc["supervisor"] = {{"max_hops", 10001}};
  CHECK(errors_of(doc) ==
        errors{"supervisor.max_hops: must be an integer from 1 to 10000, got 10001"});
  doc["supervisor"] = {{"max_hops", 10000}};
  CHECK(parsed(doc).supervisor.max_hops == 10000);
}

TEST_CASE("config: escalation target must be handoff or agent", "[config]") {
  json doc = minimal_doc();
  doc["supervisor"] = {{"escalation", {{"target", "email"}}}};
  CHECK(errors_of(doc) ==
        errors{"supervisor.escalation.target: must be one of handoff, agent, got \"email\""});
}

TEST_CASE("config: escalation to an agent must name the agent", "[config]") {
  json doc = minimal_doc();
  doc["supervisor"] = {{"escalation", {{"target", "agent"}}}};
  CHECK(errors_of(doc) == errors{"supervisor.escalation.agent: is required when target is agent"});
  doc["supervisor"]["escalation"]["agent"] = "";
  CHECK(errors_of(doc) ==
        errors{"supervisor.escalation.agent: must not be empty when target is agent, got \"\""});
  doc["supervisor"]["escalation"]["agent"] = "safety";
  CHECK(parsed(doc).supervisor.escalation.agent == "safety");
}

TEST_CASE("config: escalation by handoff must not name an agent", "[config]") {
  json doc = minimal_doc();
  doc["supervisor"] = {{"escalation", {{"agent", "safety"}}}};  // target defaults to handoff
  CHECK(errors_of(doc) ==
        errors{"supervisor.escalation.agent: must be empty when target is handoff, got "
               "\"safety\""});
  doc["supervisor"]["escalation"] = {{"target", "handoff"}, {"agent", ""}, {"handoff_file", 3}};
  CHECK(errors_of(doc) == errors{"supervisor.escalation.handoff_file: must be a string, got 3"});
}

// --- budgets --------------------------------------------------------------------------

TEST_CASE("config: per-thread budget limits must be non-negative", "[config]") {
  json doc = minimal_doc();
  doc["budgets"] = {{"per_thread", {{"max_tokens", -5}, {"max_cost_usd", -0.5}}}};
  CHECK(errors_of(doc) ==
        errors{"budgets.per_thread.max_tokens: must be a non-negative integer, got -5",
               "budgets.per_thread.max_cost_usd: must be a finite number >= 0, got -0.5"});
  doc["budgets"] = "cheap";
  CHECK(errors_of(doc) == errors{"budgets: must be an object, got \"cheap\""});
}

// --- workflows ------------------------------------------------------------------------

TEST_CASE("config: workflows must be an object of objects", "[config]") {
  json doc = minimal_doc();
  doc["workflows"] = json::array();
  CHECK(errors_of(doc) == errors{"workflows: must be an object, got []"});
  doc["workflows"] = {{"hello", 3}, {"", json::object()}};
  CHECK(errors_of(doc) == errors{"workflows[\"\"]: workflow names must not be empty",
                                 "workflows.hello: must be an object, got 3"});
}

TEST_CASE("config: a workflow's limits follow the same rules as the supervisor's", "[config]") {
  json doc = minimal_doc();
  doc["workflows"] = R"({"hello": {
    "max_hops": 0, "step_timeout_ms": -1,
    "budget": {"max_tokens": 10, "max_cost_usd": -1},
    "escalation": {"target": "agent"}
  }})"_json;
  CHECK(errors_of(doc) ==
        errors{"workflows.hello.max_hops: must be an integer from 1 to 10000, got 0",
               "workflows.hello.step_timeout_ms: must be an integer > 0, got -1",
               "workflows.hello.budget.max_cost_usd: must be a finite number >= 0, got -1",
               "workflows.hello.escalation.agent: is required when target is agent"});
}

TEST_CASE("config: a workflow agent's model must be a catalog model id", "[config]") {
  CHECK(errors_of(doc_with_agent({{"model", "gpt-5"}})) ==
        errors{"workflows.hello.agents.answerer.model: must be the id of an entry of models, "
               "got \"gpt-5\""});
  CHECK(errors_of(doc_with_agent({{"model", "smal"}})) ==
        errors{"workflows.hello.agents.answerer.model: must be the id of an entry of models "
               "(did you mean small?), got \"smal\""});
}

TEST_CASE("config: a workflow agent's tier must be a tier", "[config]") {
  CHECK(errors_of(doc_with_agent({{"tier", "premium"}})) ==
        errors{"workflows.hello.agents.answerer.tier: must be one of the tiers (local, mid, "
               "frontier), got \"premium\""});
}

TEST_CASE("config: a workflow agent sets model or tier, not both", "[config]") {
  CHECK(errors_of(doc_with_agent({{"model", "small"}, {"tier", "local"}})) ==
        errors{"workflows.hello.agents.answerer: set model or tier, not both, got "
               "{\"model\":\"small\",\"tier\":\"local\"}"});
  // Empty strings mean "not set", so they do not count as both.
  CHECK(errors_of(doc_with_agent({{"model", "small"}, {"tier", ""}})).empty());
}

TEST_CASE("config: a workflow agent's max_tokens is a non-negative integer", "[config]") {
  CHECK(errors_of(doc_with_agent({{"max_tokens", -1}})) ==
        errors{"workflows.hello.agents.answerer.max_tokens: must be a non-negative integer, "
               "got -1"});
  json doc = minimal_doc();
  doc["workflows"] = {{"hello", {{"agents", json::array()}}}};
  CHECK(errors_of(doc) == errors{"workflows.hello.agents: must be an object, got []"});
}

TEST_CASE("config: workflow() applies a workflow's overrides on top of the defaults", "[config]") {
  json doc = minimal_doc();
  doc["supervisor"] = {{"max_hops", 5}, {"step_timeout_ms", 1000}};
  doc["budgets"] = {{"per_thread", {{"max_tokens", 1000}, {"max_cost_usd", 2.0}}}};
  doc["workflows"] = R"({"hello": {
    "max_hops": 3, "escalation": {"target": "agent", "agent": "safety"},
    "agents": {"answerer": {"tier": "mid", "max_tokens": 200}}
  }})"_json;
  auto hello = parsed(doc).workflow("hello");
  CHECK(hello.max_hops == 3);
  CHECK(hello.step_timeout_ms == 1000);  // not overridden: the supervisor's
  CHECK(hello.thread_budget.max_tokens == 1000);
  CHECK(hello.escalation.target == "agent");
  CHECK(hello.escalation.agent == "safety");
  REQUIRE(hello.agents.count("answerer") == 1);
  CHECK(hello.agents.at("answerer").tier == "mid");
  CHECK(hello.agents.at("answerer").max_tokens == 200);
}

TEST_CASE("config: a workflow budget overrides only the limits it names", "[config]") {
  json doc = minimal_doc();
  doc["budgets"] = {{"per_thread", {{"max_tokens", 1000}, {"max_cost_usd", 2.0}}}};
  doc["workflows"] = {{"hello", {{"budget", {{"max_tokens", 50}}}}}};
  auto hello = parsed(doc).workflow("hello");
  CHECK(hello.thread_budget.max_tokens == 50);
  CHECK(hello.thread_budget.max_cost_usd == 2.0);
}

TEST_CASE("config: workflow() of a workflow the file does not mention gives the defaults",
          "[config]") {
  json doc = minimal_doc();
  doc["supervisor"] = R"({"max_hops": 5, "step_timeout_ms": 1000,
                          "escalation": {"handoff_file": "handoffs.jsonl"}})"_json;
  doc["budgets"] = {{"per_thread", {{"max_tokens", 1000}}}};
  doc["workflows"] = {{"hello", {{"max_hops", 3}}}};
  auto other = parsed(doc).workflow("unknown");
  CHECK(other.max_hops == 5);
  CHECK(other.step_timeout_ms == 1000);
  CHECK(other.thread_budget.max_tokens == 1000);
  CHECK(other.escalation.target == "handoff");
  CHECK(other.escalation.handoff_file == "handoffs.jsonl");
  CHECK(other.agents.empty());
}

// --- text, files and messages ---------------------------------------------------------

TEST_CASE("config: a JSON syntax error is one error naming the byte offset", "[config]") {
  auto result = parse_config_text(R"({"tiers": ["local",]})", "broken.json");
  CHECK_FALSE(result.ok());
  REQUIRE(result.errors.size() == 1);
  CHECK_THAT(result.errors[0], Catch::StartsWith("(root): invalid JSON at byte 20: "));
  CHECK_THAT(result.errors[0], Catch::Contains("line 1, column 20"));
  CHECK_THAT(result.errors[0], !Catch::Contains("json.exception"));
}

TEST_CASE("config: empty text is a syntax error, not an exception", "[config]") {
  auto result = parse_config_text("", "empty.json");
  REQUIRE(result.errors.size() == 1);
  CHECK_THAT(result.errors[0], Catch::StartsWith("(root): invalid JSON at byte "));
}

TEST_CASE("config: a key written twice in one object is reported with its path", "[config]") {
  auto result = parse_config_text(R"({
    "tiers": ["local"],
    "providers": [{"name": "sim", "kind": "sim"}],
    "models": [{"id": "a", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
                "price_out_per_mtok": 0, "context_window": 1, "residency": "local"},
               {"id": "b", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
                "price_out_per_mtok": 0, "context_window": 1, "residency": "local",
                "tier": "local"}]
  })",
                                  "dup.json");
  CHECK_FALSE(result.ok());
  CHECK(result.errors ==
        errors{"models[1].tier: duplicate key; only the last value would be used"});
}

TEST_CASE("config: valid text parses to the same config as the equivalent JSON", "[config]") {
  auto result = parse_config_text(minimal_doc().dump(), "text.json");
  INFO(result.message());
  REQUIRE(result.ok());
  CHECK(result.value->models.size() == 2);
}

TEST_CASE("config: a missing file is reported as unreadable with the reason", "[config]") {
  auto result = switchyard::load_config_file("/nonexistent/switchyard.json");
  CHECK_FALSE(result.ok());
  CHECK(result.errors == errors{"cannot read file: No such file or directory"});
  CHECK(result.message() ==
        "/nonexistent/switchyard.json: cannot read file: No such file or "
        "directory");
}

TEST_CASE("config: a directory given as the file is reported as unreadable", "[config]") {
  auto result = switchyard::load_config_file(SWITCHYARD_SOURCE_DIR "/examples/configs");
  CHECK(result.errors == errors{"cannot read file: Is a directory"});
}

TEST_CASE("config: message() lists every error on its own line, prefixed with the source",
          "[config]") {
  json doc = minimal_doc();
  doc["models"][0]["residency"] = "public";
  doc["runtime"] = {{"workers", 300}};
  auto result = parse_config(doc, "prod.json");
  CHECK(result.message() ==
        "prod.json: runtime.workers: must be an integer from 0 to 256, got 300\n"
        "prod.json: models[0].residency: must be one of local, private, cloud, got \"public\"");
}

TEST_CASE("config: a long value in a message is cut to about 80 characters", "[config]") {
  json doc = minimal_doc();
  doc["models"][0]["region"] = json::array({std::string(200, 'x')});
  errors found = errors_of(doc);
  REQUIRE(found.size() == 1);
  std::string prefix = "models[0].region: must be a string, got ";
  REQUIRE_THAT(found[0], Catch::StartsWith(prefix) && Catch::EndsWith("..."));
  CHECK(found[0].size() - prefix.size() <= 80);
}

TEST_CASE("config: invalid UTF-8 in a document built in code is reported, not thrown", "[config]") {
  json doc = minimal_doc();
  doc["\xff"] = 1;
  errors found;
  REQUIRE_NOTHROW(found = errors_of(doc));
  REQUIRE(found.size() == 1);
  CHECK_THAT(found[0], Catch::EndsWith(": unknown key"));
}

TEST_CASE(
    "config: examples/configs/providers.json loads with local, OpenAI and Anthropic endpoints",
    "[config]") {
  auto result =
      switchyard::load_config_file(SWITCHYARD_SOURCE_DIR "/examples/configs/providers.json");
  INFO(result.message());
  REQUIRE(result.ok());
  const config& c = *result.value;
  const auto* ollama = c.find_provider("ollama");
  REQUIRE(ollama != nullptr);
  CHECK(ollama->kind == "openai");
  CHECK(ollama->base_url == "http://127.0.0.1:11434/v1");
  CHECK(ollama->api_key_env.empty());
  const auto* anthropic = c.find_provider("anthropic");
  REQUIRE(anthropic != nullptr);
  CHECK(anthropic->api_key_env == "ANTHROPIC_API_KEY");
  CHECK(c.find_provider("openai")->api_key_env == "OPENAI_API_KEY");
  CHECK(c.find_model("ollama-llama3.2-3b")->wire_name() == "llama3.2:3b");
  CHECK(c.find_model("gpt-4o-mini")->wire_name() == "gpt-4o-mini");
}

TEST_CASE("config: rate-limit keys name their own secret variables, validated like a provider's",
          "[config][keys]") {
  json doc = minimal_doc();
  doc["providers"].push_back({{"name", "oa"}, {"kind", "openai"}, {"api_key_env", "OA_KEY"}});
  doc["resilience"]["rate_limits"]["oa"] =
      json::array({{{"key", "a"},
                    {"requests_per_minute", 10},
                    {"tokens_per_minute", 1000},
                    {"api_key_env", "OA_KEY_A"}},
                   {{"key", "b"}, {"requests_per_minute", 10}, {"tokens_per_minute", 1000}}});
  auto loaded = parse_config_text(doc.dump(), "t");
  INFO(loaded.message());
  REQUIRE(loaded.ok());
  const auto& keys = loaded.value->resilience.rate_limits.at("oa");
  CHECK(keys[0].api_key_env == "OA_KEY_A");
  CHECK(keys[1].api_key_env.empty());  // uses the provider's OA_KEY

  doc["resilience"]["rate_limits"]["oa"][1]["api_key_env"] = "sk-live-999secret";
  std::string sim = doc["providers"][0]["name"];
  doc["resilience"]["rate_limits"][sim] = json::array(
      {{{"requests_per_minute", 10}, {"tokens_per_minute", 1000}, {"api_key_env", "SIM_KEY"}}});
  auto errs = errors_of(doc);
  CHECK(errs == errors{"resilience.rate_limits.oa[1].api_key_env: must be the NAME of an "
                       "environment variable (letters, digits, _), not a key",
                       "resilience.rate_limits." + sim +
                           "[0].api_key_env: is only used by HTTP providers, not sim ones"});
  for (const auto& e : errs) CHECK(e.find("999secret") == std::string::npos);

  json many = json::array();
  for (int i = 0; i < 65; ++i)
    many.push_back(
        {{"key", "k" + std::to_string(i)}, {"requests_per_minute", 1}, {"tokens_per_minute", 1}});
  json doc2 = minimal_doc();
  doc2["providers"].push_back({{"name", "oa"}, {"kind", "openai"}});
  doc2["resilience"]["rate_limits"]["oa"] = many;
  CHECK(errors_of(doc2) == errors{"resilience.rate_limits.oa: must list at most 64 keys, got 65"});
}

TEST_CASE("config: a cascade judge names a catalog model and a prompt with {answer}",
          "[config][cascade]") {
  json doc = minimal_doc();
  std::string model_id = doc["models"][0]["id"];
  std::string tier = doc["tiers"][0];
  doc["resilience"]["cascade"]["support"] = {
      {"thresholds", {{tier, 0.5}}},
      {"judge", {{"model", model_id}, {"prompt", "Q: {question} A: {answer} Score?"}}}};
  auto loaded = parse_config_text(doc.dump(), "t");
  INFO(loaded.message());
  REQUIRE(loaded.ok());
  const auto& judge = loaded.value->resilience.cascade.at("support").judge;
  CHECK(judge.model == model_id);
  CHECK(judge.prompt == "Q: {question} A: {answer} Score?");
  CHECK(judge.max_tokens == 8);

  doc["resilience"]["cascade"]["support"]["judge"] = {
      {"prompt", "no slot"}, {"max_tokens", 0}, {"temperature", 1}};
  CHECK(errors_of(doc) ==
        errors{"resilience.cascade.support.judge.temperature: unknown key",
               "resilience.cascade.support.judge.model: is required",
               "resilience.cascade.support.judge.prompt: must contain {answer} (where the "
               "stage's answer goes; {question} is optional)",
               "resilience.cascade.support.judge.max_tokens: must be an integer from 1 to "
               "4096, got 0"});
  doc["resilience"]["cascade"]["support"]["judge"] = {{"model", "nope"}};
  CHECK(errors_of(doc) == errors{"resilience.cascade.support.judge.model: must be the id of an "
                                 "entry of models, got \"nope\""});
}
