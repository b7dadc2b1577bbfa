#include "router/providers/anthropic_adapter.hpp"

#include <catch2/catch.hpp>

#include "tests/router/providers/wire_fixtures.hpp"

using namespace switchyard;
using namespace switchyard::test;
using nlohmann::json;

TEST_CASE("anthropic adapter: a tool conversation becomes the Messages API JSON",
          "[providers][anthropic]") {
  model_request req = tool_conversation();
  req.messages.insert(req.messages.begin() + 1, chat_message{"system", "Use metric units."});
  req.stop = {"END"};
  req.tool_choice = "required";
  req.temperature = 0;
  model_config model = priced_model("claude-sonnet-4");
  http_request http =
      anthropic_adapter::build_request(req, model, http_provider("anthropic"), secret_key);

  CHECK(http.target == "/v1/messages");
  CHECK(header_value(http.headers, "x-api-key") == secret_key);
  CHECK(header_value(http.headers, "anthropic-version") == "2023-06-01");
  CHECK(header_value(http.headers, "authorization") == "<absent>");

  json expected = json::parse(R"({
    "model": "claude-sonnet-4",
    "max_tokens": 300,
    "temperature": 0.0,
    "stop_sequences": ["END"],
    "system": "You are terse.\n\nUse metric units.",
    "tool_choice": {"type": "any"},
    "messages": [
      {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Oslo?"}]},
      {"role": "assistant", "content": [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_a", "name": "weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_b", "name": "weather",
         "input": {"city": "Oslo", "units": "c"}}]},
      {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_a", "content": "{\"temp_c\":18}"},
        {"type": "tool_result", "tool_use_id": "call_b", "content": "cloudy, 9 C"},
        {"type": "text", "text": "Which is warmer?"}]}
    ],
    "tools": [{"name": "weather", "description": "Current weather for a city",
               "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                "required": ["city"]}}]
  })");
  CHECK(body_of(http.body) == expected);
}

TEST_CASE("anthropic adapter: json_mode becomes a system instruction, a named tool choice a tool",
          "[providers][anthropic]") {
  model_request req;
  req.messages.emplace_back("user", "list");
  req.json_mode = true;
  req.tool_choice = "lookup";
  req.stream = true;
  json body = body_of(
      anthropic_adapter::build_request(req, priced_model(), http_provider("anthropic"), "").body);
  CHECK(body["system"] == anthropic_adapter::json_mode_instruction);
  CHECK(body["tool_choice"] == json::parse(R"({"type":"tool","name":"lookup"})"));
  CHECK(body["stream"] == true);
  CHECK_FALSE(body.contains("temperature"));
}

TEST_CASE("anthropic adapter: a reply with text and tool_use blocks is parsed, usage priced",
          "[providers][anthropic]") {
  std::string body = R"({
    "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4",
    "content": [
      {"type": "thinking", "thinking": "hmm", "signature": "x"},
      {"type": "text", "text": "Let me check."},
      {"type": "tool_use", "id": "toolu_01", "name": "weather",
       "input": {"units": "c", "city": "Oslo"}}],
    "stop_reason": "tool_use", "stop_sequence": null,
    "usage": {"input_tokens": 400, "cache_creation_input_tokens": 100,
              "cache_read_input_tokens": 500, "output_tokens": 60}
  })";
  model_response resp = anthropic_adapter::parse_response(200, {}, body, priced_model());
  REQUIRE(resp.ok());
  CHECK(resp.text == "Let me check.");
  CHECK(resp.finish_reason == "tool_calls");
  REQUIRE(resp.tool_calls.size() == 1);
  CHECK(resp.tool_calls[0].id == "toolu_01");
  CHECK(resp.tool_calls[0].arguments_json == R"({"city":"Oslo","units":"c"})");
  CHECK(resp.usage.input_tokens == 1000);
  CHECK(resp.usage.output_tokens == 60);
  CHECK(resp.usage.cost_usd == Approx(1000 * 2.0 / 1e6 + 60 * 10.0 / 1e6));
}

TEST_CASE("anthropic adapter: stop reasons are normalised", "[providers][anthropic]") {
  CHECK(anthropic_adapter::normalise_stop_reason("end_turn") == "stop");
  CHECK(anthropic_adapter::normalise_stop_reason("stop_sequence") == "stop");
  CHECK(anthropic_adapter::normalise_stop_reason("max_tokens") == "length");
  CHECK(anthropic_adapter::normalise_stop_reason("tool_use") == "tool_calls");
  CHECK(anthropic_adapter::normalise_stop_reason("refusal") == "content_filter");
  std::string refused = R"({"type":"message","content":[],"stop_reason":"refusal"})";
  CHECK(anthropic_adapter::parse_response(200, {}, refused, priced_model()).error.kind ==
        "content_filter");
}

TEST_CASE("anthropic adapter: unexpected shapes and errors inside a 200 are errors",
          "[providers][anthropic]") {
  for (const char* body : {"", "{", R"({"type":"message"})", R"({"content": {}})",
                           R"({"content":[{"type":"tool_use","name":"f","input":[1]}]})",
                           R"({"content":[{"type":"tool_use","input":{}}]})"}) {
    INFO(body);
    CHECK(anthropic_adapter::parse_response(200, {}, body, priced_model()).error.kind ==
          "bad_response");
  }
  std::string overloaded =
      R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})";
  model_response resp = anthropic_adapter::parse_response(200, {}, overloaded, priced_model());
  CHECK(resp.error.kind == "overloaded");
  CHECK(resp.error.message.find("Overloaded") != std::string::npos);
}
