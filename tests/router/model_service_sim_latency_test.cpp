// Sim calls with latency through the router actor: the answer waits out its latency in
// the call (not in the delayed message) and must come back whole, to the right caller,
// paid once; a fault with latency still fails over.

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "caf/all.hpp"
#include "router/model_service.hpp"
#include "router/providers/sim_provider.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/messages.hpp"
#include "tests/support/model_service_calls.hpp"
#include "runtime/trace_codec.hpp"

namespace switchyard {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

std::shared_ptr<const config> latency_config() {
  auto loaded = parse_config_text(R"({"runtime": {"workers": 2, "log_level": "off"},
    "tiers": ["local"],
    "providers": [{"name": "s1", "kind": "sim", "seed": 1}, {"name": "s2", "kind": "sim", "seed": 2}],
    "models": [
      {"id": "slow", "provider": "s1", "tier": "local", "price_in_per_mtok": 1.0,
       "price_out_per_mtok": 2.0, "context_window": 8192, "residency": "local",
       "sim": {"latency_ms": 40}},
      {"id": "flaky", "provider": "s2", "tier": "local", "price_in_per_mtok": 0.5,
       "price_out_per_mtok": 0.5, "context_window": 8192, "residency": "local",
       "sim": {"latency_ms": 20, "faults": [{"kind": "server_error", "every": 1}]}}
    ]})",
                                  "sim-latency-test");
  INFO(loaded.message());
  REQUIRE(loaded.ok());
  return std::make_shared<const config>(std::move(*loaded.value));
}

model_request request(const std::string& call_id, const std::string& text,
                      const std::string& model_id = {}) {
  model_request req;
  req.ctx.thread_id = "t1";
  req.call_id = call_id;
  req.model = model_id;
  req.tier = model_id.empty() ? "local" : "";
  req.max_tokens = 40;
  req.messages = {{"user", text}};
  return req;
}

}  // namespace

TEST_CASE("model service: a sim answer with latency arrives after it, whole and paid once",
          "[model_service][sim]") {
  auto cfg = latency_config();
  budget_ledger ledger;
  ledger.open_thread("t1", {1000000, 100.0});
  actor_runtime runtime{runtime_settings{"sharing", 2, "off"}};
  auto service = spawn_model_service(runtime.system(), cfg, ledger);

  auto started = std::chrono::steady_clock::now();
  model_response got = test::call_model_service(runtime.system(), service,
                                                request("c-1", "Where is my order?", "slow"), 10s);
  auto waited = std::chrono::steady_clock::now() - started;

  // The same call made on the provider directly: what the caller must get, byte for byte.
  sim_provider direct{1};
  auto expected = direct.call(*cfg->find_model("slow"), {{"user", "Where is my order?"}}, 40, 0ms);

  INFO(got.error.kind << ": " << got.error.message);
  REQUIRE(got.ok());
  CHECK(waited >= 40ms);
  CHECK(got.call_id == "c-1");
  CHECK(got.text == expected.text);
  CHECK(got.finish_reason == expected.finish_reason);
  CHECK(got.usage.model_id == "slow");
  CHECK(got.usage.input_tokens == expected.input_tokens);
  CHECK(got.usage.output_tokens == expected.output_tokens);
  double cost = (expected.input_tokens * 1.0 + expected.output_tokens * 2.0) / 1e6;
  CHECK(got.usage.cost_usd == Approx(cost));
  CHECK(json::parse(trace_json(got.usage.decision.bytes))["model"] == "slow");
  auto spent = ledger.usage("t1");
  CHECK(spent.spent_tokens == uint64_t{expected.input_tokens} + expected.output_tokens);
  CHECK(spent.spent_usd == Approx(cost));
  CHECK(spent.settled_calls == 1);
  caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
}

TEST_CASE("model service: many sim calls waiting at once each get their own answer",
          "[model_service][sim]") {
  auto cfg = latency_config();
  budget_ledger ledger;
  ledger.open_thread("t1", {100000000, 1000.0});
  actor_runtime runtime{runtime_settings{"sharing", 2, "off"}};
  auto service = spawn_model_service(runtime.system(), cfg, ledger);
  caf::scoped_actor self{runtime.system()};

  constexpr int calls = 200;
  for (int i = 0; i < calls; ++i)
    self->send(service,
               request("c-" + std::to_string(i), "question number " + std::to_string(i), "slow"));
  int answered = 0;
  for (int i = 0; i < calls; ++i)
    self->receive(
        [&](model_response& r) {
          INFO(r.call_id << ": " << r.error.kind << ": " << r.error.message);
          REQUIRE(r.ok());
          auto n = r.call_id.substr(2);
          // The sim derives its reply from the prompt: each answer is its own call's.
          sim_provider direct{1};
          auto expected =
              direct.call(*cfg->find_model("slow"), {{"user", "question number " + n}}, 40, 0ms);
          CHECK(r.text == expected.text);
          ++answered;
        },
        caf::after(10s) >> [&] { FAIL("no answer within 10 s"); });
  CHECK(answered == calls);
  caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
}

TEST_CASE("model service: a sim fault with latency still fails over to the next candidate",
          "[model_service][sim]") {
  auto cfg = latency_config();
  budget_ledger ledger;
  ledger.open_thread("t1", {1000000, 100.0});
  actor_runtime runtime{runtime_settings{"sharing", 2, "off"}};
  auto service = spawn_model_service(runtime.system(), cfg, ledger);

  // Cheapest first in the tier: the flaky model is routed to, fails after its latency,
  // and the call moves on to the slow one, which answers.
  model_response got = test::call_model_service(runtime.system(), service,
                                                request("c-f", "Where is my order?"), 10s);
  INFO(got.error.kind << ": " << got.error.message << " " << trace_json(got.usage.decision.bytes));
  REQUIRE(got.ok());
  CHECK(got.usage.model_id == "slow");
  auto trace = json::parse(trace_json(got.usage.decision.bytes));
  REQUIRE(trace.contains("resilience"));
  CHECK(trace["resilience"]["answered_by"] == "slow");
  CHECK(got.text.rfind("[sim slow]", 0) == 0);
  caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
}

TEST_CASE("model service: sim answers of different latencies each wait out their own",
          "[model_service][sim]") {
  // The service keeps one timer for all waiting sim answers: a later call with a
  // shorter latency must not wait for an earlier, longer one, nor the other way round.
  auto loaded = parse_config_text(R"({"runtime": {"workers": 2, "log_level": "off"},
    "tiers": ["local"],
    "providers": [{"name": "s1", "kind": "sim", "seed": 1}],
    "models": [
      {"id": "slow", "provider": "s1", "tier": "local", "price_in_per_mtok": 1.0,
       "price_out_per_mtok": 1.0, "context_window": 8192, "residency": "local",
       "sim": {"latency_ms": 400}},
      {"id": "quick", "provider": "s1", "tier": "local", "price_in_per_mtok": 1.0,
       "price_out_per_mtok": 1.0, "context_window": 8192, "residency": "local",
       "sim": {"latency_ms": 30}}
    ]})",
                                  "sim-latency-order-test");
  INFO(loaded.message());
  REQUIRE(loaded.ok());
  auto cfg = std::make_shared<const config>(std::move(*loaded.value));
  budget_ledger ledger;
  ledger.open_thread("t1", {1000000, 100.0});
  actor_runtime runtime{runtime_settings{"sharing", 2, "off"}};
  auto service = spawn_model_service(runtime.system(), cfg, ledger);
  caf::scoped_actor self{runtime.system()};

  auto started = std::chrono::steady_clock::now();
  self->send(service, request("c-slow", "first, slow", "slow"));
  self->send(service, request("c-quick-1", "second, quick", "quick"));
  self->send(service, request("c-quick-2", "third, quick", "quick"));
  std::vector<std::string> order;
  std::vector<std::chrono::steady_clock::duration> waited;
  for (int i = 0; i < 3; ++i)
    self->receive(
        [&](model_response& r) {
          INFO(r.call_id << ": " << r.error.kind << ": " << r.error.message);
          CHECK(r.ok());
          order.push_back(r.call_id);
          waited.push_back(std::chrono::steady_clock::now() - started);
        },
        caf::after(10s) >> [&] { FAIL("no answer within 10 s"); });
  CHECK(order == std::vector<std::string>{"c-quick-1", "c-quick-2", "c-slow"});
  CHECK(waited[0] >= 30ms);
  CHECK(waited[2] >= 400ms);
  caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
}

}  // namespace switchyard
