#include "router/providers/error_mapping.hpp"

#include <catch2/catch.hpp>
#include <ctime>

#include "router/providers/anthropic_adapter.hpp"
#include "router/providers/gemini_adapter.hpp"
#include "router/providers/openai_adapter.hpp"
#include "tests/router/providers/wire_fixtures.hpp"

using namespace switchyard;
using namespace switchyard::test;

namespace {

// 2015-10-21 07:28:00 UTC, the date of the RFC 7231 Retry-After example.
std::chrono::system_clock::time_point fixed_now() {
  return std::chrono::system_clock::from_time_t(1445412480);
}

model_error classify(wire_format f, int status, const std::string& body,
                     const http_headers& headers = {}) {
  return classify_http_error(f, status, headers, body, fixed_now());
}

}  // namespace

TEST_CASE("error mapping: Retry-After is read as seconds or as an HTTP date",
          "[providers][errors]") {
  CHECK(retry_after_ms_from("30", fixed_now()) == 30000);
  CHECK(retry_after_ms_from(" 1.5 ", fixed_now()) == 1500);
  CHECK(retry_after_ms_from("Wed, 21 Oct 2015 07:28:45 GMT", fixed_now()) == 45000);
  CHECK(retry_after_ms_from("Wed, 21 Oct 2015 07:27:00 GMT", fixed_now()) == 0);  // past
  CHECK(retry_after_ms_from("soon", fixed_now()) == 0);
  CHECK(retry_after_ms_from("", fixed_now()) == 0);
  CHECK(retry_after_ms_from("99999999", fixed_now()) == 3600000);  // capped at an hour
}

TEST_CASE("error mapping: provider duration texts are read", "[providers][errors]") {
  CHECK(duration_text_ms("1s") == 1000);
  CHECK(duration_text_ms("6m0s") == 360000);
  CHECK(duration_text_ms("20ms") == 20);
  CHECK(duration_text_ms("2m3.5s") == 123500);
  CHECK(duration_text_ms("1h2m") == 3600000);  // capped at an hour
  CHECK(duration_text_ms("30x") == 0);
  CHECK(duration_text_ms("") == 0);
}

TEST_CASE("error mapping: 429 is rate_limited with the hint of each provider",
          "[providers][errors]") {
  std::string openai_body =
      R"({"error":{"message":"Rate limit reached for requests","type":"requests","code":"rate_limit_exceeded"}})";
  model_error e = classify(wire_format::openai, 429, openai_body, {{"Retry-After", "7"}});
  CHECK(e.kind == "rate_limited");
  CHECK(e.retry_after_ms == 7000);
  CHECK(e.message == "HTTP 429 rate_limit_exceeded: Rate limit reached for requests");

  // Without Retry-After, OpenAI's reset header of the exhausted limit.
  e = classify(wire_format::openai, 429, openai_body,
               {{"x-ratelimit-remaining-requests", "5"},
                {"x-ratelimit-reset-requests", "1s"},
                {"x-ratelimit-remaining-tokens", "0"},
                {"x-ratelimit-reset-tokens", "6m0s"}});
  CHECK(e.retry_after_ms == 360000);
  e = classify(wire_format::openai, 429, "", {{"retry-after-ms", "250"}});
  CHECK(e.retry_after_ms == 250);

  // Anthropic: RFC 3339 reset times.
  e = classify(
      wire_format::anthropic, 429,
      R"({"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}})",
      {{"anthropic-ratelimit-tokens-remaining", "0"},
       {"anthropic-ratelimit-tokens-reset", "2015-10-21T07:28:20Z"}});
  CHECK(e.kind == "rate_limited");
  CHECK(e.retry_after_ms == 20000);
  CHECK(e.message.find("per-minute rate limit") != std::string::npos);
  // A reset far in the future is capped, not overflowed (found by fuzz_anthropic_response).
  e = classify(wire_format::anthropic, 529, "",
               {{"anthropic-ratelimit-tokens-reset", "4060-01-01T00:00:00Z"}});
  CHECK(e.retry_after_ms == 3600000);

  // Gemini: RetryInfo in the body.
  e = classify(
      wire_format::gemini, 429,
      R"({"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED",
      "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"12s"}]}})");
  CHECK(e.kind == "rate_limited");
  CHECK(e.retry_after_ms == 12000);
}

TEST_CASE("error mapping: 503, 529 and Anthropic overloaded_error are overloaded",
          "[providers][errors]") {
  CHECK(classify(wire_format::openai, 503, "Service Unavailable").kind == "overloaded");
  model_error e =
      classify(wire_format::anthropic, 529,
               R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})",
               {{"retry-after", "3"}});
  CHECK(e.kind == "overloaded");
  CHECK(e.retry_after_ms == 3000);
  CHECK(e.message == "HTTP 529 overloaded_error: Overloaded");
  CHECK(classify(
            wire_format::gemini, 503,
            R"({"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}})")
            .kind == "overloaded");
  // OpenAI sends its generic "server_error" type with a 503 and a 504: the status says
  // more (overloaded, timeout); a 500 with that type stays a server error.
  const char* generic = R"({"error":{"message":"The server is busy","type":"server_error"}})";
  CHECK(classify(wire_format::openai, 503, generic).kind == "overloaded");
  CHECK(classify(wire_format::openai, 504, generic).kind == "timeout");
  CHECK(classify(wire_format::openai, 500, generic).kind == "server_error");
}

TEST_CASE("error mapping: server errors, timeouts, auth and bad requests by status",
          "[providers][errors]") {
  CHECK(classify(wire_format::openai, 500, R"({"error":{"message":"boom","type":"server_error"}})")
            .kind == "server_error");
  CHECK(classify(wire_format::openai, 502, "<html>Bad Gateway</html>").kind == "server_error");
  CHECK(classify(wire_format::anthropic, 500,
                 R"({"type":"error","error":{"type":"api_error","message":"x"}})")
            .kind == "server_error");
  CHECK(classify(wire_format::openai, 504, "").kind == "timeout");
  CHECK(classify(wire_format::openai, 408, "").kind == "timeout");
  CHECK(classify(wire_format::gemini, 504,
                 R"({"error":{"code":504,"message":"Deadline","status":"DEADLINE_EXCEEDED"}})")
            .kind == "timeout");
  CHECK(classify(wire_format::openai, 401,
                 R"({"error":{"message":"Incorrect API key provided","code":"invalid_api_key"}})")
            .kind == "auth");
  CHECK(classify(wire_format::anthropic, 403,
                 R"({"type":"error","error":{"type":"permission_error","message":"no"}})")
            .kind == "auth");
  CHECK(
      classify(
          wire_format::gemini, 400,
          R"({"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}})")
          .kind == "auth");
  CHECK(
      classify(
          wire_format::gemini, 400,
          R"({"error":{"code":400,"message":"Invalid JSON payload","status":"INVALID_ARGUMENT"}})")
          .kind == "bad_request");
  CHECK(classify(wire_format::openai, 404, R"({"error":{"message":"The model x does not exist"}})")
            .kind == "bad_request");
  CHECK(classify(wire_format::openai, 422, "unprocessable").kind == "bad_request");
  CHECK(
      classify(
          wire_format::openai, 429,
          R"({"error":{"message":"You exceeded your current quota","code":"insufficient_quota"}})")
          .kind == "auth");
  // Statuses that are no failure at all are a response we do not understand.
  CHECK(classify(wire_format::openai, 302, "").kind == "bad_response");
}

TEST_CASE("error mapping: every provider's context overflow is context_length",
          "[providers][errors]") {
  // OpenAI
  CHECK(
      classify(
          wire_format::openai, 400,
          R"({"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}})")
          .kind == "context_length");
  // vLLM
  CHECK(
      classify(
          wire_format::openai, 400,
          R"({"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens","type":"BadRequestError","code":400})")
          .kind == "context_length");
  // llama.cpp server
  CHECK(
      classify(
          wire_format::openai, 400,
          R"({"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}})")
          .kind == "context_length");
  // Ollama
  CHECK(classify(wire_format::openai, 400, R"({"error":"input length exceeds the context length"})")
            .kind == "context_length");
  // Anthropic
  CHECK(
      classify(
          wire_format::anthropic, 400,
          R"({"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}})")
          .kind == "context_length");
  // Gemini
  CHECK(
      classify(
          wire_format::gemini, 400,
          R"({"error":{"code":400,"message":"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}})")
          .kind == "context_length");
}

TEST_CASE("error mapping: content filter refusals are content_filter", "[providers][errors]") {
  // Azure OpenAI
  model_error e = classify(
      wire_format::openai, 400,
      R"({"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400}})");
  CHECK(e.kind == "content_filter");
  CHECK(e.message.find("content management policy") != std::string::npos);
  CHECK(
      classify(
          wire_format::openai, 400,
          R"({"error":{"message":"Your request was rejected","code":"content_policy_violation"}})")
          .kind == "content_filter");
}

TEST_CASE("error mapping: an unparseable error body is kept, cut, in the message",
          "[providers][errors]") {
  model_error e = classify(wire_format::openai, 500, std::string(1000, 'x'));
  CHECK(e.kind == "server_error");
  CHECK(e.message.size() < 400);
  CHECK(e.message.rfind("HTTP 500: xxx", 0) == 0);
}

TEST_CASE("error mapping: a provider echoing the API key never gets it into the error",
          "[providers][errors]") {
  std::string body =
      R"({"error":{"message":"Incorrect API key provided: )" + secret_key +
      R"(. You can find your API key at https://platform.openai.com","code":"invalid_api_key"}})";
  model_response o = openai_adapter::parse_response(401, {}, body, priced_model(), secret_key);
  CHECK(o.error.kind == "auth");
  CHECK(o.error.message.find(secret_key) == std::string::npos);
  CHECK(o.error.message.find("[redacted]") != std::string::npos);
  model_response a = anthropic_adapter::parse_response(401, {}, body, priced_model(), secret_key);
  CHECK(a.error.message.find(secret_key) == std::string::npos);
  model_response g = gemini_adapter::parse_response(400, {}, body, priced_model(), secret_key);
  CHECK(g.error.message.find(secret_key) == std::string::npos);
  // Also when the echo is in a 200 error object or an unparseable body.
  model_response raw =
      openai_adapter::parse_response(500, {}, "bad key " + secret_key, priced_model(), secret_key);
  CHECK(raw.error.message.find(secret_key) == std::string::npos);
  // A malformed 200 is quoted in bad_response messages: the key is cut out there too
  // (found by fuzz_anthropic_response).
  std::string malformed = R"({"content": [{"type": "tool_use", ")" + secret_key + "\"}]";
  for (const model_response& r :
       {openai_adapter::parse_response(200, {}, malformed, priced_model(), secret_key),
        anthropic_adapter::parse_response(200, {}, malformed, priced_model(), secret_key),
        gemini_adapter::parse_response(200, {}, malformed, priced_model(), secret_key)}) {
    CHECK(r.error.kind == "bad_response");
    CHECK(r.error.message.find(secret_key) == std::string::npos);
  }
}
