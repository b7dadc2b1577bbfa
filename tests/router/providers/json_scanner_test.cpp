// scan_json (router/providers/wire_json.hpp): the provider replies' own JSON lexer must
// send a handler exactly what nlohmann's SAX parser sends for every document it takes,
// and take no malformed one (those go to nlohmann, whose error names the problem).

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "router/providers/wire_json.hpp"

namespace switchyard {

namespace {

using json = nlohmann::json;

// Every event as text, values included (a float by its bits' decimal form).
class recorder final : public nlohmann::json_sax<json> {
 public:
  std::vector<std::string> events;
  bool null() override { return add("null"); }
  bool boolean(bool v) override { return add(v ? "true" : "false"); }
  bool number_integer(number_integer_t v) override { return add("int " + std::to_string(v)); }
  bool number_unsigned(number_unsigned_t v) override { return add("uint " + std::to_string(v)); }
  bool number_float(number_float_t v, const string_t&) override {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return add(std::string("float ") + buf);
  }
  bool string(string_t& v) override { return add("string " + v); }
  bool binary(binary_t&) override { return add("binary"); }
  bool start_object(std::size_t) override { return add("{"); }
  bool key(string_t& k) override { return add("key " + k); }
  bool end_object() override { return add("}"); }
  bool start_array(std::size_t) override { return add("["); }
  bool end_array() override { return add("]"); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool add(std::string e) {
    events.push_back(std::move(e));
    return true;
  }
};

}  // namespace

TEST_CASE("scan_json sends what nlohmann's SAX parser sends for well-formed documents",
          "[wire][json]") {
  const std::vector<std::string> documents = {
      R"({"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":12}})",
      " \t\r\n{ \"a\" : [ 1 , -2 , 0 , -0 , 3.25 , -1e-3 , 2E+10 , 1.5e300 ] } \n",
      R"({"esc":"q\" b\\ s\/ \b\f\n\r\t","u":"\u00e9\u4e2d\ud83d\ude00\u0000x"})",
      "{\"utf8\":\"caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 \xef\xbf\xbd\"}",
      R"([true,false,null,{},[],[[]],{"k":{}},"",123456789012345678,-123456789012345678])",
      R"({"dup":1,"dup":"two","logprobs":{"content":[{"token":"a","logprob":-0.0001}]}})",
      "\"just a string\"",
      "42",
      "null",
  };
  for (const auto& doc : documents) {
    INFO(doc);
    recorder expected;
    REQUIRE(json::sax_parse(doc, &expected));
    recorder got;
    CHECK(scan_json(doc, got));
    CHECK(got.events == expected.events);
  }
}

TEST_CASE("scan_json takes no malformed document, and leaves the edge cases to nlohmann",
          "[wire][json]") {
  const std::vector<std::string> malformed = {
      "",
      "   ",
      "{",
      R"({"a":1,})",
      R"({"a" 1})",
      R"({a:1})",
      "[1,]",
      "[1 2]",
      "01",
      "-",
      "1.",
      ".5",
      "1e",
      "+1",
      "tru",
      "nul",
      R"({"a":1} x)",
      R"({"a":1}{})",
      "\"unterminated",
      "\"tab\there\"",
      R"("bad escape \x")",
      R"("\u12")",
      R"("\udc00")",
      R"("\ud800")",
      R"("\ud800\u0041")",
      "\"\xc3\"",
      "\"\xc0\xaf\"",
      "\"\xed\xa0\x80\"",
      "\"\xf4\x90\x80\x80\"",
      "\xef\xbb\xbf{}",  // a byte-order mark: nlohmann's to judge
      "{'a':1}",
  };
  for (const auto& doc : malformed) {
    INFO(doc);
    recorder got;
    CHECK_FALSE(scan_json(doc, got));
  }
  // Well-formed, but the scanner leaves them to nlohmann: integers beyond 18 digits
  // (where nlohmann turns to floats), doubles out of range, deep nesting.
  const std::vector<std::string> left = {"1234567890123456789", "-99999999999999999999", "1e999",
                                         std::string(65, '[') + std::string(65, ']')};
  for (const auto& doc : left) {
    INFO(doc);
    recorder got;
    CHECK_FALSE(scan_json(doc, got));
  }
}

}  // namespace switchyard
