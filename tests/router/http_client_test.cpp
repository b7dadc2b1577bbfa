// The HTTP client against the stub provider on 127.0.0.1: real sockets, no network.

#include "router/providers/http_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "stub/stub_server.hpp"
#include "tests/support/test_stub.hpp"

namespace switchyard {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

http_endpoint endpoint_of(const stub_server& stub) {
  std::string error;
  auto ep = parse_endpoint(stub.base_url() + "/v1", error);
  REQUIRE(ep);
  return *ep;
}

http_request chat(const std::string& model, const std::string& text, bool stream = false) {
  http_request req;
  req.target = "/chat/completions";
  req.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer sk-test-123"}};
  req.body = json{{"model", model},
                  {"stream", stream},
                  {"messages", json::array({{{"role", "user"}, {"content", text}}})}}
                 .dump();
  return req;
}

struct collected {
  http_result result;
  std::string streamed;
  std::chrono::milliseconds took{0};
};

collected call(http_client& client, const http_endpoint& ep, http_request req,
               http_timeouts timeouts = {}, bool stream = false) {
  auto streamed = std::make_shared<std::string>();
  std::promise<http_result> done;
  auto fut = done.get_future();
  auto start = std::chrono::steady_clock::now();
  http_chunk_handler on_chunk;
  if (stream) on_chunk = [streamed](std::string_view piece) { streamed->append(piece); };
  client.send(
      ep, std::move(req), timeouts, [&done](http_result r) { done.set_value(std::move(r)); },
      on_chunk);
  REQUIRE(fut.wait_for(10s) == std::future_status::ready);
  collected out;
  out.result = fut.get();
  out.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  out.streamed = *streamed;
  return out;
}

}  // namespace

TEST_CASE("base urls become endpoints: scheme, host, port and base path", "[http]") {
  std::string error;
  auto a = parse_endpoint("https://api.openai.com/v1/", error);
  REQUIRE(a);
  CHECK(a->scheme == "https");
  CHECK(a->host == "api.openai.com");
  CHECK(a->port == 443);
  CHECK(a->base_path == "/v1");
  CHECK(a->key() == "https://api.openai.com:443");
  auto b = parse_endpoint("http://127.0.0.1:8089", error);
  REQUIRE(b);
  CHECK(b->port == 8089);
  CHECK(b->base_path.empty());
  auto c = parse_endpoint("http://[::1]:11434/api", error);
  REQUIRE(c);
  CHECK(c->host == "::1");
  CHECK(c->port == 11434);
  CHECK_FALSE(parse_endpoint("ftp://x", error));
  CHECK_FALSE(error.empty());
  CHECK_FALSE(parse_endpoint("https://user:sk-secret@host", error));
  CHECK(error.find("sk-secret") == std::string::npos);
}

TEST_CASE("a POST round-trips through the stub and the stub records what it got", "[http]") {
  auto stub = testing::start_test_stub();
  http_client client;
  auto out = call(client, endpoint_of(*stub), chat("m1", "hello there"));
  REQUIRE(out.result.ok());
  CHECK(out.result.status == 200);
  auto body = json::parse(out.result.body);
  CHECK(body["choices"][0]["message"]["content"] == "[stub m1] You said: hello there");
  REQUIRE(out.result.header("content-type"));
  CHECK(*out.result.header("Content-Type") == "application/json");
  auto seen = stub->requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "POST");
  CHECK(seen[0].target == "/v1/chat/completions");
  CHECK(seen[0].header("authorization") == "Bearer sk-test-123");
  CHECK(json::parse(seen[0].body)["messages"][0]["content"] == "hello there");
  CHECK(out.result.client_time > 0ns);
}

TEST_CASE("keep-alive reuses one connection for sequential calls", "[http]") {
  auto stub = testing::start_test_stub();
  http_client client;
  auto ep = endpoint_of(*stub);
  for (int i = 0; i < 5; ++i) {
    auto out = call(client, ep, chat("m1", "call " + std::to_string(i)));
    REQUIRE(out.result.ok());
    CHECK(out.result.reused_connection == (i > 0));
  }
  CHECK(stub->connections() == 1);
  CHECK(client.stats().connections_opened == 1);
  CHECK(client.stats().connections_reused == 4);
  for (const auto& r : stub->requests()) CHECK(r.connection == 1);
}

TEST_CASE("without keep-alive every call opens its own connection", "[http]") {
  auto stub = testing::start_test_stub();
  http_client_options opts;
  opts.keep_alive = false;
  http_client client{opts};
  auto ep = endpoint_of(*stub);
  for (int i = 0; i < 3; ++i) REQUIRE(call(client, ep, chat("m1", "x")).result.ok());
  CHECK(stub->connections() == 3);
  CHECK(client.stats().connections_reused == 0);
}

TEST_CASE("a streamed response arrives as ordered chunks, then completion", "[http]") {
  auto stub = testing::start_test_stub(R"({"models": {"*": {"chunk_delay_ms": 2}}})");
  http_client client;
  auto out = call(client, endpoint_of(*stub), chat("m1", "one two three", true), {}, true);
  REQUIRE(out.result.ok());
  CHECK(out.result.status == 200);
  CHECK(out.result.body.empty());
  CHECK(*out.result.header("content-type") == "text/event-stream");
  // The deltas, in order, spell the reply; the terminator comes last.
  std::string text;
  size_t pos = 0;
  while ((pos = out.streamed.find("\"content\":\"", pos)) != std::string::npos) {
    pos += 11;
    text += out.streamed.substr(pos, out.streamed.find('"', pos) - pos);
  }
  CHECK(text == "[stub m1] You said: one two three");
  CHECK(out.streamed.size() > 20);
  CHECK(out.streamed.substr(out.streamed.size() - 14) == "data: [DONE]\n\n");
}

TEST_CASE("an error status is a response, its body collected even when streaming", "[http]") {
  auto stub = testing::start_test_stub(
      R"({"models": {"m1": {"sequence": [{"behaviour": "rate_limited", "retry_after_s": 7}]}}})");
  http_client client;
  auto out = call(client, endpoint_of(*stub), chat("m1", "x", true), {}, true);
  REQUIRE(out.result.ok());
  CHECK(out.result.status == 429);
  REQUIRE(out.result.header("retry-after"));
  CHECK(*out.result.header("retry-after") == "7");
  CHECK(out.streamed.empty());
  CHECK(json::parse(out.result.body)["error"]["code"] == "rate_limit_exceeded");
}

TEST_CASE("a server that never answers is a timeout after first_byte_ms", "[http]") {
  auto stub =
      testing::start_test_stub(R"({"models": {"m1": {"sequence": [{"behaviour": "hang"}]}}})");
  http_client client;
  http_timeouts t;
  t.first_byte_ms = 200;
  auto out = call(client, endpoint_of(*stub), chat("m1", "x"), t);
  CHECK(out.result.failure.kind == "timeout");
  CHECK(out.result.failure.message.find("no response header within 200 ms") != std::string::npos);
  CHECK(out.took >= 190ms);
  CHECK(out.took < 2000ms);
}

TEST_CASE("the total timeout bounds a slow call", "[http]") {
  auto stub = testing::start_test_stub(R"({"models": {"m1": {"latency_ms": 2000}}})");
  http_client client;
  http_timeouts t;
  t.total_ms = 150;
  auto out = call(client, endpoint_of(*stub), chat("m1", "x"), t);
  CHECK(out.result.failure.kind == "timeout");
  CHECK(out.result.failure.message.find("total timeout of 150 ms") != std::string::npos);
  CHECK(out.took < 1500ms);
}

TEST_CASE("a refused connection is a connection failure naming the endpoint", "[http]") {
  http_endpoint ep;
  {
    auto stub = testing::start_test_stub();
    ep = endpoint_of(*stub);
  }  // stopped: nothing listens on its port any more
  http_client client;
  auto out = call(client, ep, chat("m1", "x"));
  CHECK(out.result.failure.kind == "connection");
  CHECK(out.result.failure.message.find(ep.key()) != std::string::npos);
  CHECK(out.result.failure.message.find("sk-test-123") == std::string::npos);
}

TEST_CASE("a stream cut mid-body is a connection failure, after the chunks that came", "[http]") {
  auto stub = testing::start_test_stub(
      R"({"models": {"m1": {"sequence": [{"behaviour": "cut_stream"}]}}})");
  http_client client;
  auto out = call(client, endpoint_of(*stub), chat("m1", "a b c d e f g h", true), {}, true);
  CHECK(out.result.failure.kind == "connection");
  CHECK(out.result.status == 200);
  CHECK_FALSE(out.streamed.empty());
  CHECK(out.streamed.find("[DONE]") == std::string::npos);
  CHECK(out.result.failure.message.find("body bytes") != std::string::npos);
}

TEST_CASE("a plain body cut short of its Content-Length is a connection failure", "[http]") {
  auto stub = testing::start_test_stub(
      R"({"models": {"m1": {"sequence": [{"behaviour": "cut_stream"}]}}})");
  http_client client;
  auto out = call(client, endpoint_of(*stub), chat("m1", "x"));
  CHECK(out.result.failure.kind == "connection");
}

TEST_CASE("shutdown ends a call in flight with a connection failure", "[http]") {
  auto stub =
      testing::start_test_stub(R"({"models": {"m1": {"sequence": [{"behaviour": "hang"}]}}})");
  auto client = std::make_unique<http_client>();
  std::promise<http_result> done;
  auto fut = done.get_future();
  client->send(endpoint_of(*stub), chat("m1", "x"), {},
               [&done](http_result r) { done.set_value(std::move(r)); });
  std::this_thread::sleep_for(50ms);
  auto start = std::chrono::steady_clock::now();
  client->shutdown(100ms);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  REQUIRE(fut.wait_for(1s) == std::future_status::ready);
  CHECK(fut.get().failure.kind == "connection");
  // After shutdown a send answers at once.
  http_result late;
  client->send(endpoint_of(*stub), chat("m1", "x"), {}, [&late](http_result r) { late = r; });
  CHECK(late.failure.kind == "connection");
}

TEST_CASE("request_bytes writes what Beast's serializer writes for the same request", "[http]") {
  http_endpoint ep{"http", "127.0.0.1", 8123, "/v1", 0};
  auto req = chat("m1", "hello");
  for (bool keep_alive : {true, false}) {
    boost::beast::http::request<boost::beast::http::string_body> b;
    b.method(boost::beast::http::verb::post);
    b.target("/v1/chat/completions");
    b.version(11);
    b.set(boost::beast::http::field::host, "127.0.0.1:8123");
    b.set(boost::beast::http::field::user_agent, "switchyard");
    for (auto& [name, value] : req.headers) b.insert(name, value);
    if (!keep_alive) b.keep_alive(false);
    b.body() = req.body;
    b.prepare_payload();
    std::ostringstream expected;
    expected << b;
    CHECK(request_bytes(ep, req, keep_alive) == expected.str());
  }
  http_endpoint tls{"https", "api.example.com", 443, "", 0};
  http_request get;
  get.method = "GET";
  get.target = "/models";
  get.headers = {{"x-evil", "a\r\nInjected: yes"}};
  CHECK(request_bytes(tls, get, true) ==
        "GET /models HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: switchyard\r\n"
        "x-evil: a  Injected: yes\r\n\r\n");
}

TEST_CASE("calls on a pooled connection are written from the caller's thread", "[http]") {
  auto stub = testing::start_test_stub();
  auto ep = endpoint_of(*stub);
  http_client client;
  for (int i = 0; i < 3; ++i) {
    auto out = call(client, ep, chat("m1", "call " + std::to_string(i)));
    INFO(out.result.failure.message);
    REQUIRE(out.result.ok());
    CHECK(out.result.status == 200);
  }
  auto stats = client.stats();
  CHECK(stats.connections_opened == 1);
  CHECK(stats.sent_from_caller == 2);  // the first call had no pooled connection yet
  CHECK(stub->requests().size() == 3);
}

TEST_CASE("a pooled connection the server closed is retried once on a new one", "[http]") {
  auto stub = testing::start_test_stub();
  auto ep = endpoint_of(*stub);
  http_client client;
  REQUIRE(call(client, ep, chat("m1", "x")).result.ok());
  // Restart the stub on the same port: the pooled connection is now dead.
  auto port = stub->port();
  stub.reset();
  std::string error;
  stub = stub_server::start(port, {}, error);
  REQUIRE(stub);
  auto out = call(client, ep, chat("m1", "again"));
  INFO(out.result.failure.message);
  REQUIRE(out.result.ok());
  CHECK(client.stats().stale_retries == 1);
  CHECK_FALSE(out.result.reused_connection);
}

}  // namespace switchyard

namespace switchyard {

TEST_CASE("https to a server that does not speak TLS fails the handshake as connection",
          "[http]") {
  auto stub = testing::start_test_stub();
  std::string error;
  auto ep = parse_endpoint("https://127.0.0.1:" + std::to_string(stub->port()) + "/v1", error);
  REQUIRE(ep);
  http_client client;
  http_timeouts t;
  t.connect_ms = 2000;
  auto out = call(client, *ep, chat("m1", "x"), t);
  CHECK(out.result.failure.kind == "connection");
  CHECK(out.result.failure.message.find("TLS handshake") != std::string::npos);
  CHECK(stub->requests().empty());
}

namespace {

// Sends `n` calls at once and waits for all; results in send order.
std::vector<http_result> call_concurrently(http_client& client, const http_endpoint& ep, int n,
                                           http_timeouts timeouts = {}) {
  std::vector<std::promise<http_result>> done(n);
  std::vector<std::future<http_result>> futures;
  for (auto& p : done) futures.push_back(p.get_future());
  for (int i = 0; i < n; ++i)
    client.send(ep, chat("slow", "call " + std::to_string(i)), timeouts,
                [&done, i](http_result r) { done[i].set_value(std::move(r)); });
  std::vector<http_result> out;
  for (auto& f : futures) {
    REQUIRE(f.wait_for(20s) == std::future_status::ready);
    out.push_back(f.get());
  }
  return out;
}

}  // namespace

TEST_CASE("max_connections caps the connections open to an endpoint; extra calls queue",
          "[http][pool]") {
  auto stub = testing::start_test_stub(R"({"models": {"slow": {"latency_ms": 40}}})");
  http_client client;
  auto ep = endpoint_of(*stub);
  ep.max_connections = 2;
  auto results = call_concurrently(client, ep, 12);
  for (const auto& r : results) {
    INFO(r.failure.message);
    CHECK(r.ok());
    CHECK(r.status == 200);
  }
  CHECK(stub->requests().size() == 12);
  CHECK(stub->connections() == 2);
  CHECK(client.stats().connections_opened == 2);
  CHECK(client.stats().waited_for_connection >= 10);

  SECTION("without a cap the same burst opens more connections") {
    auto open = endpoint_of(*stub);
    http_client uncapped;
    for (const auto& r : call_concurrently(uncapped, open, 12)) CHECK(r.ok());
    CHECK(uncapped.stats().connections_opened > 2);
  }
}

TEST_CASE("a call waiting for a free connection times out within its total timeout",
          "[http][pool]") {
  auto stub = testing::start_test_stub(R"({"models": {"slow": {"latency_ms": 1500}}})");
  http_client client;
  auto ep = endpoint_of(*stub);
  ep.max_connections = 1;
  std::promise<http_result> first_done;
  auto first = first_done.get_future();
  client.send(ep, chat("slow", "first"), {},
              [&first_done](http_result r) { first_done.set_value(std::move(r)); });
  std::this_thread::sleep_for(50ms);
  http_timeouts tight;
  tight.total_ms = 200;
  auto second = call(client, ep, chat("slow", "second"), tight);
  CHECK(second.result.failure.kind == "timeout");
  CHECK(second.result.failure.message.find("no free connection") != std::string::npos);
  CHECK(second.took < 1000ms);
  REQUIRE(first.wait_for(10s) == std::future_status::ready);
  CHECK(first.get().ok());
  // The slot the first call held is free again and serves the next call.
  auto third = call(client, ep, chat("m1", "third"));
  CHECK(third.result.ok());
  CHECK(stub->connections() == 1);
}

TEST_CASE("send_here runs a call on the caller's io_context and gives its connection back",
          "[http][pool]") {
  namespace net = boost::asio;
  auto stub = testing::start_test_stub(R"({"models": {"slow": {"latency_ms": 200}}})");
  http_client client;
  auto ep = endpoint_of(*stub);
  ep.max_connections = 1;
  net::io_context here;
  auto work = net::make_work_guard(here);
  std::thread runner([&] { here.run(); });
  auto run_here = [&](const std::string& model, const std::string& text) {
    auto done = std::make_shared<std::promise<std::pair<http_result, std::thread::id>>>();
    auto taken = std::make_shared<std::promise<bool>>();
    net::post(here, [&, model, text, done, taken] {
      http_done_handler on_done = [done](http_result r) {
        done->set_value({std::move(r), std::this_thread::get_id()});
      };
      taken->set_value(client.send_here(here, ep, chat(model, text), {}, std::move(on_done)));
    });
    return std::make_pair(taken->get_future().get(), done->get_future());
  };

  // Off `here`'s thread, or with no pooled connection yet: not taken, nothing done.
  http_done_handler unused = [](http_result) { FAIL("not taken, so never called"); };
  CHECK_FALSE(client.send_here(here, ep, chat("m1", "x"), {}, std::move(unused)));
  {
    auto [taken, done] = run_here("m1", "no pooled connection");
    CHECK_FALSE(taken);
  }
  CHECK(client.stats().requests == 0);

  REQUIRE(call(client, ep, chat("m1", "warm")).result.ok());  // pools the one connection
  auto [taken, local] = run_here("slow", "on here");
  REQUIRE(taken);
  // The only connection is busy on `here`: this call waits for it and gets it when the
  // call on `here` gives it back.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto queued = call(client, ep, chat("m1", "queued"));
  REQUIRE(local.wait_for(10s) == std::future_status::ready);
  auto [result, thread] = local.get();
  INFO(result.failure.message);
  CHECK(result.ok());
  CHECK(result.status == 200);
  CHECK(result.body.find("on here") != std::string::npos);
  CHECK(thread == runner.get_id());
  INFO(queued.result.failure.message);
  CHECK(queued.result.ok());
  // Nobody waits now: the next call on `here` takes the pooled connection again.
  auto [again, again_done] = run_here("m1", "again");
  CHECK(again);
  REQUIRE(again_done.wait_for(10s) == std::future_status::ready);
  CHECK(again_done.get().first.ok());
  auto stats = client.stats();
  CHECK(stats.run_elsewhere == 2);
  CHECK(stats.connections_opened == 1);
  CHECK(stats.waited_for_connection == 1);
  CHECK(stub->connections() == 1);
  CHECK(stub->requests().size() == 4);

  work.reset();
  here.stop();
  runner.join();
  client.forget_context(here);
  // The connection it left registered with `here` is closed; the client opens another.
  CHECK(call(client, ep, chat("m1", "after")).result.ok());
}

}  // namespace switchyard
