#include "router/providers/stream_decoder.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/router/providers/wire_fixtures.hpp"

using namespace switchyard;
using namespace switchyard::test;
using json = nlohmann::json;

namespace {

const std::string openai_stream =
    "data: "
    "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
    "\"finish_reason\":null}]}\n\n"
    "data: "
    "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":"
    "null}]}\n\n"
    ": keep-alive\n\n"
    "data: "
    "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":"
    "null}]}\n\n"
    "data: "
    "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":"
    "\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"weather\",\"arguments\":\"\"}}]},"
    "\"finish_reason\":null}]}\n\n"
    "data: "
    "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
    "{\"arguments\":\"{\\\"ci\"}}]},\"finish_reason\":null}]}\n\n"
    "data: "
    "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
    "{\"arguments\":\"ty\\\": \\\"Oslo\\\"}\"}}]},\"finish_reason\":null}]}\n\n"
    "data: "
    "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":"
    "\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"now\",\"arguments\":\"{}\"}}]},"
    "\"finish_reason\":null}]}\n\n"
    "data: "
    "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
    "data: "
    "{\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":20,"
    "\"total_tokens\":120}}\n\n"
    "data: [DONE]\n\n";

const std::string anthropic_stream =
    "event: message_start\n"
    "data: "
    "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":"
    "\"assistant\",\"content\":[],\"model\":\"claude\",\"stop_reason\":null,\"usage\":{\"input_"
    "tokens\":100,\"cache_read_input_tokens\":50,\"output_tokens\":1}}}\n\n"
    "event: content_block_start\n"
    "data: "
    "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":"
    "\"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: "
    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
    "\"Hel\"}}\n\n"
    "event: content_block_delta\n"
    "data: "
    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
    "\"lo\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: content_block_start\n"
    "data: "
    "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":"
    "\"toolu_1\",\"name\":\"weather\",\"input\":{}}}\n\n"
    "event: content_block_delta\n"
    "data: "
    "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: "
    "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"{\\\"city\\\": \\\"Os\"}}\n\n"
    "event: content_block_delta\n"
    "data: "
    "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"lo\\\"}\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: message_delta\n"
    "data: "
    "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},"
    "\"usage\":{\"output_tokens\":20}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

// Gemini's SSE frames are CRLF-separated; the thought part is not part of the reply;
// usage counts are cumulative, the last one rides on the finishing chunk.
const std::string gemini_stream =
    "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"thinking\","
    "\"thought\":true},{\"text\":\"Hel\"}]}}],\"usageMetadata\":{\"promptTokenCount\":90}}\r\n\r\n"
    "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"lo\"}]}}]}"
    "\r\n\r\n"
    "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":"
    "\"weather\",\"args\":{\"city\":\"Oslo\"}}}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{"
    "\"promptTokenCount\":100,\"candidatesTokenCount\":15,\"thoughtsTokenCount\":5}}\r\n\r\n";

template <class Decoder>
struct decoded {
  std::vector<stream_delta> deltas;
  model_response response;
};

template <class Decoder>
decoded<Decoder> decode(const std::string& stream, const std::vector<size_t>& cuts = {},
                        size_t length = std::string::npos) {
  Decoder decoder("call-9", priced_model(), secret_key);
  decoded<Decoder> out;
  std::string_view all(stream);
  all = all.substr(0, length);
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(all.size());
  for (size_t end : ends) {
    end = std::min(end, all.size());
    if (end < from) continue;
    auto deltas = decoder.feed(all.substr(from, end - from));
    out.deltas.insert(out.deltas.end(), deltas.begin(), deltas.end());
    from = end;
  }
  out.response = decoder.finish();
  return out;
}

std::string joined_text(const std::vector<stream_delta>& deltas) {
  std::string out;
  for (const auto& d : deltas) {
    if (d.kind == stream_delta_kind::text) out += d.text;
  }
  return out;
}

std::string joined_arguments(const std::vector<stream_delta>& deltas, uint32_t index) {
  std::string out;
  for (const auto& d : deltas) {
    if (d.kind == stream_delta_kind::tool_call && d.index == index) out += d.text;
  }
  return out;
}

}  // namespace

TEST_CASE("openai stream: deltas arrive in order and assemble into the full response",
          "[providers][stream]") {
  auto result = decode<openai_stream_decoder>(openai_stream);
  REQUIRE(result.response.ok());
  CHECK(result.response.call_id == "call-9");
  CHECK(result.response.text == "Hello");
  CHECK(result.response.finish_reason == "tool_calls");
  REQUIRE(result.response.tool_calls.size() == 2);
  CHECK(result.response.tool_calls[0].id == "call_1");
  CHECK(result.response.tool_calls[0].name == "weather");
  CHECK(result.response.tool_calls[0].arguments_json == R"({"city":"Oslo"})");
  CHECK(result.response.tool_calls[1].arguments_json == "{}");
  CHECK(result.response.usage.input_tokens == 100);
  CHECK(result.response.usage.output_tokens == 20);
  CHECK(result.response.usage.cost_usd == Approx(100 * 2.0 / 1e6 + 20 * 10.0 / 1e6));

  const auto& d = result.deltas;
  REQUIRE(d.size() == 8);
  CHECK(d[0].kind == stream_delta_kind::text);
  CHECK(d[0].text == "Hel");
  CHECK(d[1].text == "lo");
  CHECK(d[2].kind == stream_delta_kind::tool_call);
  CHECK(d[2].id == "call_1");
  CHECK(d[2].name == "weather");
  CHECK(d[3].text == "{\"ci");
  CHECK(d[5].index == 1);
  CHECK(d[6].kind == stream_delta_kind::finish);
  CHECK(d[6].text == "tool_calls");
  CHECK(d[7].kind == stream_delta_kind::usage);
  CHECK(d[7].output_tokens == 20);
}

TEST_CASE("anthropic stream: deltas arrive in order and assemble into the full response",
          "[providers][stream]") {
  auto result = decode<anthropic_stream_decoder>(anthropic_stream);
  REQUIRE(result.response.ok());
  CHECK(result.response.text == "Hello");
  CHECK(result.response.finish_reason == "tool_calls");
  REQUIRE(result.response.tool_calls.size() == 1);
  CHECK(result.response.tool_calls[0].id == "toolu_1");
  CHECK(result.response.tool_calls[0].arguments_json == R"({"city":"Oslo"})");
  CHECK(result.response.usage.input_tokens == 150);
  CHECK(result.response.usage.output_tokens == 20);
  CHECK(joined_text(result.deltas) == "Hello");
  CHECK(joined_arguments(result.deltas, 0) == R"({"city": "Oslo"})");
  REQUIRE_FALSE(result.deltas.empty());
  CHECK(result.deltas.back().kind == stream_delta_kind::finish);
  CHECK(result.deltas.back().text == "tool_calls");
}

TEST_CASE("streams split at every byte position decode to the same deltas and response",
          "[providers][stream]") {
  auto check_all_splits = [](auto tag, const std::string& stream) {
    using decoder = decltype(tag);
    auto whole = decode<decoder>(stream);
    REQUIRE(whole.response.ok());
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
      auto split = decode<decoder>(stream, {cut});
      INFO("cut at " << cut);
      REQUIRE(split.response.ok());
      CHECK(split.response.text == whole.response.text);
      CHECK(split.response.tool_calls.at(0).arguments_json ==
            whole.response.tool_calls.at(0).arguments_json);
      CHECK(split.deltas.size() == whole.deltas.size());
      CHECK(joined_text(split.deltas) == joined_text(whole.deltas));
      CHECK(joined_arguments(split.deltas, 0) == joined_arguments(whole.deltas, 0));
    }
  };
  check_all_splits(openai_stream_decoder("", priced_model(), ""), openai_stream);
  check_all_splits(anthropic_stream_decoder("", priced_model(), ""), anthropic_stream);
  check_all_splits(gemini_stream_decoder("", priced_model(), ""), gemini_stream);
}

TEST_CASE("gemini stream: text and function-call deltas assemble into the full response",
          "[providers][stream][gemini]") {
  auto result = decode<gemini_stream_decoder>(gemini_stream);
  INFO(result.response.error.message);
  REQUIRE(result.response.ok());
  CHECK(result.response.text == "Hello");
  CHECK(joined_text(result.deltas) == "Hello");
  REQUIRE(result.response.tool_calls.size() == 1);
  CHECK(result.response.tool_calls[0].name == "weather");
  CHECK(result.response.tool_calls[0].id == "call_0");
  CHECK(json::parse(result.response.tool_calls[0].arguments_json) == json{{"city", "Oslo"}});
  CHECK(result.response.finish_reason == "tool_calls");
  CHECK(result.response.usage.input_tokens == 100);
  CHECK(result.response.usage.output_tokens == 20);  // thinking tokens are billed as output
  CHECK(result.response.usage.cost_usd > 0);

  SECTION("a body that ends before the finishing chunk is a cut stream") {
    auto cut = decode<gemini_stream_decoder>(gemini_stream, {}, gemini_stream.rfind("data: "));
    CHECK(cut.response.error.kind == "bad_response");
    CHECK(cut.response.error.message.find("ended before a chunk with finishReason") !=
          std::string::npos);
    CHECK(cut.response.text.empty());
  }
  SECTION("an error object inside the 200 stream fails it with its kind") {
    auto failed = decode<gemini_stream_decoder>(
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]}}]}\r\n\r\n"
        "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":"
        "\"UNAVAILABLE\"}}\r\n\r\n");
    CHECK(failed.response.error.kind == "overloaded");
    CHECK(failed.response.text.empty());
  }
  SECTION("a blocked prompt is content_filter") {
    auto blocked = decode<gemini_stream_decoder>(
        "data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}\r\n\r\n");
    CHECK(blocked.response.error.kind == "content_filter");
  }
}

TEST_CASE("a stream cut anywhere before its terminator is an error, never a short success",
          "[providers][stream]") {
  auto check_all_cuts = [](auto tag, const std::string& stream, const char* terminator) {
    using decoder = decltype(tag);
    size_t terminator_at = stream.rfind(std::string("data: ") + terminator);
    if (std::string(terminator) == "message_stop")
      terminator_at = stream.rfind("event: message_stop");
    REQUIRE(terminator_at != std::string::npos);
    for (size_t length = 0; length < terminator_at; ++length) {
      auto cut = decode<decoder>(stream, {length / 2}, length);
      INFO("cut after " << length << " bytes");
      CHECK(cut.response.error.kind == "bad_response");
      CHECK(cut.response.error.message.find(std::string("ended before ") + terminator) !=
            std::string::npos);
    }
  };
  check_all_cuts(openai_stream_decoder("", priced_model(), ""), openai_stream, "[DONE]");
  check_all_cuts(anthropic_stream_decoder("", priced_model(), ""), anthropic_stream,
                 "message_stop");
}

TEST_CASE("an error event inside a 200 stream fails it with the error's kind",
          "[providers][stream]") {
  size_t tool_events = openai_stream.find(
      "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\"");
  REQUIRE(tool_events != std::string::npos);
  std::string openai = openai_stream.substr(0, tool_events) +
                       "data: {\"error\":{\"message\":\"Rate limit "
                       "reached\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}\n\n"
                       "data: [DONE]\n\n";
  openai_stream_decoder o("c", priced_model(), "");
  o.feed(openai);
  CHECK(o.failed());
  model_response resp = o.finish();
  CHECK(resp.error.kind == "rate_limited");
  CHECK(resp.error.message.find("Rate limit reached") != std::string::npos);

  std::string anthropic =
      anthropic_stream.substr(0, anthropic_stream.find("event: content_block_stop")) +
      "event: error\n"
      "data: "
      "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}"
      "\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  auto a = decode<anthropic_stream_decoder>(anthropic);
  CHECK(a.response.error.kind == "overloaded");
  CHECK(a.response.error.message.find("Overloaded") != std::string::npos);
}

TEST_CASE("a malformed stream event is bad_response", "[providers][stream]") {
  for (const char* event :
       {"data: {not json\n\n", "data: [1,2]\n\n", "data: {\"choices\":[5]}\n\n"}) {
    INFO(event);
    auto r = decode<openai_stream_decoder>(std::string(event) + "data: [DONE]\n\n");
    CHECK(r.response.error.kind == "bad_response");
  }
  auto bad_args = decode<openai_stream_decoder>(
      "data: "
      "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"x\","
      "\"function\":{\"name\":\"f\",\"arguments\":\"{oops\"}}]}}]}\n\n"
      "data: [DONE]\n\n");
  CHECK(bad_args.response.error.kind == "bad_response");
  CHECK(bad_args.response.error.message.find("arguments of tool call f") != std::string::npos);
  // A failed response carries none of the partial reply (found by fuzz_sse).
  auto text_then_bad_args = decode<openai_stream_decoder>(
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
      "data: "
      "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"x\","
      "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":\"}}]}}]}\n\n"
      "data: [DONE]\n\n");
  CHECK(text_then_bad_args.response.error.kind == "bad_response");
  CHECK(text_then_bad_args.response.text.empty());
  CHECK(text_then_bad_args.response.tool_calls.empty());
  auto orphan_delta = decode<anthropic_stream_decoder>(
      "event: content_block_delta\n"
      "data: "
      "{\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\","
      "\"partial_json\":\"{\"}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  CHECK(orphan_delta.response.error.kind == "bad_response");
}

TEST_CASE("stream errors never carry the API key", "[providers][stream]") {
  std::string leak = "data: {\"error\":{\"message\":\"bad key " + secret_key +
                     "\",\"code\":\"invalid_api_key\"}}\n\n";
  auto r = decode<openai_stream_decoder>(leak);
  CHECK(r.response.error.kind == "auth");
  CHECK(r.response.error.message.find(secret_key) == std::string::npos);
  auto m = decode<openai_stream_decoder>("data: {" + secret_key + "\n\ndata: [DONE]\n\n");
  CHECK(m.response.error.kind == "bad_response");
  CHECK(m.response.error.message.find(secret_key) == std::string::npos);
}
