// append_json_string scans plain text 8 bytes at a time: every byte that needs
// escaping must be found wherever it sits relative to those 8-byte words.

#include "runtime/json_text.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace switchyard {
namespace {

std::string round_trip(const std::string& text) {
  std::string out;
  append_json_string(out, text);
  return nlohmann::json::parse(out).get<std::string>();
}

}  // namespace

TEST_CASE("json text: an escaped byte is found at every offset of a long plain text",
          "[json_text]") {
  const std::string specials[] = {"\"",   "\\",   "\n",       "\t",           std::string(1, '\0'),
                                  "\x1f", "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x99\x82"};
  for (const auto& special : specials) {
    for (size_t at = 0; at < 40; ++at) {
      std::string text(40, 'a');
      text.insert(at, special);
      INFO("special byte(s) at offset " << at);
      CHECK(round_trip(text) == text);
    }
  }
}

TEST_CASE("json text: invalid UTF-8 becomes U+FFFD at any offset, the rest stays", "[json_text]") {
  for (size_t at = 0; at < 20; ++at) {
    std::string text(20, 'b');
    text.insert(at, "\xff");
    std::string expected = text;
    expected.replace(at, 1, "\xEF\xBF\xBD");
    CHECK(round_trip(text) == expected);
  }
  std::string out;
  append_json_string(out, "plain \"quoted\" text");
  CHECK(out == R"("plain \"quoted\" text")");
}

}  // namespace switchyard

namespace switchyard {

TEST_CASE("json text: bytes that never lead UTF-8 are replaced even before continuation bytes",
          "[json_text]") {
  // 0xF5..0xFF start no sequence: with two continuation bytes behind them they once
  // passed as a three-byte character and left invalid UTF-8 in the JSON.
  for (int lead = 0xF5; lead <= 0xFF; ++lead) {
    std::string text = "x";
    text += static_cast<char>(lead);
    text += "\x80\x80y";
    INFO("lead byte " << lead);
    CHECK(round_trip(text) == "x\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDy");
  }
}

}  // namespace switchyard
