#include "router/providers/embeddings_adapter.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>

#include "tests/router/providers/wire_fixtures.hpp"

using namespace switchyard;
using namespace switchyard::test;
using nlohmann::json;

TEST_CASE("embeddings adapter: the request asks for float vectors of every input",
          "[providers][embeddings]") {
  model_config model = priced_model("text-embedding-3-small");
  http_request http =
      embeddings_adapter::build_request({"a", "b c"}, model, http_provider("openai"), secret_key);
  CHECK(http.target == "/embeddings");
  CHECK(header_value(http.headers, "authorization") == "Bearer " + secret_key);
  CHECK(body_of(http.body) == json::parse(R"({"model":"text-embedding-3-small",
                                             "input":["a","b c"],"encoding_format":"float"})"));
  CHECK_THROWS_AS(embeddings_adapter::build_request({}, model, http_provider("openai"), ""),
                  std::invalid_argument);
}

TEST_CASE("embeddings adapter: vectors come back in input order with usage priced",
          "[providers][embeddings]") {
  std::string body = R"({"object":"list","data":[
      {"object":"embedding","index":1,"embedding":[0.5,-1]},
      {"object":"embedding","index":0,"embedding":[0.25,2]}],
    "model":"e","usage":{"prompt_tokens":500000,"total_tokens":500000}})";
  embedding_result r = embeddings_adapter::parse_response(200, {}, body, priced_model(), 2);
  REQUIRE(r.ok());
  REQUIRE(r.vectors.size() == 2);
  CHECK(r.vectors[0] == std::vector<float>{0.25f, 2.0f});
  CHECK(r.vectors[1] == std::vector<float>{0.5f, -1.0f});
  CHECK(r.usage.input_tokens == 500000);
  CHECK(r.usage.cost_usd == Approx(1.0));
}

TEST_CASE("embeddings adapter: wrong counts, indexes, dimensions or values are bad_response",
          "[providers][embeddings]") {
  for (const char* body :
       {"", "{}", R"({"data":{}})", R"({"data":[{"embedding":[1]}]})",
        R"({"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]})",
        R"({"data":[{"index":0,"embedding":[1]},{"index":5,"embedding":[2]}]})",
        R"({"data":[{"index":0,"embedding":[1]},{"index":1,"embedding":[2,3]}]})",
        R"({"data":[{"index":0,"embedding":[1]},{"index":1,"embedding":["x"]}]})",
        R"({"data":[{"index":0,"embedding":[]},{"index":1,"embedding":[1]}]})",
        R"({"data":[{"index":-1,"embedding":[1]},{"index":1,"embedding":[1]}]})"}) {
    INFO(body);
    CHECK(embeddings_adapter::parse_response(200, {}, body, priced_model(), 2).error.kind ==
          "bad_response");
  }
  embedding_result limited = embeddings_adapter::parse_response(
      429, {{"Retry-After", "2"}}, R"({"error":{"message":"slow"}})", priced_model(), 1);
  CHECK(limited.error.kind == "rate_limited");
  CHECK(limited.error.retry_after_ms == 2000);
}
