// Specification of the token approximation (router/token_estimate.hpp) and of call
// costs (router/cost.hpp).

#include "router/token_estimate.hpp"

#include <catch2/catch.hpp>

#include "router/cost.hpp"

using namespace switchyard;

TEST_CASE("tokens: empty text costs no tokens", "[tokens]") {
  CHECK(estimate_tokens("") == 0);
}

TEST_CASE("tokens: ASCII text costs one token per started group of 4 characters", "[tokens]") {
  CHECK(estimate_tokens("a") == 1);
  CHECK(estimate_tokens("abcd") == 1);
  CHECK(estimate_tokens("abcde") == 2);
  CHECK(estimate_tokens("abcdefgh") == 2);
  CHECK(estimate_tokens("How do I reset my password?") == 7);  // 27 characters
}

TEST_CASE("tokens: multi-byte characters count once each, not once per byte", "[tokens]") {
  CHECK(estimate_tokens("h\xC3\xA9llo") == 2);  // "héllo": 5 code points, 6 bytes
  CHECK(estimate_tokens("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E") == 1);  // "日本語": 3 code points
  CHECK(estimate_tokens("\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC") == 1);  // "€€€€"
  // Five emoji: 20 bytes, 5 code points.
  const std::string five_emoji =
      "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80";
  CHECK(five_emoji.size() == 20);
  CHECK(estimate_tokens(five_emoji) == 2);
}

TEST_CASE("tokens: a prompt adds 4 framing tokens per message to its contents", "[tokens]") {
  CHECK(estimate_prompt_tokens({}) == 0);
  CHECK(estimate_prompt_tokens({{"user", ""}}) == 4);
  CHECK(estimate_prompt_tokens({{"system", "abcd"}, {"user", "abcde"}}) == (4 + 1) + (4 + 2));
}

TEST_CASE("cost: a call costs its tokens at the model's per-million prices", "[tokens][cost]") {
  model_config model;
  model.price_in_per_mtok = 3;
  model.price_out_per_mtok = 15;

  CHECK(call_cost_usd(model, 0, 0) == 0);
  CHECK(call_cost_usd(model, 1'000'000, 0) == Approx(3));
  CHECK(call_cost_usd(model, 0, 1'000'000) == Approx(15));
  CHECK(call_cost_usd(model, 1000, 2000) == Approx((1000 * 3.0 + 2000 * 15.0) / 1e6));
}

TEST_CASE("cost: a free model costs nothing however many tokens it uses", "[tokens][cost]") {
  model_config model;
  CHECK(call_cost_usd(model, 123'456'789, 987'654'321) == 0);
}

TEST_CASE("tokens: code points are counted right across 8-byte chunks and their tails",
          "[tokens]") {
  // Mixed 1-, 2-, 3- and 4-byte sequences at every alignment.
  const std::string pieces[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
  std::string text;
  uint64_t expected = 0;
  for (int i = 0; i < 300; ++i) {
    text += pieces[(i * 7) % 4];
    ++expected;
    CHECK(count_code_points(text) == expected);
  }
}

TEST_CASE("tokens: code points are counted right in texts longer than 4 KB", "[tokens]") {
  // Long enough for the counter's per-lane totals to be summed several times over.
  const std::string pieces[] = {"\xf0\x9f\x98\x80", "a", "\xe2\x82\xac", "\xc3\xa9", "  "};
  std::string text;
  for (int i = 0; i < 9000; ++i) text += pieces[(i * 3 + i / 7) % 5];
  auto one_by_one = [](std::string_view t) {
    uint64_t n = 0;
    for (char c : t)
      if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
    return n;
  };
  for (size_t cut : {text.size(), text.size() - 1, size_t{4080}, size_t{4096}, size_t{8191}}) {
    std::string_view part = std::string_view{text}.substr(0, cut);
    CHECK(count_code_points(part) == one_by_one(part));
  }
}
