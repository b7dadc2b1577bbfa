#include "router/providers/wire_adapter.hpp"

#include <catch2/catch.hpp>

#include "tests/router/providers/wire_fixtures.hpp"

using namespace switchyard;
using namespace switchyard::test;

TEST_CASE("wire adapter: each HTTP kind builds its own request, sim is refused",
          "[providers][wire]") {
  model_request req = tool_conversation();
  CHECK(build_provider_request(req, priced_model(), http_provider("openai"), "").request.target ==
        "/chat/completions");
  CHECK(
      build_provider_request(req, priced_model(), http_provider("anthropic"), "").request.target ==
      "/v1/messages");
  CHECK(build_provider_request(req, priced_model(), http_provider("gemini"), "").request.target ==
        "/models/m1:generateContent");
  built_request sim = build_provider_request(req, priced_model(), http_provider("sim"), "");
  CHECK(sim.error.kind == "bad_request");
  CHECK(provider_streams(http_provider("openai")));
  CHECK(provider_streams(http_provider("anthropic")));
  CHECK(provider_streams(http_provider("gemini")));
  CHECK_FALSE(provider_streams(http_provider("sim")));
  CHECK(make_stream_decoder(http_provider("gemini"), "c", priced_model(), "") != nullptr);
  CHECK(make_stream_decoder(http_provider("sim"), "c", priced_model(), "") == nullptr);
  req.stream = true;
  CHECK(build_provider_request(req, priced_model(), http_provider("gemini"), "").request.target ==
        "/models/m1:streamGenerateContent?alt=sse");
  CHECK(make_stream_decoder(http_provider("anthropic"), "c", priced_model(), "") != nullptr);
}

TEST_CASE("wire adapter: a request that cannot be built is a bad_request value, not a throw",
          "[providers][wire]") {
  model_request req;
  req.messages.emplace_back("user", "hi");
  req.tools = {{"t", "", "not json"}};
  built_request b =
      build_provider_request(req, priced_model(), http_provider("openai"), secret_key);
  CHECK(b.error.kind == "bad_request");
  CHECK(b.error.message.find("tools[0].parameters_json") != std::string::npos);
}

TEST_CASE("wire adapter: parsed responses carry the call id", "[providers][wire]") {
  model_response r = parse_provider_response(
      http_provider("anthropic"), 200, {},
      R"({"content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn"})", priced_model(),
      "run/1/a/0", "");
  REQUIRE(r.ok());
  CHECK(r.call_id == "run/1/a/0");
  CHECK(r.text == "hi");
  CHECK(r.finish_reason == "stop");
}

TEST_CASE("wire adapter: the API key appears only in its auth header, never in a log line",
          "[providers][wire]") {
  model_request req = tool_conversation();
  for (const char* kind : {"openai", "anthropic", "gemini"}) {
    provider_config p = http_provider(kind);
    built_request b = build_provider_request(req, priced_model(), p, secret_key);
    REQUIRE(b.ok());
    INFO(kind);
    CHECK(b.request.body.find(secret_key) == std::string::npos);
    CHECK(b.request.target.find(secret_key) == std::string::npos);
    int carrying = 0;
    for (const auto& header : b.request.headers) {
      if (header.second.find(secret_key) != std::string::npos) ++carrying;
    }
    CHECK(carrying == 1);
    std::string line = describe_for_log(b.request);
    CHECK(line.find(secret_key) == std::string::npos);
    CHECK(line.find("[redacted]") != std::string::npos);
  }
  provider_config azure = http_provider("openai");
  azure.api_version = "2024-06-01";
  std::string line =
      describe_for_log(build_provider_request(req, priced_model(), azure, secret_key).request);
  CHECK(line.find(secret_key) == std::string::npos);
  CHECK(line.find("api-key: [redacted]") != std::string::npos);
}
