// A plain call to an HTTP provider is answered by the HTTP client's thread itself
// (router/model_service.cpp, answer_directly): the answer must be exactly what the
// service would have delivered, and the budget, the service's counters and the next
// call must already see the call as finished when its answer arrives.

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <chrono>

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

struct direct_fixture {
  std::unique_ptr<stub_server> stub;
  std::shared_ptr<const config> cfg;
  budget_ledger ledger;
  actor_runtime runtime{runtime_settings{"sharing", 2, "off"}};
  caf::actor service;

  explicit direct_fixture(const std::string& script_text) {
    stub = testing::start_test_stub(script_text);
    std::string text = R"({"runtime": {"workers": 2, "log_level": "off"},
      "tiers": ["local", "mid"],
      "providers": [{"name": "oa", "kind": "openai", "base_url": ")" +
                       stub->base_url() + R"(/v1", "first_byte_timeout_ms": 2000}],
      "models": [
        {"id": "gpt-a", "provider": "oa", "tier": "local", "price_in_per_mtok": 1,
         "price_out_per_mtok": 2, "context_window": 8192, "residency": "cloud",
         "capabilities": ["json_mode"]},
        {"id": "gpt-b", "provider": "oa", "tier": "mid", "price_in_per_mtok": 3,
         "price_out_per_mtok": 4, "context_window": 8192, "residency": "cloud",
         "capabilities": ["json_mode"]}],
      "resilience": {"retry": {"max_attempts": 1}}})";
    auto loaded = parse_config_text(text, "direct-test");
    INFO(loaded.message());
    REQUIRE(loaded.ok());
    cfg = std::make_shared<const config>(std::move(*loaded.value));
    ledger.open_thread("t1", {100000, 10.0});
    service = spawn_model_service(runtime.system(), cfg, ledger);
  }
  ~direct_fixture() { caf::anon_send_exit(service, caf::exit_reason::user_shutdown); }

  model_response call(const std::string& model, const std::string& tier, bool json_mode = false) {
    model_request req;
    req.ctx.thread_id = "t1";
    req.call_id = "call-" + model + tier;
    req.model = model;
    req.tier = tier;
    req.json_mode = json_mode;
    req.max_tokens = 50;
    req.messages = {{"user", "hello stub"}};
    return test::call_model_service(runtime.system(), service, req, 10s);
  }

  json stats() { return test::model_service_stats(runtime.system(), service); }
};

}  // namespace

TEST_CASE("a plain HTTP call's answer carries usage, cost, route and trace, and is settled",
          "[http][model_service]") {
  direct_fixture f{"{}"};
  for (int i = 1; i <= 3; ++i) {
    auto r = f.call("gpt-a", "");
    INFO(r.error.message);
    REQUIRE(r.ok());
    CHECK(r.call_id == "call-gpt-a");
    CHECK(r.text == "[stub gpt-a] You said: hello stub");
    CHECK(r.usage.model_id == "gpt-a");
    CHECK(r.usage.tier == "local");
    CHECK_FALSE(r.usage.downgraded);
    CHECK(r.usage.input_tokens > 0);
    CHECK(r.usage.cost_usd > 0);
    CHECK(r.usage.latency_ms > 0);
    auto trace = json::parse(trace_json(r.usage.decision.bytes));
    CHECK(trace.is_object());
    CHECK_FALSE(trace.contains("resilience"));
    // Settled before the answer arrived: nothing reserved, this call's spend counted.
    auto usage = f.ledger.usage("t1");
    CHECK(usage.settled_calls == static_cast<uint64_t>(i));
    CHECK(usage.reserved_tokens == 0);
    CHECK(usage.spent_usd > 0);
    CHECK(f.ledger.pending_reservations() == 0);
    // The service's own bookkeeping went into its mailbox before the answer went out:
    // a request sent after the answer sees it.
    auto s = f.stats();
    CHECK(s["answered"] == i);
    CHECK(s["in_flight"] == 0);
    CHECK(s["calls"] == i);
  }
}

TEST_CASE("an unusable HTTP reply still goes through the service's decisions",
          "[http][model_service]") {
  // Not JSON although json_mode was asked: the service judges it (a semantic failure),
  // never the HTTP client's thread.
  direct_fixture f{R"({"models": {"*": {"reply": "not json"}}})"};
  auto r = f.call("gpt-a", "", true);
  CHECK_FALSE(r.ok());
  CHECK(r.error.message.find("json") != std::string::npos);
  CHECK(f.ledger.usage("t1").reserved_tokens == 0);
  CHECK(f.ledger.pending_reservations() == 0);
  auto s = f.stats();
  CHECK(s["semantic_failures"] == 1);
  CHECK(s["in_flight"] == 0);
}

}  // namespace switchyard
