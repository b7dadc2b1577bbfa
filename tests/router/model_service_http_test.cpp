// The model service calling OpenAI-compatible, Anthropic and Gemini providers over real
// HTTP (the stub provider on 127.0.0.1): round trips, every failure mode's error kind,
// budget settle/release, and API keys that never leak. Retries are off here (one attempt
// per call) so each provider error shows as it maps; a pinned model has no fallbacks,
// so a retriable error ends the call as `blocked` naming that error.

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>

#include "caf/all.hpp"
#include "router/model_service.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/messages.hpp"
#include "stub/stub_server.hpp"
#include "tests/support/test_stub.hpp"

namespace switchyard {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const char* test_key = "sk-stub-SECRET-4242";
const char* key_var = "SWITCHYARD_TEST_STUB_KEY";

std::shared_ptr<const config> stub_config(const std::string& base_url,
                                          const std::string& key_env = key_var) {
  std::string text = R"({"runtime": {"workers": 2, "log_level": "off"},
    "tiers": ["local", "mid", "frontier"],
    "providers": [
      {"name": "oa", "kind": "openai", "base_url": ")" + base_url + R"(/v1",
       "api_key_env": ")" + key_env + R"(", "first_byte_timeout_ms": 400},
      {"name": "an", "kind": "anthropic", "base_url": ")" + base_url + R"(",
       "api_key_env": ")" + key_env + R"(", "first_byte_timeout_ms": 400},
      {"name": "ge", "kind": "gemini", "base_url": ")" + base_url + R"(/v1beta",
       "api_key_env": ")" + key_env + R"(", "first_byte_timeout_ms": 400}],
    "models": [
      {"id": "gpt-stub", "provider": "oa", "tier": "local", "price_in_per_mtok": 1,
       "price_out_per_mtok": 2, "context_window": 8192, "residency": "cloud"},
      {"id": "claude-stub", "provider": "an", "tier": "mid", "price_in_per_mtok": 3,
       "price_out_per_mtok": 15, "context_window": 8192, "residency": "cloud"},
      {"id": "gemini-stub", "provider": "ge", "tier": "frontier", "price_in_per_mtok": 1,
       "price_out_per_mtok": 4, "context_window": 8192, "residency": "cloud"}],
    "resilience": {"retry": {"max_attempts": 1}}})";
  auto loaded = parse_config_text(text, "stub-test");
  INFO(loaded.message());
  REQUIRE(loaded.ok());
  return std::make_shared<const config>(std::move(*loaded.value));
}

struct service_fixture {
  std::unique_ptr<stub_server> stub;
  std::shared_ptr<const config> cfg;
  budget_ledger ledger;
  actor_runtime runtime{runtime_settings{"sharing", 2, "off"}};
  caf::actor service;

  explicit service_fixture(const std::string& script_text = "{}",
                           const std::string& key_env = key_var) {
    setenv(key_var, test_key, 1);
    stub = testing::start_test_stub(script_text);
    cfg = stub_config(stub->base_url(), key_env);
    ledger.open_thread("t1", {100000, 10.0});
    service = spawn_model_service(runtime.system(), cfg, ledger);
  }
  ~service_fixture() { caf::anon_send_exit(service, caf::exit_reason::user_shutdown); }

  static model_request request_for(const std::string& model, const std::string& text) {
    model_request req;
    req.ctx.thread_id = "t1";
    req.call_id = "call-" + model;
    req.model = model;
    req.max_tokens = 50;
    req.messages = {{"system", "be brief"}, {"user", text}};
    return req;
  }

  model_response ask(const std::string& model, const std::string& text = "hello stub",
                     std::vector<stream_delta>* deltas = nullptr) {
    return call(request_for(model, text), deltas);
  }

  model_response call(model_request req, std::vector<stream_delta>* deltas = nullptr) {
    req.stream = deltas != nullptr;
    caf::scoped_actor self{runtime.system()};
    model_response out;
    self->request(service, 10s, req)
        .receive([&](model_response& r) { out = std::move(r); },
                 [&](caf::error& e) { FAIL("model service error: " << to_string(e)); });
    // Deltas were sent before the response, so they are already in the mailbox.
    bool more = deltas != nullptr;
    while (more)
      self->receive([&](stream_delta& d) { deltas->push_back(std::move(d)); },
                    caf::after(std::chrono::milliseconds(0)) >> [&] { more = false; });
    return out;
  }
};

}  // namespace

TEST_CASE("model service round-trips each provider kind over HTTP with usage and cost",
          "[http][model_service]") {
  service_fixture f;
  struct expected_call {
    const char* model;
    const char* target;
    const char* key_header;
    std::string key_value;
  };
  for (const auto& c : {expected_call{"gpt-stub", "/v1/chat/completions", "authorization",
                                      std::string("Bearer ") + test_key},
                        expected_call{"claude-stub", "/v1/messages", "x-api-key", test_key},
                        expected_call{"gemini-stub", "/v1beta/models/gemini-stub:generateContent",
                                      "x-goog-api-key", test_key}}) {
    INFO(c.model);
    auto r = f.ask(c.model);
    INFO(r.error.message);
    REQUIRE(r.ok());
    CHECK(r.text == std::string("[stub ") + c.model + "] You said: hello stub");
    CHECK(r.finish_reason == "stop");
    CHECK(r.usage.model_id == c.model);
    CHECK(r.usage.input_tokens > 0);
    CHECK(r.usage.output_tokens == 6);  // "[stub M] You said: hello stub"
    CHECK(r.usage.cost_usd > 0);
    auto seen = f.stub->requests().back();
    CHECK(seen.target == c.target);
    CHECK(seen.header(c.key_header) == c.key_value);
  }
  // The Anthropic request carries the system prompt in its own field.
  auto anthropic = json::parse(f.stub->requests()[1].body);
  CHECK(anthropic["system"] == "be brief");
  CHECK(anthropic["messages"][0]["content"][0]["text"] == "hello stub");
  auto usage = f.ledger.usage("t1");
  CHECK(usage.settled_calls == 3);
  CHECK(usage.reserved_tokens == 0);
  // Three calls, one connection per endpoint key: all providers share 127.0.0.1:<port>.
  CHECK(f.stub->connections() == 1);
}

TEST_CASE("each stub failure mode maps to its error kind", "[http][model_service]") {
  struct mode {
    const char* behaviour;
    const char* kind;
  };
  // Retriable kinds end as `blocked` (the only candidate is spent; time may heal it)
  // with the provider's error named; the others keep their own kind.
  for (const auto& m : {mode{"rate_limited", "rate_limited"}, mode{"server_error", "server_error"},
                        mode{"overloaded", "overloaded"}, mode{"unauthorized", "auth"},
                        mode{"bad_request", "bad_request"},
                        mode{"context_length", "context_length"}, mode{"hang", "timeout"},
                        mode{"malformed_json", "bad_response"}, mode{"cut_stream", "connection"}}) {
    std::string kind = m.kind;
    bool retriable = kind != "auth" && kind != "bad_request" && kind != "context_length";
    for (const char* model : {"gpt-stub", "claude-stub", "gemini-stub"}) {
      DYNAMIC_SECTION(m.behaviour << " on " << model) {
        service_fixture f{json{{"models",
                                {{"*",
                                  {{"sequence",
                                    json::array({{{"behaviour", m.behaviour},
                                                  {"retry_after_s", 3}}})}}}}}}
                              .dump()};
        auto r = f.ask(model);
        INFO(r.error.message);
        CHECK(r.error.kind == (retriable ? "blocked" : kind));
        CHECK(r.error.message.find("last error: " + kind) != std::string::npos);
        CHECK(r.text.empty());
        if (std::string(m.kind) == "rate_limited") CHECK(r.error.retry_after_ms == 3000);
        // A failed call gives its reservation back.
        CHECK(f.ledger.usage("t1").reserved_tokens == 0);
        CHECK(f.ledger.usage("t1").spent_tokens == 0);
      }
    }
  }
}

TEST_CASE("an error inside a 200 is an error, never an empty success", "[http][model_service]") {
  service_fixture f{R"({"models": {"*": {"sequence": [{"behaviour": "error_in_200"}]}}})"};
  for (const char* model : {"gpt-stub", "claude-stub", "gemini-stub"}) {
    auto r = f.ask(model);
    INFO(model << ": " << r.error.message);
    CHECK(r.error.kind == "blocked");
    CHECK(r.error.message.find("last error: server_error") != std::string::npos);
    CHECK(r.text.empty());
  }
}

TEST_CASE("a streamed call delivers ordered deltas, then the whole response",
          "[http][model_service]") {
  service_fixture f{R"({"models": {"*": {"chunk_delay_ms": 1}}})"};
  for (const char* model : {"gpt-stub", "claude-stub", "gemini-stub"}) {
    INFO(model);
    std::vector<stream_delta> deltas;
    auto r = f.ask(model, "stream this please", &deltas);
    INFO(r.error.message);
    REQUIRE(r.ok());
    CHECK(r.text == std::string("[stub ") + model + "] You said: stream this please");
    std::string joined;
    for (const auto& d : deltas)
      if (d.kind == stream_delta_kind::text) joined += d.text;
    CHECK(joined == r.text);
    CHECK(r.usage.output_tokens == 7);
    if (std::string(model) == "gemini-stub")
      CHECK(f.stub->requests().back().target ==
            "/v1beta/models/gemini-stub:streamGenerateContent?alt=sse");
    else
      CHECK(json::parse(f.stub->requests().back().body)["stream"] == true);
  }
}

TEST_CASE("a tool call round-trips through the model service for every provider kind",
          "[http][model_service][tools]") {
  service_fixture f{R"({"models": {"*": {"tool_calls": true}}})"};
  for (const char* model : {"gpt-stub", "claude-stub", "gemini-stub"}) {
    for (bool streamed : {false, true}) {
      DYNAMIC_SECTION(model << (streamed ? " streamed" : " whole")) {
        auto req = service_fixture::request_for(model, "where is order 1234?");
        req.tools = {{"lookup_order", "Finds an order by its number",
                      R"({"type":"object","properties":{"input":{"type":"string"}}})"}};
        std::vector<stream_delta> deltas;
        auto first = f.call(req, streamed ? &deltas : nullptr);
        INFO(first.error.message);
        REQUIRE(first.ok());
        REQUIRE(first.tool_calls.size() == 1);
        CHECK(first.finish_reason == "tool_calls");
        CHECK(first.tool_calls[0].name == "lookup_order");
        CHECK_FALSE(first.tool_calls[0].id.empty());
        // Arguments come back canonical (a JSON object as text) whatever the wire used.
        CHECK(json::parse(first.tool_calls[0].arguments_json) ==
              json{{"input", "where is order 1234?"}});
        // The tool definition reached the provider in its own wire shape.
        auto sent = json::parse(f.stub->requests().back().body);
        CHECK(sent.dump().find("Finds an order by its number") != std::string::npos);
        if (streamed) {
          std::string arguments;
          for (const auto& d : deltas)
            if (d.kind == stream_delta_kind::tool_call) arguments += d.text;
          CHECK(json::parse(arguments) == json{{"input", "where is order 1234?"}});
        }

        // Second leg: the caller runs the tool and sends its result back.
        chat_message assistant{"assistant", ""};
        assistant.tool_calls = first.tool_calls;
        chat_message result{"tool", R"({"status":"shipped"})"};
        result.tool_call_id = first.tool_calls[0].id;
        req.messages.push_back(assistant);
        req.messages.push_back(result);
        req.call_id += "-2";
        deltas.clear();
        auto second = f.call(req, streamed ? &deltas : nullptr);
        INFO(second.error.message);
        REQUIRE(second.ok());
        CHECK(second.tool_calls.empty());
        CHECK(second.text.find("Tool said:") != std::string::npos);
        CHECK(second.text.find("shipped") != std::string::npos);
      }
    }
  }
}

TEST_CASE("a cut, unterminated or failing stream is an error, never a short success",
          "[http][model_service]") {
  struct mode {
    const char* behaviour;
    const char* kind;
  };
  for (const auto& m : {mode{"cut_stream", "connection"}, mode{"missing_terminator", "bad_response"},
                        mode{"error_in_200", "overloaded"}, mode{"malformed_json", "bad_response"}}) {
    for (const char* model : {"gpt-stub", "claude-stub", "gemini-stub"}) {
      DYNAMIC_SECTION(m.behaviour << " on " << model) {
        service_fixture f{json{{"models",
                                {{"*", {{"sequence", json::array({{{"behaviour", m.behaviour}}})}}}}}}
                              .dump()};
        std::vector<stream_delta> deltas;
        auto r = f.ask(model, "one two three four five six", &deltas);
        INFO(r.error.message);
        // An error event inside the stream carries only its type: OpenAI's says
        // server_error, Anthropic's overloaded_error.
        std::string kind = m.kind;
        if (kind == "overloaded" && std::string(model) == "gpt-stub") kind = "server_error";
        CHECK(r.error.kind == "blocked");  // the pinned model has no fallback
        CHECK(r.error.message.find("last error: " + kind) != std::string::npos);
        CHECK(r.text.empty());
        CHECK(f.ledger.usage("t1").spent_tokens == 0);
      }
    }
  }
}

TEST_CASE("a missing key names its variable and fails the call as auth",
          "[http][model_service]") {
  unsetenv("SWITCHYARD_TEST_NO_SUCH_KEY");
  service_fixture f{"{}", "SWITCHYARD_TEST_NO_SUCH_KEY"};
  auto r = f.ask("gpt-stub");
  CHECK(r.error.kind == "auth");
  CHECK(r.error.message.find("SWITCHYARD_TEST_NO_SUCH_KEY") != std::string::npos);
  CHECK(f.stub->requests().empty());
}

TEST_CASE("API keys never appear in logs, errors or replies", "[http][model_service]") {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto previous = spdlog::default_logger();
  auto previous_level = spdlog::get_level();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  spdlog::set_level(spdlog::level::trace);
  std::string everything;
  {
    service_fixture f{R"({"models": {
        "gpt-stub": {"sequence": [{"behaviour": "unauthorized", "times": 1},
                                  {"behaviour": "malformed_json", "times": 1},
                                  {"behaviour": "hang", "times": 1}]},
        "claude-stub": {"sequence": [{"behaviour": "unauthorized", "times": 1},
                                     {"behaviour": "rate_limited", "times": 1}]}}})"};
    for (int i = 0; i < 4; ++i)
      for (const char* model : {"gpt-stub", "claude-stub", "gemini-stub"}) {
        auto r = f.ask(model);
        everything += r.text + "\n" + r.error.kind + ": " + r.error.message + "\n";
      }
    // The stub did receive it: the key is sent, just never shown.
    CHECK(f.stub->requests().front().header("authorization") ==
          std::string("Bearer ") + test_key);
  }
  spdlog::set_default_logger(previous);
  spdlog::set_level(previous_level);
  everything += captured.str();
  INFO(everything);
  CHECK(everything.find("auth: ") != std::string::npos);
  CHECK(everything.find(test_key) == std::string::npos);
  CHECK(everything.find("SECRET") == std::string::npos);
}

}  // namespace switchyard
