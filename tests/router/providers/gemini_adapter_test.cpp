#include "router/providers/gemini_adapter.hpp"

#include <catch2/catch.hpp>

#include "tests/router/providers/wire_fixtures.hpp"

using namespace switchyard;
using namespace switchyard::test;
using nlohmann::json;

TEST_CASE("gemini adapter: a tool conversation becomes the generateContent JSON",
          "[providers][gemini]") {
  model_request req = tool_conversation();
  req.messages[4].name.clear();  // the name is found from the call it answers
  req.temperature = 0.5;
  req.top_p = 0.8;
  req.stop = {"END"};
  req.json_mode = true;
  req.logprobs = true;
  req.top_logprobs = 3;
  req.tool_choice = "weather";
  model_config model = priced_model("gemini-2.0-flash");
  http_request http =
      gemini_adapter::build_request(req, model, http_provider("gemini"), secret_key);

  CHECK(http.target == "/models/gemini-2.0-flash:generateContent");
  CHECK(header_value(http.headers, "x-goog-api-key") == secret_key);
  CHECK(http.target.find(secret_key) == std::string::npos);

  json expected = json::parse(R"({
    "systemInstruction": {"parts": [{"text": "You are terse."}]},
    "contents": [
      {"role": "user", "parts": [{"text": "Weather in Paris and Oslo?"}]},
      {"role": "model", "parts": [
        {"text": "Checking."},
        {"functionCall": {"name": "weather", "args": {"city": "Paris"}}},
        {"functionCall": {"name": "weather", "args": {"city": "Oslo", "units": "c"}}}]},
      {"role": "user", "parts": [
        {"functionResponse": {"name": "weather", "response": {"temp_c": 18}}},
        {"functionResponse": {"name": "weather", "response": {"content": "cloudy, 9 C"}}},
        {"text": "Which is warmer?"}]}
    ],
    "generationConfig": {"maxOutputTokens": 300, "temperature": 0.5, "topP": 0.8,
                         "stopSequences": ["END"], "responseMimeType": "application/json",
                         "responseLogprobs": true, "logprobs": 3},
    "tools": [{"functionDeclarations": [{"name": "weather",
      "description": "Current weather for a city",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                     "required": ["city"]}}]}],
    "toolConfig": {"functionCallingConfig": {"mode": "ANY",
                                             "allowedFunctionNames": ["weather"]}}
  })");
  CHECK(body_of(http.body) == expected);
}

TEST_CASE("gemini adapter: a tool result whose tool cannot be named is refused",
          "[providers][gemini]") {
  model_request req;
  chat_message result{"tool", "x"};
  result.tool_call_id = "unknown";
  req.messages = {result};
  CHECK_THROWS_WITH(gemini_adapter::build_request(req, priced_model(), http_provider("gemini"), ""),
                    Catch::Contains("needs the tool's name"));
}

TEST_CASE("gemini adapter: a reply with text, function calls, logprobs and usage is parsed",
          "[providers][gemini]") {
  std::string body = R"({
    "candidates": [{"content": {"role": "model", "parts": [
        {"text": "thinking...", "thought": true},
        {"text": "Paris is warmer."},
        {"functionCall": {"name": "log", "args": {"z": 1, "a": "b"}}}]},
      "finishReason": "STOP",
      "logprobsResult": {"chosenCandidates": [{"token": "Paris", "logProbability": -0.1}]}}],
    "usageMetadata": {"promptTokenCount": 200, "candidatesTokenCount": 30,
                      "thoughtsTokenCount": 10, "totalTokenCount": 240}
  })";
  model_response resp = gemini_adapter::parse_response(200, {}, body, priced_model());
  REQUIRE(resp.ok());
  CHECK(resp.text == "Paris is warmer.");
  CHECK(resp.finish_reason == "tool_calls");
  REQUIRE(resp.tool_calls.size() == 1);
  CHECK(resp.tool_calls[0].id == "call_0");
  CHECK(resp.tool_calls[0].arguments_json == R"({"a":"b","z":1})");
  REQUIRE(resp.logprobs.size() == 1);
  CHECK(resp.logprobs[0].logprob == -0.1);
  CHECK(resp.usage.input_tokens == 200);
  CHECK(resp.usage.output_tokens == 40);
  CHECK(resp.usage.cost_usd == Approx(200 * 2.0 / 1e6 + 40 * 10.0 / 1e6));
}

TEST_CASE("gemini adapter: finish reasons normalise and blocked prompts are content_filter",
          "[providers][gemini]") {
  CHECK(gemini_adapter::normalise_finish_reason("MAX_TOKENS") == "length");
  CHECK(gemini_adapter::normalise_finish_reason("SAFETY") == "content_filter");
  CHECK(gemini_adapter::normalise_finish_reason("RECITATION") == "content_filter");
  std::string blocked = R"({"promptFeedback": {"blockReason": "SAFETY"}})";
  CHECK(gemini_adapter::parse_response(200, {}, blocked, priced_model()).error.kind ==
        "content_filter");
  std::string malformed = R"({"candidates":[{"finishReason":"MALFORMED_FUNCTION_CALL"}]})";
  CHECK(gemini_adapter::parse_response(200, {}, malformed, priced_model()).error.kind ==
        "bad_response");
  for (const char* body :
       {"", "[]", "{}", R"({"candidates": [1]})",
        R"({"candidates":[{"content":{"parts":[{"functionCall":{"args":{}}}]}}]})"}) {
    INFO(body);
    CHECK(gemini_adapter::parse_response(200, {}, body, priced_model()).error.kind ==
          "bad_response");
  }
}
