#include "runtime/http_url.hpp"

#include <catch2/catch.hpp>

using namespace switchyard;

TEST_CASE("http url: scheme, host, port and path are split, default ports filled in",
          "[config][url]") {
  std::string problem;
  auto a = parse_http_url("https://api.openai.com/v1/", problem);
  REQUIRE(a);
  CHECK(a->scheme == "https");
  CHECK(a->host == "api.openai.com");
  CHECK(a->port == 443);
  CHECK(a->path == "/v1");
  auto b = parse_http_url("http://127.0.0.1:11434", problem);
  REQUIRE(b);
  CHECK(b->port == 11434);
  CHECK(b->path.empty());
  auto c = parse_http_url("http://[::1]:8000/v1", problem);
  REQUIRE(c);
  CHECK(c->host == "::1");
  CHECK(c->port == 8000);
}

TEST_CASE("http url: malformed URLs are refused with the reason", "[config][url]") {
  auto why = [](const std::string& text) {
    std::string problem;
    CHECK_FALSE(parse_http_url(text, problem));
    return problem;
  };
  CHECK(why("ftp://x") == "must start with http:// or https://");
  CHECK(why("api.openai.com") == "must start with http:// or https://");
  CHECK(why("http://") == "has no host");
  CHECK(why("http://:80/v1") == "has no host");
  CHECK(why("http://h:0") == "has a port that is not 1..65535");
  CHECK(why("http://h:65536") == "has a port that is not 1..65535");
  CHECK(why("http://h:8x") == "has a port that is not 1..65535");
  CHECK(why("http://h:") == "has an empty port");
  CHECK(why("http://h/v1?key=1") == "must not have a query or fragment");
  CHECK(why("http://h /v1") == "must not contain spaces or control characters");
  CHECK(why("http://[::1") == "has an unterminated [IPv6] host");
  CHECK(why("https://user:pw@h/v1").find("credentials") != std::string::npos);
}
