// The stub provider's own contract: formats, scripts, recording. Through the real
// HTTP client on 127.0.0.1.

#include "stub/stub_server.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <future>

#include "router/providers/http_client.hpp"
#include "tests/support/test_stub.hpp"

namespace switchyard {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

struct stub_fixture {
  std::unique_ptr<stub_server> stub;
  http_client client;
  http_endpoint ep;

  explicit stub_fixture(const std::string& script_text = "{}") {
    stub = testing::start_test_stub(script_text);
    std::string error;
    ep = *parse_endpoint(stub->base_url(), error);
  }

  // Returns the result; streamed bytes (for 2xx when `stream`) go to `streamed`.
  http_result post(const std::string& target, const json& body, std::string* streamed = nullptr,
                   std::vector<std::pair<std::string, std::string>> extra_headers = {}) {
    http_request req;
    req.target = target;
    req.headers = {{"content-type", "application/json"}};
    for (auto& h : extra_headers) req.headers.push_back(std::move(h));
    req.body = body.dump();
    std::promise<http_result> done;
    auto fut = done.get_future();
    http_chunk_handler on_chunk;
    if (streamed) on_chunk = [streamed](std::string_view s) { streamed->append(s); };
    client.send(
        ep, req, {}, [&done](http_result r) { done.set_value(std::move(r)); }, on_chunk);
    REQUIRE(fut.wait_for(10s) == std::future_status::ready);
    return fut.get();
  }

  http_result get(const std::string& target) {
    http_request req;
    req.method = "GET";
    req.target = target;
    std::promise<http_result> done;
    auto fut = done.get_future();
    client.send(ep, req, {}, [&done](http_result r) { done.set_value(std::move(r)); });
    REQUIRE(fut.wait_for(10s) == std::future_status::ready);
    return fut.get();
  }
};

// The JSON payloads of an SSE text, in order ("data: " lines).
std::vector<std::string> data_lines(const std::string& sse) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = sse.find("data: ", pos)) != std::string::npos) {
    auto end = sse.find_first_of("\r\n", pos);
    out.push_back(sse.substr(pos + 6, end - pos - 6));
    pos = end;
  }
  return out;
}

json anthropic_request(bool stream, bool tools = false) {
  json body = {{"model", "claude-x"},
               {"max_tokens", 100},
               {"stream", stream},
               {"system", "be brief"},
               {"messages", json::array({{{"role", "user"}, {"content", "hi claude"}}})}};
  if (tools)
    body["tools"] = json::array({{{"name", "lookup"},
                                  {"description", "find things"},
                                  {"input_schema", {{"type", "object"}}}}});
  return body;
}

}  // namespace

TEST_CASE("stub scripts are validated with the JSON path of the problem", "[stub]") {
  std::string error;
  CHECK_FALSE(parse_stub_script(json::parse(R"({"modles": {}})"), error));
  CHECK(error == "script.modles: unknown key (allowed: models, keys)");
  CHECK_FALSE(parse_stub_script(
      json::parse(R"({"models": {"m": {"sequence": [{"behaviour": "explode"}]}}})"), error));
  CHECK(error.rfind("models.m.sequence[0].behaviour: must be one of ok, rate_limited", 0) == 0);
  CHECK(error.find("got \"explode\"") != std::string::npos);
  CHECK_FALSE(parse_stub_script(json::parse(R"({"models": {"m": {"latency_ms": -5}}})"), error));
  CHECK(error == "models.m.latency_ms: must be an integer >= 0, got -5");
  CHECK(parse_stub_script(json::parse("{}"), error));
}

TEST_CASE("stub answers Anthropic Messages, plain and streamed", "[stub]") {
  stub_fixture f;
  auto plain = f.post("/v1/messages", anthropic_request(false));
  REQUIRE(plain.status == 200);
  auto body = json::parse(plain.body);
  CHECK(body["content"][0]["text"] == "[stub claude-x] You said: hi claude");
  CHECK(body["stop_reason"] == "end_turn");
  CHECK(body["usage"]["output_tokens"] == 6);

  std::string streamed;
  auto stream = f.post("/v1/messages", anthropic_request(true), &streamed);
  REQUIRE(stream.ok());
  auto events = data_lines(streamed);
  REQUIRE(events.size() >= 6);
  CHECK(json::parse(events.front())["type"] == "message_start");
  CHECK(json::parse(events.back())["type"] == "message_stop");
  std::string text;
  for (const auto& e : events) {
    auto j = json::parse(e);
    if (j["type"] == "content_block_delta") text += j["delta"]["text"].get<std::string>();
  }
  CHECK(text == "[stub claude-x] You said: hi claude");
}

TEST_CASE("stub calls the first offered tool when the script asks", "[stub]") {
  stub_fixture f{R"({"models": {"*": {"tool_calls": true}}})"};
  auto anthropic = json::parse(f.post("/v1/messages", anthropic_request(false, true)).body);
  CHECK(anthropic["stop_reason"] == "tool_use");
  CHECK(anthropic["content"][0]["name"] == "lookup");
  CHECK(anthropic["content"][0]["input"]["input"] == "hi claude");

  json openai = {{"model", "gpt-x"},
                 {"messages", json::array({{{"role", "user"}, {"content", "weather?"}}})},
                 {"tools", json::array({{{"type", "function"},
                                         {"function", {{"name", "get_weather"}}}}})}};
  auto o = json::parse(f.post("/v1/chat/completions", openai).body);
  CHECK(o["choices"][0]["finish_reason"] == "tool_calls");
  auto call = o["choices"][0]["message"]["tool_calls"][0];
  CHECK(call["function"]["name"] == "get_weather");
  CHECK(json::parse(call["function"]["arguments"].get<std::string>())["input"] == "weather?");

  // After the tool result the model answers in text.
  openai["messages"].push_back(
      {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array({call})}});
  openai["messages"].push_back({{"role", "tool"}, {"tool_call_id", call["id"]}, {"content", "sunny"}});
  auto after = json::parse(f.post("/v1/chat/completions", openai).body);
  CHECK(after["choices"][0]["message"]["content"] == "[stub gpt-x] Tool said: sunny");
}

TEST_CASE("stub answers Gemini generateContent and streams it as CRLF events", "[stub]") {
  stub_fixture f;
  json body = {{"contents", json::array({{{"role", "user"}, {"parts", {{{"text", "hola"}}}}}})},
               {"generationConfig", {{"maxOutputTokens", 3}}}};
  auto plain = json::parse(f.post("/v1beta/models/gemini-x:generateContent", body).body);
  CHECK(plain["candidates"][0]["content"]["parts"][0]["text"] == "[stub gemini-x] You ");
  CHECK(plain["candidates"][0]["finishReason"] == "MAX_TOKENS");
  CHECK(plain["usageMetadata"]["candidatesTokenCount"] == 3);
  std::string streamed;
  f.post("/v1beta/models/gemini-x:streamGenerateContent?alt=sse", body, &streamed);
  CHECK(streamed.find("\r\n\r\n") != std::string::npos);
  CHECK(data_lines(streamed).size() == 3);
}

TEST_CASE("stub embeddings are deterministic per input", "[stub]") {
  stub_fixture f;
  json body = {{"model", "embed-x"}, {"input", json::array({"a", "b", "a"})}};
  auto out = json::parse(f.post("/v1/embeddings", body).body);
  REQUIRE(out["data"].size() == 3);
  CHECK(out["data"][0]["embedding"].size() == stub_embedding_dimensions);
  CHECK(out["data"][0]["embedding"] == out["data"][2]["embedding"]);
  CHECK(out["data"][0]["embedding"] != out["data"][1]["embedding"]);
  body["dimensions"] = 16;
  out = json::parse(f.post("/v1/embeddings", body).body);
  CHECK(out["data"][0]["embedding"].size() == 16);
}

TEST_CASE("stub embeddings put texts sharing words close together", "[stub]") {
  stub_fixture f;
  json body = {{"model", "embed-x"},
               {"input", json::array({"where is my parcel", "where is my parcel now",
                                      "cancel the subscription please"})}};
  auto out = json::parse(f.post("/v1/embeddings", body).body);
  REQUIRE(out["data"].size() == 3);
  auto cosine = [&](size_t a, size_t b) {
    double dot = 0;
    for (size_t i = 0; i < stub_embedding_dimensions; ++i)
      dot += out["data"][a]["embedding"][i].get<double>() *
             out["data"][b]["embedding"][i].get<double>();
    return dot;  // the vectors have unit length
  };
  CHECK(cosine(0, 0) == Approx(1.0));
  CHECK(cosine(0, 1) > 0.8);
  CHECK(cosine(0, 2) < 0.4);
}

TEST_CASE("stub sequences fail the first calls, then answer", "[stub]") {
  stub_fixture f{R"({"models": {"m": {"sequence": [
      {"behaviour": "server_error", "times": 2}, {"behaviour": "overloaded", "times": 1}]}}})"};
  json body = {{"model", "m"}, {"messages", json::array({{{"role", "user"}, {"content", "x"}}})}};
  CHECK(f.post("/v1/chat/completions", body).status == 500);
  CHECK(f.post("/v1/chat/completions", body).status == 500);
  CHECK(f.post("/v1/chat/completions", body).status == 503);
  CHECK(f.post("/v1/chat/completions", body).status == 200);
  body["model"] = "other";
  CHECK(f.post("/v1/chat/completions", body).status == 200);
}

TEST_CASE("stub exposes what it received over HTTP for out-of-process tests", "[stub]") {
  stub_fixture f;
  json body = {{"model", "m"}, {"messages", json::array({{{"role", "user"}, {"content", "x"}}})}};
  f.post("/v1/chat/completions", body);
  auto seen = json::parse(f.get("/_stub/requests").body);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0]["target"] == "/v1/chat/completions");
  CHECK(seen[0]["model"] == "m");
  CHECK(json::parse(seen[0]["body"].get<std::string>()) == body);
  auto stats = json::parse(f.get("/_stub/stats").body);
  CHECK(stats["requests"] == 1);
  CHECK(stats["connections"] == 1);
  CHECK(f.post("/nope", body).status == 404);
}

}  // namespace switchyard

namespace switchyard {

TEST_CASE("stub scripts per API key override the model's script, whatever the header",
          "[stub][keys]") {
  std::string error;
  CHECK_FALSE(parse_stub_script(
      json::parse(R"({"keys": {"sk-secret-1": {"behaviour": "explode"}}})"), error));
  CHECK(error.rfind("keys[0].behaviour: must be one of ok", 0) == 0);
  CHECK(error.find("sk-secret-1") == std::string::npos);  // the secret is not echoed
  CHECK_FALSE(parse_stub_script(
      json::parse(R"({"keys": {"sk-secret-1": {"behaviour": "ok", "times": 2}}})"), error));
  CHECK(error == "keys[0].times: unknown key (allowed: behaviour, retry_after_s)");

  stub_fixture f{R"({"keys": {"sk-revoked": {"behaviour": "unauthorized"},
                              "sk-busy": {"behaviour": "rate_limited", "retry_after_s": 7}}})"};
  json chat = {{"model", "gpt-x"},
               {"max_tokens", 10},
               {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
  CHECK(f.post("/v1/chat/completions", chat, nullptr, {{"Authorization", "Bearer sk-revoked"}})
            .status == 401);
  auto busy = f.post("/v1/chat/completions", chat, nullptr, {{"Authorization", "Bearer sk-busy"}});
  CHECK(busy.status == 429);
  std::string retry_after;
  for (const auto& [k, v] : busy.headers)
    if (k == "Retry-After" || k == "retry-after") retry_after = v;
  CHECK(retry_after == "7");
  CHECK(
      f.post("/v1/chat/completions", chat, nullptr, {{"Authorization", "Bearer sk-fine"}}).status ==
      200);
  CHECK(f.post("/v1/messages", anthropic_request(false), nullptr, {{"x-api-key", "sk-revoked"}})
            .status == 401);
  CHECK(f.post("/v1/messages", anthropic_request(false)).status == 200);  // no key at all
}

}  // namespace switchyard
