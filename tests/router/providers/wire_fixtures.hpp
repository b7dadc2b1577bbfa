#pragma once
// Models, providers and requests shared by the wire-adapter tests.

#include <nlohmann/json.hpp>
#include <string>

#include "router/providers/http_types.hpp"
#include "runtime/config.hpp"
#include "runtime/messages.hpp"

namespace switchyard::test {

// A key that must never show up in any error, message or log line.
inline const std::string secret_key = "sk-test-SECRET-0123456789abcdef";

inline model_config priced_model(const std::string& id = "m1") {
  model_config m;
  m.id = id;
  m.provider = "p";
  m.tier = "mid";
  m.price_in_per_mtok = 2.0;    // $2 per million input tokens
  m.price_out_per_mtok = 10.0;  // $10 per million output tokens
  m.context_window = 128000;
  return m;
}

inline provider_config http_provider(const std::string& kind) {
  provider_config p;
  p.name = "p";
  p.kind = kind;
  if (kind == "anthropic") p.api_version = "2023-06-01";
  return p;
}

// A conversation with every canonical feature: system prompt, user turn, an assistant
// turn that calls two tools, both results, and a follow-up question.
inline model_request tool_conversation() {
  model_request req;
  req.call_id = "run-1/3/answerer/0";
  req.max_tokens = 300;
  req.messages.emplace_back("system", "You are terse.");
  req.messages.emplace_back("user", "Weather in Paris and Oslo?");
  chat_message calls{"assistant", "Checking."};
  calls.tool_calls = {{"call_a", "weather", R"({"city":"Paris"})"},
                      {"call_b", "weather", R"({"city": "Oslo", "units": "c"})"}};
  req.messages.push_back(calls);
  chat_message paris{"tool", R"({"temp_c":18})"};
  paris.tool_call_id = "call_a";
  paris.name = "weather";
  chat_message oslo{"tool", "cloudy, 9 C"};
  oslo.tool_call_id = "call_b";
  req.messages.push_back(paris);
  req.messages.push_back(oslo);
  req.messages.emplace_back("user", "Which is warmer?");
  req.tools = {
      {"weather", "Current weather for a city",
       R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})"}};
  return req;
}

inline nlohmann::json body_of(const std::string& text) {
  return nlohmann::json::parse(text);
}

inline std::string header_value(const http_headers& headers, const std::string& name) {
  const std::string* v = find_header(headers, name);
  return v == nullptr ? std::string("<absent>") : *v;
}

}  // namespace switchyard::test
