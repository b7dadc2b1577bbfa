#include "router/providers/openai_adapter.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <vector>

#include "tests/router/providers/wire_fixtures.hpp"

using namespace switchyard;
using namespace switchyard::test;
using nlohmann::json;

TEST_CASE("openai adapter: a tool conversation becomes the chat-completions JSON OpenAI expects",
          "[providers][openai]") {
  model_request req = tool_conversation();
  req.temperature = 0.2;
  req.stop = {"END"};
  req.tool_choice = "auto";
  model_config model = priced_model("gpt-4o-mini");
  http_request http =
      openai_adapter::build_request(req, model, http_provider("openai"), secret_key);

  CHECK(http.method == "POST");
  CHECK(http.target == "/chat/completions");
  CHECK(header_value(http.headers, "authorization") == "Bearer " + secret_key);
  CHECK(header_value(http.headers, "content-type") == "application/json");
  CHECK(header_value(http.headers, "api-key") == "<absent>");

  json expected = json::parse(R"({
    "model": "gpt-4o-mini",
    "max_tokens": 300,
    "temperature": 0.2,
    "stop": ["END"],
    "tool_choice": "auto",
    "messages": [
      {"role": "system", "content": "You are terse."},
      {"role": "user", "content": "Weather in Paris and Oslo?"},
      {"role": "assistant", "content": "Checking.", "tool_calls": [
        {"id": "call_a", "type": "function",
         "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
        {"id": "call_b", "type": "function",
         "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\",\"units\":\"c\"}"}}]},
      {"role": "tool", "tool_call_id": "call_a", "content": "{\"temp_c\":18}"},
      {"role": "tool", "tool_call_id": "call_b", "content": "cloudy, 9 C"},
      {"role": "user", "content": "Which is warmer?"}
    ],
    "tools": [{"type": "function", "function": {
      "name": "weather", "description": "Current weather for a city",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                     "required": ["city"]}}}]
  })");
  CHECK(body_of(http.body) == expected);
}

TEST_CASE("openai adapter: unset options are left out and set ones map to their wire names",
          "[providers][openai]") {
  model_request req;
  req.messages.emplace_back("user", "hi");
  json plain =
      body_of(openai_adapter::build_request(req, priced_model(), http_provider("openai"), "").body);
  CHECK(plain == json::parse(R"({"model":"m1","max_tokens":256,
                                "messages":[{"role":"user","content":"hi"}]})"));

  req.top_p = 0.9;
  req.json_mode = true;
  req.logprobs = true;
  req.top_logprobs = 2;
  req.stream = true;
  req.tool_choice = "lookup";
  model_config model = priced_model("catalog-id");
  model.provider_model = "llama3.1:8b";
  http_request http = openai_adapter::build_request(req, model, http_provider("openai"), "");
  json body = body_of(http.body);
  CHECK(body["model"] == "llama3.1:8b");
  CHECK(body["top_p"] == 0.9);
  CHECK(body["response_format"] == json{{"type", "json_object"}});
  CHECK(body["logprobs"] == true);
  CHECK(body["top_logprobs"] == 2);
  CHECK(body["stream"] == true);
  CHECK(body["stream_options"] == json{{"include_usage", true}});
  CHECK(body["tool_choice"] == json::parse(R"({"type":"function","function":{"name":"lookup"}})"));
  CHECK(header_value(http.headers, "accept") == "text/event-stream");
  // A local server without a key gets no Authorization header at all.
  CHECK(header_value(http.headers, "authorization") == "<absent>");
}

TEST_CASE("openai adapter: Azure-style providers get api-version and the api-key header",
          "[providers][openai]") {
  provider_config azure = http_provider("openai");
  azure.api_version = "2024-06-01";
  azure.headers = {{"X-Title", "switchyard"}};
  model_request req;
  req.messages.emplace_back("user", "hi");
  http_request http = openai_adapter::build_request(req, priced_model(), azure, secret_key);
  CHECK(http.target == "/chat/completions?api-version=2024-06-01");
  CHECK(header_value(http.headers, "api-key") == secret_key);
  CHECK(header_value(http.headers, "authorization") == "<absent>");
  CHECK(header_value(http.headers, "x-title") == "switchyard");
}

TEST_CASE("openai adapter: requests that cannot be expressed are refused with the reason",
          "[providers][openai]") {
  model_request req;
  req.messages.emplace_back("robot", "hi");
  CHECK_THROWS_WITH(openai_adapter::build_request(req, priced_model(), http_provider("openai"), ""),
                    Catch::Contains("messages[0].role must be system, user, assistant or tool"));
  req.messages = {chat_message{"tool", "42"}};
  CHECK_THROWS_WITH(openai_adapter::build_request(req, priced_model(), http_provider("openai"), ""),
                    Catch::Contains("needs tool_call_id"));
  req.messages = {chat_message{"user", "hi"}};
  req.tools = {{"t", "", "[1,2]"}};
  CHECK_THROWS_WITH(openai_adapter::build_request(req, priced_model(), http_provider("openai"), ""),
                    Catch::Contains("tools[0].parameters_json must be a JSON object"));
}

TEST_CASE("openai adapter: a reply with text, usage and logprobs is parsed and priced",
          "[providers][openai]") {
  std::string body = R"({
    "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
    "choices": [{"index": 0, "finish_reason": "length",
      "message": {"role": "assistant", "content": "Hello there"},
      "logprobs": {"content": [{"token": "Hello", "logprob": -0.25, "top_logprobs": []},
                               {"token": " there", "logprob": -1.5, "top_logprobs": []}]}}],
    "usage": {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}
  })";
  model_response resp = openai_adapter::parse_response(200, {}, body, priced_model());
  REQUIRE(resp.ok());
  CHECK(resp.text == "Hello there");
  CHECK(resp.finish_reason == "length");
  CHECK(resp.usage.model_id == "m1");
  CHECK(resp.usage.tier == "mid");
  CHECK(resp.usage.input_tokens == 1000);
  CHECK(resp.usage.output_tokens == 500);
  CHECK(resp.usage.cost_usd == Approx(1000 * 2.0 / 1e6 + 500 * 10.0 / 1e6));
  REQUIRE(resp.logprobs.size() == 2);
  CHECK(resp.logprobs[1].token == " there");
  CHECK(resp.logprobs[1].logprob == -1.5);
}

TEST_CASE("openai adapter: tool calls come back with canonical argument objects",
          "[providers][openai]") {
  std::string body = R"({
    "choices": [{"index": 0, "finish_reason": "tool_calls",
      "message": {"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "weather", "arguments": "{ \"units\": \"c\",\n \"city\": \"Oslo\" }"}},
        {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": ""}}]}}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 20}
  })";
  model_response resp = openai_adapter::parse_response(200, {}, body, priced_model());
  REQUIRE(resp.ok());
  CHECK(resp.text.empty());
  CHECK(resp.finish_reason == "tool_calls");
  REQUIRE(resp.tool_calls.size() == 2);
  CHECK(resp.tool_calls[0].id == "call_1");
  CHECK(resp.tool_calls[0].name == "weather");
  CHECK(resp.tool_calls[0].arguments_json == R"({"city":"Oslo","units":"c"})");
  CHECK(resp.tool_calls[1].arguments_json == "{}");
}

TEST_CASE("openai adapter: Ollama-style object arguments and a stop finish still mean tool_calls",
          "[providers][openai]") {
  std::string body = R"({"choices": [{"index": 0, "finish_reason": "stop",
      "message": {"role": "assistant", "content": "", "tool_calls": [
        {"id": "x", "function": {"name": "f", "arguments": {"b": 1, "a": [true]}}}]}}]})";
  model_response resp = openai_adapter::parse_response(200, {}, body, priced_model());
  REQUIRE(resp.ok());
  CHECK(resp.finish_reason == "tool_calls");
  CHECK(resp.tool_calls.at(0).arguments_json == R"({"a":[true],"b":1})");
  CHECK(resp.usage.input_tokens == 0);  // no usage in the body: nothing invented
}

TEST_CASE("openai adapter: a 200 of unexpected shape is bad_response, never an empty success",
          "[providers][openai]") {
  for (
      const char* body :
      {"", "not json", "[]", "{}", R"({"choices": []})", R"({"choices": [{"index": 0}]})",
       R"({"choices": [7]})",
       R"({"choices":[{"message":{"tool_calls":[{"function":{"name":"f","arguments":"{broken"}}]}}]})",
       R"({"choices":[{"message":{"tool_calls":[{"function":{"name":"f","arguments":"[1]"}}]}}]})",
       R"({"choices":[{"message":{"tool_calls":[{"id":"x"}]}}]})"}) {
    INFO(body);
    model_response resp = openai_adapter::parse_response(200, {}, body, priced_model());
    CHECK(resp.error.kind == "bad_response");
    CHECK_FALSE(resp.error.message.empty());
  }
}

TEST_CASE("openai adapter: an error object inside a 200 is an error of its kind",
          "[providers][openai]") {
  std::string body = R"({"error": {"code": 502, "message": "upstream provider returned 502"}})";
  model_response resp = openai_adapter::parse_response(200, {}, body, priced_model());
  CHECK(resp.error.kind == "server_error");
  CHECK(resp.error.message.find("upstream provider returned 502") != std::string::npos);

  std::string limited = R"({"error": {"code": 429, "message": "slow down"}})";
  CHECK(openai_adapter::parse_response(200, {}, limited, priced_model()).error.kind ==
        "rate_limited");
}

TEST_CASE("openai adapter: a content-filtered empty reply is a content_filter error",
          "[providers][openai]") {
  std::string body = R"({"choices": [{"index": 0, "finish_reason": "content_filter",
      "message": {"role": "assistant", "content": null}}]})";
  CHECK(openai_adapter::parse_response(200, {}, body, priced_model()).error.kind ==
        "content_filter");
  std::string partial = R"({"choices": [{"index": 0, "finish_reason": "content_filter",
      "message": {"role": "assistant", "content": "Part of"}}]})";
  model_response resp = openai_adapter::parse_response(200, {}, partial, priced_model());
  REQUIRE(resp.ok());
  CHECK(resp.finish_reason == "content_filter");
}

TEST_CASE("openai adapter: each malformed reply gets its own message naming what is wrong",
          "[providers][openai]") {
  struct reject {
    std::string body;
    std::string message;
  };
  const std::string trailing = R"({"choices":[{"message":{"content":"hi"}}]} x)";
  for (const reject& r : std::vector<reject>{
           {"{\"choices\": [", "openai: response is not a JSON object: {\"choices\": ["},
           {trailing, "openai: response is not a JSON object: " + trailing},
           {"\"just a string\"", "openai: response is not a JSON object: \"just a string\""},
           {R"({"choices": {"message": {}}})",
            R"(openai: response has no choices: {"choices": {"message": {}}})"},
           {R"({"choices": [null, {"message": {}}]})",
            R"(openai: response has no choices: {"choices": [null, {"message": {}}]})"},
           {R"({"choices": [{"message": "hi"}]})",
            R"(openai: choices[0] has no message object: {"choices": [{"message": "hi"}]})"},
           {R"({"choices": [{"message": {}, "message": []}]})",
            R"(openai: choices[0] has no message object: {"choices": [{"message": {}, "message": []}]})"},
           {R"({"choices":[{"message":{"tool_calls":["f"]}}]})",
            "openai: a tool call has no function object"},
           {R"({"choices":[{"message":{"tool_calls":[{"function":{"name":"f"},"function":1}]}}]})",
            "openai: a tool call has no function object"},
           {R"({"choices":[{"message":{"tool_calls":[{"function":{"name":7}}]}}]})",
            "openai: a tool call has no function name"},
           {R"({"choices":[{"message":{"tool_calls":[{"function":{"name":"f","arguments":"{broken"}}]}}]})",
            "openai: arguments of tool call f is not valid JSON: {broken"},
           {R"({"choices":[{"message":{"tool_calls":[{"function":{"name":"f","arguments":"[1]"}}]}}]})",
            "openai: arguments of tool call f must be a JSON object, got [1]"}}) {
    INFO(r.body);
    model_response resp = openai_adapter::parse_response(200, {}, r.body, priced_model());
    CHECK(resp.error.kind == "bad_response");
    CHECK(resp.error.message == r.message);
    CHECK(resp.text.empty());
  }
}

TEST_CASE("openai adapter: fields of the wrong type read as absent and a repeated key counts last",
          "[providers][openai]") {
  std::string body = R"({"error": {"message": "x"}, "error": null,
    "choices": [{"message": {"content": 7}}],
    "choices": [{"finish_reason": "STOP", "finish_reason": 3,
                 "message": {"content": "first", "content": "second", "tool_calls": 5,
                   "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": [1]}}]},
                 "logprobs": {"content": [{"token": "t", "logprob": "bad"}, 5,
                                          {"token": 1, "logprob": -1}]}},
                {"message": {"content": "ignored second choice"}}],
    "usage": {"prompt_tokens": -4, "completion_tokens": 2.9, "completion_tokens": 12.5}})";
  model_response resp = openai_adapter::parse_response(200, {}, body, priced_model());
  REQUIRE(resp.ok());
  CHECK(resp.text == "second");
  REQUIRE(resp.tool_calls.size() == 1);
  CHECK(resp.tool_calls[0].arguments_json == "{}");  // not a string or object: no arguments
  CHECK(resp.finish_reason == "tool_calls");         // 3 is no finish reason
  REQUIRE(resp.logprobs.size() == 1);                // items without a numeric logprob skipped
  CHECK(resp.logprobs[0].token.empty());
  CHECK(resp.logprobs[0].logprob == -1);
  CHECK(resp.usage.input_tokens == 0);
  CHECK(resp.usage.output_tokens == 12);

  std::string nested_error = R"({"choices": [{"message": {"content": "ok"}}], "error": 0})";
  CHECK(openai_adapter::parse_response(200, {}, nested_error, priced_model()).error.kind ==
        "server_error");
}

TEST_CASE("openai adapter: the request text is byte for byte the dump of the request document",
          "[providers][openai]") {
  auto same_bytes = [](const model_request& req, const model_config& model) {
    std::string expected = openai_adapter::request_body_dom(req, model)
                               .dump(-1, ' ', false, json::error_handler_t::replace);
    http_request http = openai_adapter::build_request(req, model, http_provider("openai"), "");
    CHECK(http.body == expected);
  };
  model_config model = priced_model("gpt-4o-mini");
  model_request req = tool_conversation();
  same_bytes(req, model);

  req.temperature = 0.1 + 0.2;  // 0.30000000000000004: nlohmann's shortest round trip
  req.top_p = 1;
  req.stop = {"END", "\"quoted\"\\", ""};
  req.json_mode = true;
  req.logprobs = true;
  req.top_logprobs = 5;
  req.stream = true;
  req.tool_choice = "weather";
  req.tools.push_back({"no_params", "", ""});
  req.messages.emplace_back("user", std::string("ctl \b\f\n\r\t\x01\x1f\x7f / caf\xC3\xA9 \xF0\x9F\x98\x80"));
  req.messages.push_back(req.messages.front());
  req.messages.back().role = "assistant";
  req.messages.back().content = "";
  req.messages.back().tool_calls = {{"id\t1", "f", ""}, {"id2", "g", R"({"b": [1, 2.5e3], "a": null})"}};
  same_bytes(req, model);

  for (double x : {0.0, 1e-7, 2.0, 0.7, 123456789.125}) {
    req.temperature = x;
    same_bytes(req, model);
  }
  for (const char* choice : {"auto", "none", "required"}) {
    req.tool_choice = choice;
    same_bytes(req, model);
  }

  // Text that is not UTF-8 goes through the document, which replaces the bad bytes.
  for (const char* bad : {"\xC3", "a\xFF" "b", "\xED\xA0\x80", "\xE0\x80\xAF", "\xF4\x90\x80\x80",
                          "\xC0\xAF"}) {
    model_request plain;
    plain.messages.emplace_back("user", bad);
    same_bytes(plain, model);
    http_request http = openai_adapter::build_request(plain, model, http_provider("openai"), "");
    CHECK(json::accept(http.body));
  }

  model_request broken;
  broken.messages.emplace_back("tool", "no id");
  CHECK_THROWS_WITH(openai_adapter::build_request(broken, model, http_provider("openai"), ""),
                    "messages[0]: a tool message needs tool_call_id");
  broken.messages[0] = chat_message("robot", "x");
  CHECK_THROWS_WITH(
      openai_adapter::build_request(broken, model, http_provider("openai"), ""),
      "messages[0].role must be system, user, assistant or tool, got \"robot\"");
}
