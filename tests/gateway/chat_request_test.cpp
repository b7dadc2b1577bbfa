#include "gateway/chat_request.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "gateway/api_error.hpp"

using nlohmann::json;
using namespace switchyard;
using namespace switchyard::gateway;

namespace {

config test_config() {
  auto loaded = parse_config(R"({
    "tiers": ["local", "mid", "frontier"],
    "providers": [{"name": "sim", "kind": "sim"}],
    "models": [
      {"id": "small", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
       "price_out_per_mtok": 0, "context_window": 8192, "residency": "local"},
      {"id": "big", "provider": "sim", "tier": "frontier", "price_in_per_mtok": 2.5,
       "price_out_per_mtok": 10, "context_window": 200000, "residency": "cloud",
       "capabilities": ["tools", "json_mode"]}
    ]
  })"_json,
                             "test");
  REQUIRE(loaded.ok());
  return *loaded.value;
}

api_error parse(const json& body, chat_request& out) {
  static const config cfg = test_config();
  return parse_chat_request(body.dump(), cfg, 512, out);
}

api_error parse_error(const json& body) {
  chat_request out;
  auto e = parse(body, out);
  REQUIRE_FALSE(e.ok());
  return e;
}

json basic() {
  return {{"model", "auto"}, {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
}

}  // namespace

TEST_CASE("gateway request: a plain completion becomes a canonical model_request", "[gateway]") {
  chat_request out;
  auto body = basic();
  body["messages"] = json::array(
      {{{"role", "system"}, {"content", "be brief"}}, {{"role", "user"}, {"content", "hi"}}});
  body["temperature"] = 0.5;
  body["stop"] = "END";
  REQUIRE(parse(body, out).ok());
  CHECK(out.requested_model == "auto");
  CHECK(out.call.model.empty());
  CHECK(out.call.tier.empty());
  REQUIRE(out.call.messages.size() == 2);
  CHECK(out.call.messages[0].role == "system");
  CHECK(out.call.messages[1].content == "hi");
  CHECK(out.call.max_tokens == 512);  // the default given
  CHECK(out.call.temperature == 0.5);
  CHECK(out.call.stop == std::vector<std::string>{"END"});
  CHECK_FALSE(out.stream);
}

TEST_CASE("gateway request: model auto routes, a tier pins the tier, a model id pins the model",
          "[gateway]") {
  chat_request out;
  auto body = basic();
  body["model"] = "mid";
  REQUIRE(parse(body, out).ok());
  CHECK(out.call.tier == "mid");
  CHECK(out.call.model.empty());
  body["model"] = "big";
  REQUIRE(parse(body, out).ok());
  CHECK(out.call.model == "big");
  CHECK(out.call.tier.empty());
  body["model"] = "gpt-nonexistent";
  auto e = parse_error(body);
  CHECK(e.status == 404);
  CHECK(e.code == "model_not_found");
  CHECK(e.param == "model");
}

TEST_CASE("gateway request: tools, tool calls and tool results map to the canonical form",
          "[gateway]") {
  chat_request out;
  json body = {
      {"model", "auto"},
      {"stream", true},
      {"stream_options", {{"include_usage", true}}},
      {"max_completion_tokens", 64},
      {"tools",
       json::array(
           {{{"type", "function"},
             {"function",
              {{"name", "get_weather"},
               {"parameters",
                {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}}}}})},
      {"tool_choice", {{"type", "function"}, {"function", {{"name", "get_weather"}}}}},
      {"messages",
       json::array({{{"role", "user"}, {"content", "weather in Oslo?"}},
                    {{"role", "assistant"},
                     {"content", nullptr},
                     {"tool_calls", json::array({{{"id", "call_1"},
                                                  {"type", "function"},
                                                  {"function",
                                                   {{"name", "get_weather"},
                                                    {"arguments", "{\"city\": \"Oslo\"}"}}}}})}},
                    {{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "sunny"}}})}};
  REQUIRE(parse(body, out).ok());
  CHECK(out.stream);
  CHECK(out.call.stream);
  CHECK(out.include_usage);
  CHECK(out.call.max_tokens == 64);
  REQUIRE(out.call.tools.size() == 1);
  CHECK(out.call.tools[0].name == "get_weather");
  CHECK(json::parse(out.call.tools[0].parameters_json)["properties"].contains("city"));
  CHECK(out.call.tool_choice == "get_weather");
  CHECK(out.call.capabilities == std::vector<std::string>{"tools"});
  REQUIRE(out.call.messages[1].tool_calls.size() == 1);
  CHECK(out.call.messages[1].tool_calls[0].arguments_json == R"({"city":"Oslo"})");
  CHECK(out.call.messages[2].tool_call_id == "call_1");
}

TEST_CASE("gateway request: content given as text parts is joined", "[gateway]") {
  chat_request out;
  auto body = basic();
  body["messages"][0]["content"] =
      json::array({{{"type", "text"}, {"text", "hello "}}, {{"type", "text"}, {"text", "there"}}});
  REQUIRE(parse(body, out).ok());
  CHECK(out.call.messages[0].content == "hello there");
}

TEST_CASE("gateway request: malformed JSON is a 400 invalid_json", "[gateway]") {
  chat_request out;
  static const config cfg = test_config();
  auto e = parse_chat_request("{\"model\": \"auto\", ", cfg, 512, out);
  CHECK(e.status == 400);
  CHECK(e.code == "invalid_json");
  e = parse_chat_request(std::string(100, '[') + std::string(100, ']'), cfg, 512, out);
  CHECK(e.status == 400);
  CHECK(e.message.find("nests deeper") != std::string::npos);
}

TEST_CASE("gateway request: each schema error names the field at fault", "[gateway]") {
  struct bad_case {
    std::function<void(json&)> breakit;
    std::string param;
    std::string says;
  };
  std::vector<bad_case> cases = {
      {[](json& b) { b.erase("model"); }, "model", "is required"},
      {[](json& b) { b["model"] = 3; }, "model", "must be a string"},
      {[](json& b) { b.erase("messages"); }, "messages", "is required"},
      {[](json& b) { b["messages"] = json::array(); }, "messages", "must not be empty"},
      {[](json& b) { b["messages"][0]["role"] = "robot"; }, "messages[0].role", "must be one of"},
      {[](json& b) { b["messages"][0].erase("content"); }, "messages[0].content", "is required"},
      {[](json& b) { b["messages"][0]["content"] = 5; }, "messages[0].content", "must be a string"},
      {[](json& b) { b["messages"][0]["colour"] = "red"; }, "messages[0].colour", "unknown field"},
      {[](json& b) {
         b["messages"].push_back({{"role", "tool"}, {"content", "x"}});
       },
       "messages[1].tool_call_id", "is required"},
      {[](json& b) { b["max_tokens"] = 0; }, "max_tokens", "must be an integer from 1"},
      {[](json& b) { b["max_tokens"] = "many"; }, "max_tokens", "must be an integer"},
      {[](json& b) { b["temperature"] = 3; }, "temperature", "must be a number from 0 to 2"},
      {[](json& b) { b["stream"] = "yes"; }, "stream", "must be true or false"},
      {[](json& b) {
         b["tools"] = json::array({{{"type", "function"}}});
       },
       "tools[0].function", "is required"},
      {[](json& b) { b["tool_choice"] = "sometimes"; }, "tool_choice", "must be"},
      {[](json& b) {
         b["response_format"] = {{"type", "xml"}};
       },
       "response_format.type", "must be"},
      {[](json& b) { b["n"] = 2; }, "n", "from 1 to 1"},
      {[](json& b) { b["frobnicate"] = true; }, "frobnicate", "unknown field"},
      {[](json& b) { b[""] = true; }, "\"\"", "unknown field"},  // found by fuzz_chat_request
  };
  for (auto& c : cases) {
    auto body = basic();
    c.breakit(body);
    INFO(body.dump());
    auto e = parse_error(body);
    CHECK(e.status == 400);
    CHECK(e.type == "invalid_request_error");
    CHECK(e.param == c.param);
    CHECK(e.message.find(c.param) == 0);
    CHECK(e.message.find(c.says) != std::string::npos);
  }
}

TEST_CASE("gateway request: fields OpenAI defines but Switchyard ignores are accepted",
          "[gateway]") {
  chat_request out;
  auto body = basic();
  body["seed"] = 7;
  body["user"] = "u1";
  body["presence_penalty"] = 0.1;
  body["response_format"] = {{"type", "json_object"}};
  REQUIRE(parse(body, out).ok());
  CHECK(out.call.json_mode);
  CHECK(out.call.capabilities == std::vector<std::string>{"json_mode"});
}

TEST_CASE("gateway errors: provider error kinds map to the HTTP status a client expects",
          "[gateway]") {
  auto status_of = [](const char* kind, uint32_t retry_ms = 0) {
    model_error e;
    e.kind = kind;
    e.message = "m";
    e.retry_after_ms = retry_ms;
    return from_model_error(e);
  };
  auto limited = status_of("rate_limited", 2500);
  CHECK(limited.status == 429);
  CHECK(limited.retry_after_s == 3);
  CHECK(status_of("budget_exhausted").status == 429);
  CHECK(status_of("budget_exhausted").code == "insufficient_quota");
  CHECK(status_of("overloaded").status == 503);
  auto blocked = status_of("blocked", 10000);
  CHECK(blocked.status == 503);
  CHECK(blocked.retry_after_s == 10);
  CHECK(status_of("timeout").status == 504);
  CHECK(status_of("bad_request").status == 400);
  CHECK(status_of("context_length").status == 400);
  CHECK(status_of("context_length").code == "context_length_exceeded");
  CHECK(status_of("content_filter").status == 400);
  CHECK(status_of("server_error").status == 502);
  CHECK(status_of("connection").status == 502);
  CHECK(status_of("bad_response").status == 502);
  CHECK(status_of("auth").status == 502);
  CHECK(status_of("something_new").status == 500);
}

TEST_CASE("gateway errors: the body has OpenAI's error shape with null param and code",
          "[gateway]") {
  auto body = json::parse(error_body(unauthorized("no key")));
  CHECK(body["error"]["message"] == "no key");
  CHECK(body["error"]["type"] == "authentication_error");
  CHECK(body["error"]["code"] == "invalid_api_key");
  CHECK(body["error"]["param"].is_null());
  auto bad = json::parse(error_body(invalid_request("messages[0].role", "x")));
  CHECK(bad["error"]["param"] == "messages[0].role");
}

namespace {

// Everything a parse decides, as text, to compare the fast path with the DOM path.
std::string outcome(const api_error& e, const chat_request& r) {
  if (!e.ok()) return std::to_string(e.status) + " " + error_body(e);
  json messages = json::array();
  for (const auto& m : r.call.messages) {
    json calls = json::array();
    for (const auto& c : m.tool_calls) calls.push_back({c.id, c.name, c.arguments_json});
    messages.push_back({m.role, m.content, m.name, m.tool_call_id, calls});
  }
  json tools = json::array();
  for (const auto& t : r.call.tools) tools.push_back({t.name, t.description, t.parameters_json});
  return json{r.requested_model, r.stream, r.include_usage, r.call.max_tokens, r.call.model,
              r.call.tier, r.call.tool_choice, r.call.temperature, r.call.top_p, r.call.stop,
              r.call.json_mode, r.call.logprobs, r.call.top_logprobs, r.call.stream,
              r.call.capabilities, r.call.metadata, messages, tools}
      .dump();
}

}  // namespace

TEST_CASE("gateway request: the SAX fast path and the DOM path give the same answer",
          "[gateway]") {
  static const config cfg = test_config();
  const std::string hi = R"("messages":[{"role":"user","content":"hi"}])";
  for (const std::string body : std::vector<std::string>{
           // Read by the fast path.
           R"({"model":"auto",)" + hi + "}",
           R"({"model":"mid","max_tokens":9,"temperature":0,"top_p":1,"stop":["a","b"],)"
           R"("stream":true,"n":1,"logprobs":true,"top_logprobs":3,"seed":{"x":[1]},)"
           R"("user":null,"messages":[{"role":"developer","content":null,"name":"n"},)"
           R"({"role":"assistant","content":"x"},{"role":"tool","content":"r","tool_call_id":"c"}]})",
           R"({"max_completion_tokens":7,"stop":null,"temperature":1.5,"model":"big",)" + hi + "}",
           // Errors and shapes the fast path leaves to the DOM path.
           R"({"model":"auto","model":"big",)" + hi + "}",
           R"({"model":"auto","max_tokens":3,"max_completion_tokens":5,)" + hi + "}",
           R"({"model":"auto","max_tokens":3.0,)" + hi + "}",
           R"({"model":"auto","temperature":-0.1,)" + hi + "}",
           R"({"model":"auto","top_logprobs":2,)" + hi + "}",
           R"({"model":"auto","stop":["1","2","3","4","5"],)" + hi + "}",
           R"({"model":"auto","stop":[1],)" + hi + "}",
           R"({"model":"nope",)" + hi + "}",
           R"({"model":"auto","messages":[]})",
           R"({"model":"auto","messages":[{"role":"user","content":"a","role":"tool"}]})",
           R"({"model":"auto","messages":[{"role":"tool","content":"a"}]})",
           R"({"model":"auto","messages":[{"role":"user","content":"a","tool_call_id":"c"}]})",
           R"({"model":"auto","messages":[{"role":"assistant"}]})",
           R"({"model":"auto","messages":[{"role":"user","content":[{"type":"text","text":"a"}]}]})",
           R"({"model":"auto","messages":[7]})",
           R"({"model":"auto","n":2,"frobnicate":1,)" + hi + "}",
           R"({"zeta":1,"model":7,)" + hi + "}",
           R"({"model":"auto",)" + hi + "} trailing",
           R"([1,2])",
           R"({"model":"auto"})",
           R"({"model":"auto","stream_options":{"include_usage":true},"stream":true,)" + hi + "}",
       }) {
    INFO(body);
    chat_request fast, dom;
    api_error e1 = parse_chat_request(body, cfg, 512, fast);
    api_error e2 = parse_chat_request_dom(body, cfg, 512, dom);
    CHECK(outcome(e1, fast) == outcome(e2, dom));
  }
}

TEST_CASE("gateway request: a repeated key counts once, with its last value, as before",
          "[gateway]") {
  static const config cfg = test_config();
  chat_request out;
  REQUIRE(parse_chat_request(R"({"model":"auto","model":"frontier",)"
                             R"("messages":[{"role":"user","content":"a","content":"b"}]})",
                             cfg, 512, out)
              .ok());
  CHECK(out.call.tier == "frontier");
  CHECK(out.call.messages.at(0).content == "b");
  auto e = parse_chat_request(R"({"model":"auto","max_tokens":1,"max_tokens":0,)"
                              R"("messages":[{"role":"user","content":"a"}]})",
                              cfg, 512, out);
  CHECK(e.param == "max_tokens");
  CHECK(e.message == "max_tokens: must be an integer from 1 to 10000000, got 0");
}
