// Plain model calls started on the one thread running an io_context (the gateway's I/O
// thread, model_caller::run_calls_on): with a pooled connection idle, that thread also
// reads the provider's reply and answers (http_client::send_here), with the same
// answers, retries, timeouts and hand-over to the model service as a direct call whose
// reply the HTTP client's own thread reads.

#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <thread>

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

namespace net = boost::asio;
using json = nlohmann::json;
using namespace std::chrono_literals;

struct answer_on_thread final : gateway::model_call_handler {
  std::promise<std::pair<model_response, std::thread::id>> answer;
  void done(model_response& r) override { answer.set_value({r, std::this_thread::get_id()}); }
};

struct io_thread_fixture {
  std::unique_ptr<stub_server> stub;
  std::shared_ptr<const config> cfg;
  budget_ledger ledger;
  actor_runtime runtime{runtime_settings{"sharing", 2, "off"}};
  std::shared_ptr<call_core> core;
  caf::actor service;
  std::unique_ptr<gateway::model_caller> caller;
  net::io_context io;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::thread io_thread;
  std::thread::id io_thread_id;
  int next_id = 0;

  io_thread_fixture(const std::string& script_text, const std::string& resilience) {
    stub = testing::start_test_stub(script_text);
    std::string text = R"({"runtime": {"workers": 2, "log_level": "off"},
      "tiers": ["local"],
      "providers": [{"name": "oa", "kind": "openai", "base_url": ")" +
                       stub->base_url() + R"(/v1", "first_byte_timeout_ms": 300}],
      "models": [
        {"id": "gpt-a", "provider": "oa", "tier": "local", "price_in_per_mtok": 1,
         "price_out_per_mtok": 2, "context_window": 8192, "residency": "cloud"},
        {"id": "gpt-slow", "provider": "oa", "tier": "local", "price_in_per_mtok": 1,
         "price_out_per_mtok": 2, "context_window": 8192, "residency": "cloud"}],
      "resilience": )" +
                       resilience + "}";
    auto loaded = parse_config_text(text, "io-thread-call-test");
    INFO(loaded.message());
    REQUIRE(loaded.ok());
    cfg = std::make_shared<const config>(std::move(*loaded.value));
    ledger.open_thread("t1", {1000000, 100.0});
    core = std::make_shared<call_core>(cfg, ledger, std::make_shared<routing_policy>(cfg), nullptr);
    service = spawn_model_service(runtime.system(), core);
    caller = std::make_unique<gateway::model_caller>(runtime.system(), service, 10s, core);
    caller->run_calls_on(&io);
    work.emplace(io.get_executor());
    io_thread = std::thread([this] { io.run(); });
    io_thread_id = io_thread.get_id();
  }
  ~io_thread_fixture() {
    stop_io();
    caller->shutdown();
    caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
  }

  void stop_io() {
    if (!io_thread.joinable()) return;
    work.reset();
    io.stop();
    io_thread.join();
    caller->io_context_stopped(io);
  }

  // Starts the call on the io thread; the answer and the thread that gave it.
  std::future<std::pair<model_response, std::thread::id>> start(const std::string& model,
                                                                const std::string& thread = "t1") {
    model_request req;
    req.model = model;
    req.ctx.thread_id = thread;
    req.call_id = "call-" + std::to_string(++next_id);
    req.max_tokens = 50;
    req.messages = {{"user", "hello stub"}};
    auto waiter = std::make_shared<answer_on_thread>();
    auto answer = waiter->answer.get_future();
    net::post(io, [this, req = std::move(req), waiter]() mutable {
      caller->call(std::move(req), waiter);
    });
    return answer;
  }

  std::pair<model_response, std::thread::id> call(const std::string& model,
                                                  const std::string& thread = "t1") {
    auto answer = start(model, thread);
    REQUIRE(answer.wait_for(10s) == std::future_status::ready);
    return answer.get();
  }

  json stats() { return test::model_service_stats(runtime.system(), service); }
};

}  // namespace

TEST_CASE("io thread calls: with a pooled connection the io thread reads the reply and answers",
          "[gateway][direct][io_thread]") {
  io_thread_fixture f{"{}", R"({"retry": {"max_attempts": 1}})"};
  // Each call on a budget thread of its own: the traces show the same budget left.
  for (int i = 0; i < 4; ++i) f.ledger.open_thread("c" + std::to_string(i), {1000000, 100.0});
  // No pooled connection yet: the HTTP client's thread opens one and answers.
  auto [first, first_thread] = f.call("gpt-a", "c0");
  INFO(first.error.message);
  REQUIRE(first.ok());
  CHECK(first_thread != f.io_thread_id);
  CHECK(f.core->http->stats().run_elsewhere == 0);
  for (int i = 1; i < 4; ++i) {
    auto [r, thread] = f.call("gpt-a", "c" + std::to_string(i));
    INFO(r.error.message);
    REQUIRE(r.ok());
    CHECK(thread == f.io_thread_id);
    CHECK(r.text == first.text);
    CHECK(r.usage.model_id == "gpt-a");
    CHECK(r.usage.input_tokens == first.usage.input_tokens);
    CHECK(r.usage.output_tokens == first.usage.output_tokens);
    CHECK(r.usage.cost_usd == first.usage.cost_usd);
    CHECK(trace_json(r.usage.decision.bytes) == trace_json(first.usage.decision.bytes));
  }
  auto http = f.core->http->stats();
  CHECK(http.run_elsewhere == 3);
  CHECK(http.connections_opened == 1);  // one connection, back in the pool after each call
  CHECK(f.caller->direct_calls() == 4);
  CHECK(f.ledger.pending_reservations() == 0);
  for (int i = 0; i < 4; ++i) CHECK(f.ledger.usage("c" + std::to_string(i)).settled_calls == 1);
  auto s = f.stats();
  CHECK(s["calls"] == 4);
  CHECK(s["answered"] == 4);
  CHECK(s["in_flight"] == 0);
}

TEST_CASE("io thread calls: a failed or timed-out attempt is taken over by the model service",
          "[gateway][direct][io_thread]") {
  SECTION("a server error is retried by the service and the trace says so") {
    io_thread_fixture f{R"({"models": {"gpt-a": {"sequence": [
                             {"behaviour": "ok", "times": 1},
                             {"behaviour": "server_error", "times": 1}]}}})",
                        R"({"retry": {"max_attempts": 2, "base_delay_ms": 1,
                                      "max_delay_ms": 5}})"};
    REQUIRE(f.call("gpt-a").first.ok());  // pools the connection
    auto [r, thread] = f.call("gpt-a");
    INFO(r.error.message);
    REQUIRE(r.ok());
    CHECK(thread != f.io_thread_id);  // the service's retry answered
    CHECK(f.core->http->stats().run_elsewhere == 1);
    auto trace = json::parse(trace_json(r.usage.decision.bytes));
    CHECK(trace["resilience"]["retries"] == 1);
    auto s = f.stats();
    CHECK(s["calls"] == 2);
    CHECK(s["retries"] == 1);
    CHECK(s["answered"] == 2);
    CHECK(s["in_flight"] == 0);
    CHECK(f.ledger.pending_reservations() == 0);
    CHECK(f.ledger.usage("t1").settled_calls == 2);
  }
  SECTION("no response header within first_byte_timeout_ms is a timeout the service retries") {
    io_thread_fixture f{R"({"models": {"gpt-a": {"sequence": [
                             {"behaviour": "ok", "times": 1},
                             {"behaviour": "hang", "times": 1}]}}})",
                        R"({"retry": {"max_attempts": 2, "base_delay_ms": 1,
                                      "max_delay_ms": 5}})"};
    REQUIRE(f.call("gpt-a").first.ok());
    auto started = std::chrono::steady_clock::now();
    auto [r, thread] = f.call("gpt-a");
    INFO(r.error.message);
    REQUIRE(r.ok());
    CHECK(std::chrono::steady_clock::now() - started >= 300ms);
    CHECK(f.core->http->stats().run_elsewhere == 1);
    auto s = f.stats();
    CHECK(s["retries"] == 1);
    CHECK(s["in_flight"] == 0);
    CHECK(f.ledger.pending_reservations() == 0);
  }
  SECTION("without retries the caller's answer names the timeout") {
    io_thread_fixture f{R"({"models": {"gpt-a": {"sequence": [
                             {"behaviour": "ok", "times": 1},
                             {"behaviour": "hang", "times": 1}]}}})",
                        R"({"retry": {"max_attempts": 1}})"};
    REQUIRE(f.call("gpt-a").first.ok());
    auto [r, thread] = f.call("gpt-a");
    INFO(r.error.message);
    CHECK_FALSE(r.ok());
    CHECK(r.error.message.find("timeout: provider 'oa': no response header within 300 ms") !=
          std::string::npos);
    CHECK(f.ledger.pending_reservations() == 0);
    CHECK(f.stats()["in_flight"] == 0);
  }
}

TEST_CASE("io thread calls: a call in flight when the io thread stops goes to the model service",
          "[gateway][direct][io_thread]") {
  io_thread_fixture f{R"({"models": {"gpt-slow": {"latency_ms": 200}}})",
                      R"({"retry": {"max_attempts": 2, "base_delay_ms": 1, "max_delay_ms": 5}})"};
  REQUIRE(f.call("gpt-slow").first.ok());
  auto answer = f.start("gpt-slow");
  // Wait until the io thread has sent it, then stop the thread under it.
  for (int i = 0; i < 200 && f.core->http->stats().run_elsewhere == 0; ++i)
    std::this_thread::sleep_for(1ms);
  REQUIRE(f.core->http->stats().run_elsewhere == 1);
  f.stop_io();
  REQUIRE(answer.wait_for(10s) == std::future_status::ready);
  auto [r, thread] = answer.get();
  INFO(r.error.message);
  CHECK(r.ok());
  CHECK(thread != f.io_thread_id);
  auto s = f.stats();
  CHECK(s["retries"] == 1);
  CHECK(s["in_flight"] == 0);
  CHECK(f.ledger.pending_reservations() == 0);
}

}  // namespace switchyard
