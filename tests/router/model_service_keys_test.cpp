// Several keys per provider, each with its own secret, through the model service and
// the stub provider: each call carries the secret of the key the limiter granted; a
// key that answers 401 opens only its own breaker and a key that answers 429 is held
// back only itself, while traffic moves to the other key of the same model.

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>

#include "caf/all.hpp"
#include "router/model_service.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/messages.hpp"
#include "runtime/trace_codec.hpp"
#include "stub/stub_server.hpp"
#include "tests/support/model_service_calls.hpp"
#include "tests/support/test_stub.hpp"

namespace switchyard {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const char* var_a = "SWITCHYARD_TEST_KEYS_A";
const char* var_b = "SWITCHYARD_TEST_KEYS_B";
const char* var_c = "SWITCHYARD_TEST_KEYS_C";
const char* var_unset = "SWITCHYARD_TEST_KEYS_UNSET";

// Provider "oa" (model gpt-a) has keys "a" and "b" with their own secrets; provider
// "oa2" (model gpt-b, same tier, secret sk-c) is the fallback when no key of "oa" can
// answer. The keys allow 60 requests a minute: refilled slowly enough that the
// headroom of back-to-back calls alternates between them (key "a" first: ties go to
// the first key).
struct keys_fixture {
  std::unique_ptr<stub_server> stub;
  budget_ledger ledger;
  actor_runtime runtime{runtime_settings{"sharing", 2, "off"}};
  caf::actor service;

  explicit keys_fixture(const std::string& script_text, const std::string& key_b_var = var_b,
                        const std::string& key_a_var = var_a) {
    setenv(var_a, "sk-a", 1);
    setenv(var_b, "sk-b", 1);
    setenv(var_c, "sk-c", 1);
    unsetenv(var_unset);
    stub = testing::start_test_stub(script_text);
    auto base = stub->base_url();
    auto loaded = parse_config_text(R"({"runtime": {"workers": 2, "log_level": "off"},
      "tiers": ["local", "mid", "frontier"],
      "providers": [
        {"name": "oa", "kind": "openai", "base_url": ")" +
                                        base + R"(/v1", "first_byte_timeout_ms": 2000},
        {"name": "oa2", "kind": "openai", "base_url": ")" +
                                        base + R"(/v1", "api_key_env": ")" + var_c +
                                        R"(", "first_byte_timeout_ms": 2000}],
      "models": [
        {"id": "gpt-a", "provider": "oa", "tier": "mid", "price_in_per_mtok": 1,
         "price_out_per_mtok": 2, "context_window": 8192, "residency": "cloud"},
        {"id": "gpt-b", "provider": "oa2", "tier": "mid", "price_in_per_mtok": 2,
         "price_out_per_mtok": 3, "context_window": 8192, "residency": "cloud"}],
      "resilience": {"retry": {"max_attempts": 2, "base_delay_ms": 10},
        "breaker": {"open_ms": 60000},
        "rate_limits": {"oa": [
          {"key": "a", "api_key_env": ")" +
                                        key_a_var +
                                        R"(", "requests_per_minute": 60,
           "tokens_per_minute": 10000000},
          {"key": "b", "api_key_env": ")" +
                                        key_b_var +
                                        R"(", "requests_per_minute": 60,
           "tokens_per_minute": 10000000}]}}})",
                                    "keys-test");
    INFO(loaded.message());
    REQUIRE(loaded.ok());
    ledger.open_thread("t1", {10000000, 100.0});
    service = spawn_model_service(runtime.system(),
                                  std::make_shared<const config>(std::move(*loaded.value)), ledger);
  }
  ~keys_fixture() { caf::anon_send_exit(service, caf::exit_reason::user_shutdown); }

  model_response call(const std::string& text) {
    model_request req;
    req.ctx.thread_id = "t1";
    req.call_id = "c-" + text;
    req.model = "";
    req.tier = "mid";
    req.max_tokens = 40;
    req.messages = {{"user", text}};
    return test::call_model_service(runtime.system(), service, req, 20s);
  }

  json stats() { return test::model_service_stats(runtime.system(), service); }

  std::string breaker(const std::string& endpoint) {
    json all = stats();
    for (const auto& b : all["breakers"])
      if (b["endpoint"] == endpoint) return b["state"];
    return "none";
  }

  // Authorization header -> calls the stub received with it, per model.
  std::map<std::string, int> auth_counts(const std::string& model) {
    std::map<std::string, int> out;
    for (const auto& r : stub->requests())
      if (r.model == model) ++out[r.header("authorization")];
    return out;
  }
};

std::string events_of(const model_response& r) {
  auto trace = json::parse(trace_json(r.usage.decision.bytes));
  if (!trace.contains("resilience") || !trace["resilience"].contains("events")) return "";
  return trace["resilience"]["events"].dump();
}

}  // namespace

TEST_CASE("keys: each call carries the secret of the key the limiter granted, spread by headroom",
          "[keys][model_service][http]") {
  keys_fixture f{R"({})"};
  for (int i = 0; i < 10; ++i) {
    auto r = f.call("q" + std::to_string(i));
    INFO(r.error.message);
    REQUIRE(r.ok());
    CHECK(r.usage.model_id == "gpt-a");
  }
  auto counts = f.auth_counts("gpt-a");
  CHECK(counts.size() == 2);  // no other header value (no provider-wide key) went out
  CHECK(counts["Bearer sk-a"] >= 4);
  CHECK(counts["Bearer sk-b"] >= 4);
  // Each key is its own endpoint with its own breaker.
  CHECK(f.breaker("gpt-a|oa|a") == "closed");
  CHECK(f.breaker("gpt-a|oa|b") == "closed");
}

TEST_CASE("keys: a 401 on one key opens only that key's breaker and traffic moves to the other",
          "[keys][model_service][http]") {
  keys_fixture f{R"({"keys": {"sk-a": {"behaviour": "unauthorized"}}})"};
  for (int i = 0; i < 6; ++i) {
    auto r = f.call("q" + std::to_string(i));
    INFO(r.error.message);
    REQUIRE(r.ok());
    CHECK(r.usage.model_id == "gpt-a");  // the same model, on the other key
    CHECK_FALSE(r.usage.downgraded);
    if (i == 0) {
      // The first call went to key "a" (a tie goes to the first key), was rejected,
      // and the very same call went out again on key "b"; the trace says so.
      CHECK(events_of(r).find("gpt-a: auth on key 'a'") != std::string::npos);
    }
  }
  auto counts = f.auth_counts("gpt-a");
  CHECK(counts["Bearer sk-a"] == 1);  // its breaker opened at the first 401
  CHECK(counts["Bearer sk-b"] == 6);
  CHECK(f.auth_counts("gpt-b").empty());  // never fell back to another model
  CHECK(f.breaker("gpt-a|oa|a") == "open");
  CHECK(f.breaker("gpt-a|oa|b") == "closed");
  CHECK(f.stats()["key_failovers"] == 1);
}

TEST_CASE("keys: a 429 on one key holds back only that key until its Retry-After",
          "[keys][model_service][http]") {
  keys_fixture f{R"({"keys": {"sk-b": {"behaviour": "rate_limited", "retry_after_s": 30}}})"};
  for (int i = 0; i < 6; ++i) {
    auto r = f.call("q" + std::to_string(i));
    INFO(r.error.message);
    REQUIRE(r.ok());
    CHECK(r.usage.model_id == "gpt-a");
  }
  auto counts = f.auth_counts("gpt-a");
  CHECK(counts["Bearer sk-b"] == 1);  // held back for 30 s after its 429
  CHECK(counts["Bearer sk-a"] == 6);
  // A 429 is the limiter's business, not a health verdict: both breakers stay closed.
  CHECK(f.breaker("gpt-a|oa|a") == "closed");
  CHECK(f.breaker("gpt-a|oa|b") == "closed");
  CHECK(f.stats()["key_failovers"] == 1);
}

TEST_CASE("keys: when every key is rejected the call falls back to another provider",
          "[keys][model_service][http]") {
  keys_fixture f{R"({"keys": {"sk-a": {"behaviour": "unauthorized"},
                               "sk-b": {"behaviour": "unauthorized"}},
                     "models": {"gpt-b": {"reply": "from b"}}})"};
  auto r = f.call("hello");
  INFO(r.error.message);
  REQUIRE(r.ok());
  CHECK(r.usage.model_id == "gpt-b");
  CHECK(r.text == "from b");
  auto counts = f.auth_counts("gpt-a");
  CHECK(counts["Bearer sk-a"] == 1);
  CHECK(counts["Bearer sk-b"] == 1);
  CHECK(f.auth_counts("gpt-b")["Bearer sk-c"] == 1);
  CHECK(f.breaker("gpt-a|oa|a") == "open");
  CHECK(f.breaker("gpt-a|oa|b") == "open");
  // The next call does not touch gpt-a at all: every key of it is out.
  auto again = f.call("again");
  REQUIRE(again.ok());
  CHECK(again.usage.model_id == "gpt-b");
  CHECK(f.auth_counts("gpt-a")["Bearer sk-a"] == 1);
  CHECK(f.auth_counts("gpt-a")["Bearer sk-b"] == 1);
}

TEST_CASE("keys: a key whose variable is unset is never used; the others carry the calls",
          "[keys][model_service][http]") {
  keys_fixture f{R"({})", var_unset};
  for (int i = 0; i < 4; ++i) {
    auto r = f.call("q" + std::to_string(i));
    INFO(r.error.message);
    REQUIRE(r.ok());
    CHECK(r.usage.model_id == "gpt-a");
  }
  auto counts = f.auth_counts("gpt-a");
  CHECK(counts.size() == 1);
  CHECK(counts["Bearer sk-a"] == 4);
}

}  // namespace switchyard

namespace switchyard {

TEST_CASE("keys: with no key's variable set, calls fail with auth naming the variables",
          "[keys][model_service][http]") {
  keys_fixture f{R"({})", var_unset, "SWITCHYARD_TEST_KEYS_UNSET_TOO"};
  model_request req;
  req.ctx.thread_id = "t1";
  req.call_id = "pinned";
  req.model = "gpt-a";  // pinned: no fallback to gpt-b
  req.max_tokens = 40;
  req.messages = {{"user", "hello"}};
  model_response r = test::call_model_service(f.runtime.system(), f.service, req, 20s);
  CHECK(r.error.kind == "auth");
  INFO(r.error.message);
  // Key "a" first, then key "b": the config's order.
  CHECK(r.error.message.find("environment variables SWITCHYARD_TEST_KEYS_UNSET_TOO, "
                             "SWITCHYARD_TEST_KEYS_UNSET (named by api_key_env) are not "
                             "set or empty") != std::string::npos);
  CHECK(f.auth_counts("gpt-a").empty());  // nothing went out
}

}  // namespace switchyard
