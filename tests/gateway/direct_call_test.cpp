// Plain model calls started on the caller's thread (router/call_core.hpp, try_direct,
// through gateway/model_caller): the same routing decision, trace and answer as the
// model service's actor gives, the budget settled or released on every path, and a
// failed attempt taken over by the service (retries, fallbacks, error kinds unchanged).

#include <catch2/catch.hpp>
#include <chrono>
#include <future>

#include "caf/all.hpp"
#include "gateway/model_caller.hpp"
#include "router/call_core.hpp"
#include "router/model_service.hpp"
#include "router/routing_policy.hpp"
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

struct answer_waiter final : gateway::model_call_handler {
  std::promise<model_response> answer;
  void done(model_response& r) override { answer.set_value(r); }
};

struct direct_call_fixture {
  std::unique_ptr<stub_server> stub;
  std::shared_ptr<const config> cfg;
  budget_ledger ledger;
  actor_runtime runtime{runtime_settings{"sharing", 2, "off"}};
  caf::actor service;
  std::unique_ptr<gateway::model_caller> direct;   // plain calls on the caller's thread
  std::unique_ptr<gateway::model_caller> mailbox;  // every call through the actor
  int next_id = 0;

  explicit direct_call_fixture(
      const std::string& script_text,
      const std::string& resilience = R"({"retry": {"max_attempts": 1}})") {
    stub = testing::start_test_stub(script_text);
    std::string text = R"({"runtime": {"workers": 2, "log_level": "off"},
      "tiers": ["local", "mid"],
      "providers": [{"name": "oa", "kind": "openai", "base_url": ")" +
                       stub->base_url() + R"(/v1", "first_byte_timeout_ms": 2000}],
      "models": [
        {"id": "gpt-a", "provider": "oa", "tier": "local", "price_in_per_mtok": 1,
         "price_out_per_mtok": 2, "context_window": 8192, "residency": "cloud",
         "capabilities": ["json_mode", "tools"]},
        {"id": "gpt-b", "provider": "oa", "tier": "mid", "price_in_per_mtok": 3,
         "price_out_per_mtok": 4, "context_window": 8192, "residency": "cloud",
         "capabilities": ["json_mode", "tools"]},
        {"id": "gpt-small", "provider": "oa", "tier": "local", "price_in_per_mtok": 1,
         "price_out_per_mtok": 1, "context_window": 16, "residency": "local"}],
      "resilience": )" +
                       resilience + "}";
    auto loaded = parse_config_text(text, "direct-call-test");
    INFO(loaded.message());
    REQUIRE(loaded.ok());
    cfg = std::make_shared<const config>(std::move(*loaded.value));
    ledger.open_thread("t1", {1000000, 100.0});
    auto core =
        std::make_shared<call_core>(cfg, ledger, std::make_shared<routing_policy>(cfg), nullptr);
    service = spawn_model_service(runtime.system(), core);
    direct = std::make_unique<gateway::model_caller>(runtime.system(), service, 10s, core);
    mailbox = std::make_unique<gateway::model_caller>(runtime.system(), service, 10s);
  }
  ~direct_call_fixture() {
    direct->shutdown();
    mailbox->shutdown();
    caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
  }

  model_response call(gateway::model_caller& caller, model_request req) {
    if (req.ctx.thread_id.empty()) req.ctx.thread_id = "t1";
    req.call_id = "call-" + std::to_string(++next_id);
    if (req.max_tokens == 0) req.max_tokens = 50;
    if (req.messages.empty()) req.messages = {{"user", "hello stub"}};
    auto waiter = std::make_shared<answer_waiter>();
    auto answer = waiter->answer.get_future();
    caller.call(std::move(req), waiter);
    REQUIRE(answer.wait_for(10s) == std::future_status::ready);
    return answer.get();
  }

  json stats() { return test::model_service_stats(runtime.system(), service); }
};

model_request request_for(const std::string& model, const std::string& tier) {
  model_request req;
  req.model = model;
  req.tier = tier;
  return req;
}

// Everything of an answer but its id and latency, which differ per call.
void check_same_answer(const model_response& a, const model_response& b) {
  INFO(a.error.kind << ": " << a.error.message << " / " << b.error.kind << ": " << b.error.message);
  CHECK(a.ok() == b.ok());
  CHECK(a.error.kind == b.error.kind);
  CHECK(a.text == b.text);
  CHECK(a.finish_reason == b.finish_reason);
  CHECK(a.usage.model_id == b.usage.model_id);
  CHECK(a.usage.tier == b.usage.tier);
  CHECK(a.usage.route == b.usage.route);
  CHECK(a.usage.downgraded == b.usage.downgraded);
  CHECK(a.usage.input_tokens == b.usage.input_tokens);
  CHECK(a.usage.output_tokens == b.usage.output_tokens);
  CHECK(a.usage.cost_usd == b.usage.cost_usd);
  CHECK(trace_json(a.usage.decision.bytes) == trace_json(b.usage.decision.bytes));
}

}  // namespace

TEST_CASE("direct calls: the caller's thread decides and answers as the model service does",
          "[gateway][direct]") {
  direct_call_fixture f{"{}"};
  std::vector<model_request> requests;
  requests.push_back(request_for("gpt-a", ""));
  requests.push_back(request_for("", "mid"));
  requests.push_back(request_for("", ""));  // auto: the policy's default route and tier
  auto routed = request_for("", "");
  routed.route = "coding";
  requests.push_back(routed);
  auto pii = request_for("", "");
  pii.data_class = "pii";  // only local residency: gpt-small, whose window is too small
  requests.push_back(pii);
  int plain = 0;
  int pair = 0;
  for (auto req : requests) {
    // Each on a thread of its own with the same budget: the trace shows what is left.
    ++pair;
    auto before = f.direct->direct_calls();
    req.ctx.thread_id = "actor-" + std::to_string(pair);
    f.ledger.open_thread(req.ctx.thread_id, {1000000, 100.0});
    auto via_actor = f.call(*f.mailbox, req);
    req.ctx.thread_id = "caller-" + std::to_string(pair);
    f.ledger.open_thread(req.ctx.thread_id, {1000000, 100.0});
    auto via_caller = f.call(*f.direct, req);
    check_same_answer(via_caller, via_actor);
    if (via_actor.ok()) {
      ++plain;
      CHECK(f.direct->direct_calls() == before + 1);  // it did not go through the mailbox
      CHECK(via_caller.usage.latency_ms > 0);
    }
  }
  CHECK(plain >= 4);
  CHECK(f.mailbox->direct_calls() == 0);
  CHECK(f.ledger.pending_reservations() == 0);
  for (int i = 1; i <= pair; ++i) {
    auto actor = f.ledger.usage("actor-" + std::to_string(i));
    auto caller = f.ledger.usage("caller-" + std::to_string(i));
    CHECK(caller.spent_tokens == actor.spent_tokens);
    CHECK(caller.settled_calls == actor.settled_calls);
    CHECK(caller.reserved_tokens == 0);
  }
  auto s = f.stats();
  CHECK(s["calls"] == 2 * requests.size());
  CHECK(s["answered"] == 2 * plain);
  CHECK(s["in_flight"] == 0);
  CHECK(s["attempts"] == 2 * plain);
}

TEST_CASE("direct calls: a failed attempt is taken over by the model service",
          "[gateway][direct]") {
  SECTION("a server error is retried by the service and the trace says so") {
    direct_call_fixture f{
        R"({"models": {"gpt-a": {"sequence": [{"behaviour": "server_error",
                                                                  "times": 1}]}}})",
        R"({"retry": {"max_attempts": 2, "base_delay_ms": 1, "max_delay_ms": 5}})"};
    auto r = f.call(*f.direct, request_for("gpt-a", ""));
    INFO(r.error.message);
    REQUIRE(r.ok());
    CHECK(f.direct->direct_calls() == 1);
    CHECK(r.usage.model_id == "gpt-a");
    CHECK(r.usage.cost_usd > 0);
    auto trace = json::parse(trace_json(r.usage.decision.bytes));
    CHECK(trace["resilience"]["retries"] == 1);
    auto s = f.stats();
    CHECK(s["calls"] == 1);
    CHECK(s["attempts"] == 2);
    CHECK(s["retries"] == 1);
    CHECK(s["answered"] == 1);
    CHECK(s["in_flight"] == 0);
    CHECK(f.ledger.pending_reservations() == 0);
    auto usage = f.ledger.usage("t1");
    CHECK(usage.settled_calls == 1);
  }
  SECTION("a provider error keeps its kind, and the reservation is released") {
    direct_call_fixture f{R"({"models": {"*": {"sequence": [{"behaviour": "bad_request"}]}}})"};
    auto via_caller = f.call(*f.direct, request_for("gpt-a", ""));
    auto via_actor = f.call(*f.mailbox, request_for("gpt-a", ""));
    CHECK(f.direct->direct_calls() == 1);
    CHECK_FALSE(via_caller.ok());
    CHECK(via_caller.error.kind == "bad_request");
    CHECK(via_caller.error.message == via_actor.error.message);
    check_same_answer(via_caller, via_actor);
    CHECK(f.ledger.pending_reservations() == 0);
    CHECK(f.ledger.usage("t1").spent_usd == 0);
    auto s = f.stats();
    CHECK(s["calls"] == 2);
    CHECK(s["failed"] == 2);
    CHECK(s["in_flight"] == 0);
  }
  SECTION("an unusable reply (json_mode, not JSON) is judged by the service") {
    direct_call_fixture f{R"({"models": {"gpt-a": {"reply": "not json"}}})",
                          R"({"retry": {"max_attempts": 1}})"};
    auto req = request_for("", "local");
    req.json_mode = true;
    auto via_actor = f.call(*f.mailbox, req);
    auto via_caller = f.call(*f.direct, req);
    CHECK(f.direct->direct_calls() == 1);
    check_same_answer(via_caller, via_actor);
    auto s = f.stats();
    CHECK(s["semantic_failures"] == 2);
    CHECK(s["in_flight"] == 0);
    CHECK(f.ledger.pending_reservations() == 0);
  }
}

TEST_CASE("direct calls: streams, an exhausted budget and an open breaker go to the service",
          "[gateway][direct]") {
  direct_call_fixture f{"{}"};
  auto streamed = request_for("gpt-a", "");
  streamed.stream = true;
  auto r = f.call(*f.direct, streamed);
  CHECK(r.ok());
  CHECK(f.direct->direct_calls() == 0);
  // A thread without budget: the service refuses, naming the budget.
  f.ledger.open_thread("poor", {1, 0.0000001});
  model_request broke = request_for("gpt-a", "");
  broke.max_tokens = 1000;
  broke.call_id = "broke";
  broke.messages = {{"user", "hello"}};
  broke.ctx.thread_id = "poor";
  auto waiter = std::make_shared<answer_waiter>();
  auto answer = waiter->answer.get_future();
  f.direct->call(broke, waiter);
  REQUIRE(answer.wait_for(10s) == std::future_status::ready);
  auto refused = answer.get();
  CHECK(refused.error.kind == "budget_exhausted");
  CHECK(f.direct->direct_calls() == 0);
  CHECK(f.ledger.pending_reservations() == 0);
}

}  // namespace switchyard
