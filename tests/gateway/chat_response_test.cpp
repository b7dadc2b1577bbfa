#include "gateway/chat_response.hpp"
#include "runtime/trace_codec.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using nlohmann::json;
using namespace switchyard;
using namespace switchyard::gateway;

namespace {

model_response answered() {
  model_response r;
  r.text = "Hello there";
  r.finish_reason = "stop";
  r.usage.model_id = "small";
  r.usage.tier = "local";
  r.usage.route = "greeting";
  r.usage.input_tokens = 5;
  r.usage.output_tokens = 2;
  r.usage.cost_usd = 0.001;
  r.usage.decision.bytes = json_trace(R"({"route":"greeting"})");
  return r;
}

// The JSON payloads of `data:` events, [DONE] as a string.
std::vector<json> payloads(const std::vector<std::string>& events) {
  std::vector<json> out;
  for (const auto& e : events) {
    REQUIRE(e.rfind("data: ", 0) == 0);
    REQUIRE(e.size() > 8);
    REQUIRE(e.substr(e.size() - 2) == "\n\n");
    auto data = e.substr(6, e.size() - 8);
    out.push_back(data == "[DONE]" ? json("[DONE]") : json::parse(data));
  }
  return out;
}

}  // namespace

TEST_CASE("gateway response: a completion has OpenAI's shape plus x_switchyard", "[gateway]") {
  auto j = completion_json(answered(), "chatcmpl-1", 1700000000, false);
  CHECK(j["object"] == "chat.completion");
  CHECK(j["model"] == "small");
  CHECK(j["choices"][0]["message"]["content"] == "Hello there");
  CHECK(j["choices"][0]["finish_reason"] == "stop");
  CHECK(j["usage"]["total_tokens"] == 7);
  CHECK(j["x_switchyard"]["tier"] == "local");
  CHECK_FALSE(j["x_switchyard"].contains("decision"));
  auto traced = completion_json(answered(), "chatcmpl-1", 1700000000, true);
  CHECK(traced["x_switchyard"]["decision"]["route"] == "greeting");
}

TEST_CASE("gateway response: tool calls carry arguments as a string and content null",
          "[gateway]") {
  auto r = answered();
  r.text.clear();
  r.finish_reason = "tool_calls";
  r.tool_calls.push_back({"call_1", "get_weather", R"({"city":"Oslo"})"});
  auto j = completion_json(r, "chatcmpl-1", 1, false);
  auto msg = j["choices"][0]["message"];
  CHECK(msg["content"].is_null());
  CHECK(msg["tool_calls"][0]["function"]["arguments"] == R"({"city":"Oslo"})");
  CHECK(msg["tool_calls"][0]["type"] == "function");
}

TEST_CASE("gateway response: a streamed reply is role, deltas, finish, usage, then [DONE]",
          "[gateway]") {
  chunk_stream chunks{"chatcmpl-1", 1, "auto"};
  std::vector<std::string> events{chunks.role_event()};
  stream_delta d;
  d.kind = stream_delta_kind::text;
  d.text = "Hello ";
  events.push_back(chunks.delta_event(d));
  d.text = "there";
  events.push_back(chunks.delta_event(d));
  stream_delta usage;
  usage.kind = stream_delta_kind::usage;
  CHECK(chunks.delta_event(usage).empty());
  for (auto& e : chunks.finish_events(answered(), true, false)) events.push_back(e);
  auto p = payloads(events);
  REQUIRE(p.size() == 6);
  CHECK(p[0]["choices"][0]["delta"]["role"] == "assistant");
  CHECK(p[1]["choices"][0]["delta"]["content"] == "Hello ");
  CHECK(p[2]["choices"][0]["delta"]["content"] == "there");
  CHECK(p[3]["choices"][0]["finish_reason"] == "stop");
  CHECK(p[4]["usage"]["completion_tokens"] == 2);
  CHECK(p[4]["choices"].empty());
  CHECK(p[4]["model"] == "small");
  CHECK(p[5] == "[DONE]");
}

TEST_CASE("gateway response: a reply that never streamed is sent whole before the finish",
          "[gateway]") {
  chunk_stream chunks{"chatcmpl-1", 1, "auto"};
  auto r = answered();
  r.tool_calls.push_back({"call_1", "f", "{}"});
  auto p = payloads(chunks.finish_events(r, false, true));
  REQUIRE(p.size() == 5);
  CHECK(p[0]["choices"][0]["delta"]["content"] == "Hello there");
  CHECK(p[1]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] == "f");
  CHECK(p[2]["choices"][0]["finish_reason"] == "stop");
  CHECK_FALSE(p[3].contains("usage"));
  CHECK(p[3]["x_switchyard"]["decision"]["route"] == "greeting");
  CHECK(p[4] == "[DONE]");
}

TEST_CASE("gateway stream: a model switch is an SSE comment on one line", "[gateway]") {
  stream_switch sw{"chatcmpl-1", "gpt-a", "claude-b", "connection: closed\nmid-body", 42};
  auto comment = chunk_stream::switch_comment(sw);
  CHECK(comment ==
        ": switchyard: continued on claude-b after 42 characters from gpt-a (connection: closed "
        "mid-body)\n\n");
}

TEST_CASE("gateway response: the completion written as text is the tree's dump, byte for byte",
          "[gateway]") {
  auto same = [](const model_response& r, bool trace) {
    auto tree = completion_json(r, "chatcmpl-7", 1700000000, trace)
                    .dump(-1, ' ', false, json::error_handler_t::replace);
    auto text = completion_text(r, "chatcmpl-7", 1700000000, trace);
    CHECK(text == tree);
    CHECK(json::parse(text) == json::parse(tree));
  };
  auto r = answered();
  same(r, false);
  same(r, true);
  r.text = "quotes \" backslash \\ newline \n tab \t unicode \xC3\xA9\xE2\x82\xAC emoji \xF0\x9F\x98\x80";
  r.usage.cost_usd = 1.0;  // integral double: "1.0"
  r.usage.latency_ms = 12.345678;
  same(r, false);
  r.usage.cost_usd = 4.8e-05;
  r.usage.downgraded = true;
  r.usage.decision.bytes = json_trace("not json");  // a trace that does not parse goes out as a string
  same(r, true);
  r.text.clear();
  r.finish_reason = "tool_calls";
  r.tool_calls.push_back({"call_1", "get_weather", R"({"city":"Oslo"})"});
  r.tool_calls.push_back({"call_2", "get_time", "{}"});
  same(r, false);
  auto lp = answered();
  lp.logprobs.push_back({"Hello", -0.25});
  lp.logprobs.push_back({" there", -1.5e-07});
  same(lp, false);
  auto empty = model_response{};
  same(empty, false);
}
