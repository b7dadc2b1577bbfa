// The gateway in process, as `switchyard serve` assembles it (engine, model service,
// gateway_service on the Beast server), against the stub provider on an ephemeral port:
// model calls answered without a bridge actor (gateway/model_caller), a streamed reply's
// route headers, the deadline, and the /admin/keys endpoints.

#include "gateway/gateway_service.hpp"

#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "gateway/http_server.hpp"
#include "gateway/key_store.hpp"
#include "router/call_core.hpp"
#include "router/providers/http_client.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/config.hpp"
#include "stub/stub_server.hpp"
#include "tests/support/temp_dir.hpp"
#include "workflows/engine.hpp"
#include "workflows/workflow_registry.hpp"

namespace switchyard {

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using json = nlohmann::json;

struct http_reply {
  unsigned status = 0;
  std::string head;  // status line and headers, lower-cased
  std::string body;  // de-chunked for chunked replies

  std::string header(const std::string& name) const {
    auto at = head.find("\r\n" + name + ": ");
    if (at == std::string::npos) return {};
    at += name.size() + 4;
    return head.substr(at, head.find("\r\n", at) - at);
  }
};

// One kept-alive client connection doing blocking request/response.
class client {
 public:
  explicit client(uint16_t port) : sock_(ioc_) {
    sock_.connect({net::ip::make_address("127.0.0.1"), port});
  }

  http_reply call(const std::string& method, const std::string& target, const std::string& body,
                  const std::string& extra_headers = "") {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + extra_headers;
    if (!body.empty())
      req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n";
    req += "\r\n" + body;
    net::write(sock_, net::buffer(req));
    return read_reply();
  }

 private:
  // Reads more into buf_ (blocking); false when the connection closed.
  bool fill() {
    char chunk[4096];
    boost::system::error_code ec;
    auto n = sock_.read_some(net::buffer(chunk), ec);
    if (ec) return false;
    buf_.append(chunk, n);
    return true;
  }

  http_reply read_reply() {
    http_reply r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return r;
    r.head = buf_.substr(0, end + 2);
    buf_.erase(0, end + 4);
    // Lower-cased whole: names become comparable, and the values checked here are
    // lower-case already.
    for (auto& ch : r.head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    r.status = static_cast<unsigned>(std::stoul(r.head.substr(9, 3)));
    if (auto len = r.header("content-length"); !len.empty()) {
      size_t n = std::stoul(len);
      while (buf_.size() < n)
        if (!fill()) return r;
      r.body = buf_.substr(0, n);
      buf_.erase(0, n);
      return r;
    }
    // Chunked: size line, data, CRLF; a zero size ends it.
    for (;;) {
      size_t line;
      while ((line = buf_.find("\r\n")) == std::string::npos)
        if (!fill()) return r;
      size_t n = std::stoul(buf_.substr(0, line), nullptr, 16);
      while (buf_.size() < line + 2 + n + 2)
        if (!fill()) return r;
      r.body += buf_.substr(line + 2, n);
      buf_.erase(0, line + 2 + n + 2);
      if (n == 0) return r;
    }
  }

  net::io_context ioc_;
  tcp::socket sock_;
  std::string buf_;
};

std::string chat_body(const std::string& model, bool stream) {
  return json{{"model", model},
              {"stream", stream},
              {"max_tokens", 16},
              {"messages", json::array({{{"role", "user"}, {"content", "hello gateway"}}})}}
      .dump();
}

// The gateway in process on an ephemeral port, calling `stub`.
struct gateway_fixture {
  std::shared_ptr<const config> cfg;
  actor_runtime runtime;
  workflow_registry registry;
  engine eng;
  std::shared_ptr<gateway::metrics_registry> metrics = std::make_shared<gateway::metrics_registry>();
  std::unique_ptr<gateway::gateway_service> service;
  std::unique_ptr<gateway::http_server> server;

  gateway_fixture(const std::string& stub_url, uint32_t request_timeout_ms,
                  std::shared_ptr<gateway::key_store> keys = nullptr,
                  const std::string& admin_token = "", bool io_thread_calls = false)
      : cfg(make(stub_url, request_timeout_ms, keys != nullptr)),
        runtime(cfg->runtime),
        eng(runtime.system(), cfg, registry) {
    gateway::gateway_parts parts;
    parts.cfg = cfg;
    parts.eng = &eng;
    parts.metrics = metrics;
    parts.keys = std::move(keys);
    parts.admin_token = admin_token;
    service = std::make_unique<gateway::gateway_service>(std::move(parts));
    std::string error;
    server = gateway::http_server::start(
        {},
        [this](gateway::incoming_request r, std::shared_ptr<gateway::response_channel> ch) {
          service->handle(std::move(r), std::move(ch));
        },
        {}, error);
    REQUIRE(server);
    if (io_thread_calls) service->run_calls_on(*server);
    service->set_ready(true);
  }
  ~gateway_fixture() { server->stop(); }

  static std::shared_ptr<const config> make(const std::string& stub_url, uint32_t timeout_ms,
                                            bool keys) {
    auto doc = json::parse(R"({
      "runtime": {"workers": 2, "log_level": "off"},
      "tiers": ["local", "mid"],
      "providers": [{"name": "stub", "kind": "openai", "base_url": "", "max_connections": 4},
                    {"name": "sim", "kind": "sim"}],
      "models": [{"id": "stub-mid", "provider": "stub", "tier": "mid", "price_in_per_mtok": 1,
                  "price_out_per_mtok": 2, "context_window": 32000, "residency": "local"},
                 {"id": "stub-slow", "provider": "stub", "tier": "mid", "price_in_per_mtok": 1,
                  "price_out_per_mtok": 2, "context_window": 32000, "residency": "local"},
                 {"id": "sim-local", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
                  "price_out_per_mtok": 0, "context_window": 8192, "residency": "local"}],
      "gateway": {"auth": "none"}})");
    doc["providers"][0]["base_url"] = stub_url + "/v1";
    doc["gateway"]["request_timeout_ms"] = timeout_ms;
    if (keys) doc["gateway"]["auth"] = "keys";
    auto loaded = parse_config(doc, "gateway-test");
    INFO(loaded.message());
    REQUIRE(loaded.ok());
    return std::make_shared<const config>(std::move(*loaded.value));
  }
};

std::unique_ptr<stub_server> start_stub() {
  std::string error;
  auto script = parse_stub_script(json::parse(R"({"models": {"stub-slow": {"latency_ms": 3000}}})"),
                                  error);
  REQUIRE(script);
  auto stub = stub_server::start(0, *script, error);
  REQUIRE(stub);
  return stub;
}

}  // namespace

TEST_CASE("gateway service: calls on one kept-alive connection are answered in order",
          "[gateway]") {
  auto stub = start_stub();
  gateway_fixture gw{stub->base_url(), 20000};
  client c{gw.server->port()};
  for (int i = 0; i < 5; ++i) {
    INFO("call " << i);
    auto r = c.call("POST", "/v1/chat/completions", chat_body(i % 2 ? "sim-local" : "stub-mid", false));
    REQUIRE(r.status == 200);
    auto doc = json::parse(r.body);
    CHECK(doc["object"] == "chat.completion");
    CHECK(r.header("x-switchyard-model") == (i % 2 ? "sim-local" : "stub-mid"));
    CHECK(r.header("x-switchyard-tier") == (i % 2 ? "local" : "mid"));
    if (i % 2 == 0)
      CHECK(doc["choices"][0]["message"]["content"] == "[stub stub-mid] You said: hello gateway");
    // Interleaved with calls the I/O thread answers itself.
    CHECK(c.call("GET", "/healthz", "").status == 200);
  }
}

TEST_CASE("gateway service: plain calls answered on the I/O thread keep order, headers and trace",
          "[gateway][io_thread]") {
  auto stub = start_stub();
  gateway_fixture gw{stub->base_url(), 20000, nullptr, "", true};
  client c{gw.server->port()};
  for (int i = 0; i < 6; ++i) {
    INFO("call " << i);
    const bool trace = i % 2 == 1;
    auto r = c.call("POST", "/v1/chat/completions", chat_body("stub-mid", false),
                    trace ? "x-switchyard-trace: 1\r\n" : "");
    REQUIRE(r.status == 200);
    auto doc = json::parse(r.body);
    CHECK(doc["choices"][0]["message"]["content"] == "[stub stub-mid] You said: hello gateway");
    CHECK(r.header("x-switchyard-model") == "stub-mid");
    CHECK(r.header("x-switchyard-tier") == "mid");
    // The trace is in the answer when asked, and only then.
    CHECK(doc["x_switchyard"].contains("decision") == trace);
    if (trace) CHECK(doc["x_switchyard"]["decision"]["model"] == "stub-mid");
    CHECK(c.call("GET", "/healthz", "").status == 200);
  }
  // All but the first (no pooled connection yet) read on the gateway's I/O thread.
  CHECK(gw.eng.model_core()->http->stats().run_elsewhere >= 4);
  gw.server->stop();
  // Its connection went with the I/O thread; calls still work through the client's.
  auto& http = *gw.eng.model_core()->http;
  auto before = http.stats().run_elsewhere;
  std::promise<http_result> done;
  std::string error;
  auto ep = parse_endpoint(stub->base_url() + "/v1", error);
  REQUIRE(ep);
  http_request req;
  req.target = "/models";
  req.method = "GET";
  http.send(*ep, req, {}, [&done](http_result r) { done.set_value(std::move(r)); });
  auto f = done.get_future();
  REQUIRE(f.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(f.get().ok());
  CHECK(http.stats().run_elsewhere == before);
}

TEST_CASE("gateway service: a streamed reply's headers name the model, tier and route",
          "[gateway]") {
  auto stub = start_stub();
  gateway_fixture gw{stub->base_url(), 20000};
  client c{gw.server->port()};
  auto r = c.call("POST", "/v1/chat/completions", chat_body("stub-mid", true),
                  "x-switchyard-route: billing\r\n");
  REQUIRE(r.status == 200);
  CHECK(r.header("content-type") == "text/event-stream");
  // Sent before the first delta, from the model service's routed message.
  CHECK(r.header("x-switchyard-model") == "stub-mid");
  CHECK(r.header("x-switchyard-tier") == "mid");
  CHECK(r.header("x-switchyard-route") == "billing");
  // Whether the reply was downgraded is only known at the end: not a header.
  CHECK(r.header("x-switchyard-downgraded").empty());
  CHECK(r.body.find("\"content\":\"[stub") != std::string::npos);
  CHECK(r.body.find("data: [DONE]") != std::string::npos);
  // The connection carries on.
  CHECK(c.call("GET", "/healthz", "").status == 200);
}

TEST_CASE("gateway service: a model call past request_timeout_ms gets 504 and the next call works",
          "[gateway]") {
  auto stub = start_stub();
  gateway_fixture gw{stub->base_url(), 300};
  client c{gw.server->port()};
  auto t0 = std::chrono::steady_clock::now();
  auto r = c.call("POST", "/v1/chat/completions", chat_body("stub-slow", false));
  auto took = std::chrono::steady_clock::now() - t0;
  INFO(r.body);
  CHECK(r.status == 504);
  CHECK(r.body.find("request_timeout_ms") != std::string::npos);
  CHECK(took < std::chrono::milliseconds(2500));
  auto next = c.call("POST", "/v1/chat/completions", chat_body("stub-mid", false));
  CHECK(next.status == 200);
}

TEST_CASE("gateway service: /admin/keys creates, lists and revokes keys with the admin token",
          "[gateway]") {
  testing::temp_dir dir{"admin-keys"};
  auto opened = gateway::key_store::open(dir.sub("keys"));
  REQUIRE(opened.ok());
  std::shared_ptr<gateway::key_store> keys = std::move(opened.store);
  auto stub = start_stub();
  const std::string token = "admin-token-for-the-test";
  gateway_fixture gw{stub->base_url(), 20000, keys, token};
  client c{gw.server->port()};
  const std::string admin = "Authorization: Bearer " + token + "\r\n";

  CHECK(c.call("GET", "/admin/keys", "").status == 401);
  CHECK(c.call("GET", "/admin/keys", "", "Authorization: Bearer wrong-token-for-the-tes\r\n")
            .status == 401);
  auto bad = c.call("POST", "/admin/keys", R"({"name": "x", "rpm": -1})", admin);
  CHECK(bad.status == 400);
  CHECK(bad.body.find("rpm") != std::string::npos);

  auto made = c.call("POST", "/admin/keys", R"({"name": "live", "rpm": 100})", admin);
  REQUIRE(made.status == 201);
  auto doc = json::parse(made.body);
  auto key = doc["key"].get<std::string>();
  auto id = doc["id"].get<std::string>();
  CHECK(doc["rpm"] == 100);
  // The server's own store has it at once: the key works.
  const std::string bearer = "Authorization: Bearer " + key + "\r\n";
  CHECK(c.call("GET", "/v1/models", "", bearer).status == 200);

  auto listed = json::parse(c.call("GET", "/admin/keys", "", admin).body);
  REQUIRE(listed["data"].size() == 1);
  CHECK(listed["data"][0]["id"] == id);
  CHECK(listed["data"][0].contains("key") == false);
  CHECK(listed.dump().find(key) == std::string::npos);

  CHECK(c.call("POST", "/admin/keys/nope/revoke", "", admin).status == 404);
  CHECK(c.call("POST", "/admin/keys/" + id + "/revoke", "", admin).status == 200);
  CHECK(c.call("GET", "/v1/models", "", bearer).status == 401);
}

TEST_CASE("gateway service: without an admin token /admin/keys does not exist", "[gateway]") {
  auto stub = start_stub();
  gateway_fixture gw{stub->base_url(), 20000};
  client c{gw.server->port()};
  CHECK(c.call("GET", "/admin/keys", "", "Authorization: Bearer x\r\n").status == 404);
}

}  // namespace switchyard
