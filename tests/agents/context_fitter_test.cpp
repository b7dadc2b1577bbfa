// Specification of the context fitter (agents/context_fitter.hpp): a thread longer than
// the smallest window is fitted without ever exceeding it or losing the system prompt
// and the latest user turn.

#include "agents/context_fitter.hpp"

#include <catch2/catch.hpp>

#include "router/token_estimate.hpp"

using namespace switchyard;

namespace {

const std::string kSystem = "You are Fernleaf's support assistant. Be brief and kind.";

// A deterministic stand-in for the local-tier summariser: names how many turns it saw
// and the first words of the first one.
std::string test_summary(const std::vector<chat_message>& turns, uint32_t /*max_tokens*/) {
  return std::to_string(turns.size()) +
         " turns, starting with: " + turns.front().content.substr(0, 24);
}

std::vector<chat_message> long_thread(size_t turns) {
  std::vector<chat_message> history{{"system", kSystem}};
  for (size_t i = 0; i < turns; ++i) {
    std::string n = std::to_string(i);
    if (i % 2 == 0)
      history.push_back({"user", "Turn " + n +
                                     ": my parcel SY-10238 is still not here, "
                                     "the tracking page has not changed for days, what now?"});
    else
      history.push_back({"assistant", "Turn " + n +
                                          ": I am sorry about that. I checked with "
                                          "the carrier and the parcel is in the local depot.\n"
                                          "[internal] route=track_order confidence=0.93"});
  }
  history.push_back({"user", "Latest: can you send a replacement instead?"});
  return history;
}

}  // namespace

TEST_CASE("context: a thread that fits is kept whole, minus internal metadata", "[context]") {
  std::vector<chat_message> history{
      {"system", kSystem},
      {"user", "Where is SY-10238?"},
      {"assistant", "It ships today.\ntags: sentiment=neutral urgency=normal\nX-Route: track"},
      {"user", "Thanks!"}};
  bool called = false;
  auto r = fit_context(history, {4096, 256, 128}, [&](const auto&, uint32_t) {
    called = true;
    return std::string("x");
  });
  REQUIRE(r.ok());
  CHECK_FALSE(called);
  REQUIRE(r.messages.size() == 4);
  CHECK(r.messages[2].content == "It ships today.");
  CHECK(r.stripped_lines == 2);
  CHECK(r.summarised_turns == 0);
  CHECK(r.prompt_tokens == estimate_prompt_tokens(r.messages));
}

TEST_CASE("context: a long thread is fitted to a small window with a summary", "[context]") {
  auto history = long_thread(60);
  REQUIRE(estimate_prompt_tokens(history) > 2000);
  std::vector<chat_message> seen;
  auto r = fit_context(history, {512, 128, 96}, [&](const auto& turns, uint32_t max_tokens) {
    seen = turns;
    CHECK(max_tokens <= 96);
    return test_summary(turns, max_tokens);
  });
  REQUIRE(r.ok());
  CHECK(r.prompt_tokens + 128 <= 512);
  CHECK(r.prompt_tokens == estimate_prompt_tokens(r.messages));
  CHECK(r.messages.front().role == "system");
  CHECK(r.messages.front().content == kSystem);
  CHECK(r.messages.back().content == "Latest: can you send a replacement instead?");
  CHECK_FALSE(r.latest_truncated);
  // The summary follows the system prompt and covers exactly the turns left out, oldest
  // first; the turns kept are the most recent ones, in order.
  REQUIRE(r.summarised_turns > 0);
  CHECK(r.summarised_turns == seen.size());
  CHECK(seen.front().content.rfind("Turn 0:", 0) == 0);
  CHECK(r.messages[1].role == "system");
  CHECK(r.messages[1].content.rfind(
            "Summary of the " + std::to_string(seen.size()) +
                " earlier turns of this conversation: " + std::to_string(seen.size()) +
                " turns, starting with: Turn 0",
            0) == 0);
  const size_t kept = r.messages.size() - 3;  // system, summary, latest
  CHECK(kept + r.summarised_turns == 60);
  CHECK(r.messages[2].content.rfind("Turn " + std::to_string(60 - kept) + ":", 0) == 0);
  for (const auto& m : r.messages) CHECK(m.content.find("[internal]") == std::string::npos);
}

TEST_CASE("context: no window size makes the fitted prompt exceed it", "[context]") {
  auto history = long_thread(40);
  for (uint32_t window = 96; window <= 3000; window += 37) {
    auto r = fit_context(history, {window, 64, 200}, test_summary);
    REQUIRE(r.ok());
    CHECK(r.prompt_tokens + 64 <= window);
    CHECK(r.messages.front().content == kSystem);
    CHECK(r.messages.back().role == "user");
    if (r.latest_truncated)  // only the smallest windows: 32 tokens for everything
      CHECK(r.messages.back().content.find("[truncated: kept") != std::string::npos);
    else
      CHECK(r.messages.back().content == history.back().content);
  }
}

TEST_CASE("context: a summariser that ignores its limit is cut to fit", "[context]") {
  auto history = long_thread(30);
  auto r = fit_context(history, {400, 100, 50},
                       [](const auto&, uint32_t) { return std::string(5000, 'z'); });
  REQUIRE(r.ok());
  CHECK(r.prompt_tokens + 100 <= 400);
  CHECK(estimate_tokens(r.messages[1].content) <= 50);
  CHECK(r.messages[1].content.find("[truncated: kept") != std::string::npos);
}

TEST_CASE("context: a latest turn too long for the window is truncated with a marker",
          "[context]") {
  std::string huge(100 * 1024, 'a');  // a 100 KB ticket
  std::vector<chat_message> history{{"system", kSystem},
                                    {"user", "an earlier question"},
                                    {"assistant", "an earlier answer"},
                                    {"user", "Please help: " + huge}};
  auto r = fit_context(history, {1024, 256, 64}, test_summary);
  REQUIRE(r.ok());
  CHECK(r.latest_truncated);
  CHECK(r.dropped_turns == 2);
  REQUIRE(r.messages.size() == 2);
  CHECK(r.messages[0].content == kSystem);
  CHECK(r.prompt_tokens + 256 <= 1024);
  CHECK(r.prompt_tokens + 256 >= 1020);  // the room is used, not wasted
  const std::string& cut = r.messages[1].content;
  CHECK(cut.rfind("Please help: aaaa", 0) == 0);
  CHECK(cut.find("[truncated: kept ") != std::string::npos);
  CHECK(cut.find(" of " + std::to_string(13 + huge.size()) + " characters]") != std::string::npos);
}

TEST_CASE("context: truncation never splits a UTF-8 character", "[context]") {
  std::string euros;
  for (int i = 0; i < 400; ++i) euros += "\xE2\x82\xAC";  // 400 x "€"
  std::string cut = truncate_to_tokens(euros, 20);
  CHECK(estimate_tokens(cut) <= 20);
  size_t marker = cut.find("\n[truncated");
  REQUIRE(marker != std::string::npos);
  CHECK(marker % 3 == 0);  // whole characters only
  CHECK(truncate_to_tokens("short", 20) == "short");
}

TEST_CASE("context: impossible fits are errors that say why", "[context]") {
  CHECK(fit_context({}, {100, 10, 10}, test_summary).error ==
        "context: the history has no messages");
  CHECK(fit_context(long_thread(2), {100, 100, 10}, test_summary).error ==
        "context: the window (100 tokens) must be larger than the reserved output (100 tokens)");
  std::vector<chat_message> big_system{{"system", std::string(2000, 's')}, {"user", "hi"}};
  auto r = fit_context(big_system, {300, 50, 10}, test_summary);
  CHECK_FALSE(r.ok());
  CHECK(r.messages.empty());
  CHECK(r.error ==
        "context: the system prompt (504 tokens) and the latest turn's framing do not fit the "
        "window of 300 tokens minus 50 reserved for output");
}

TEST_CASE("context: metadata lines are recognised only at the start of a line", "[context]") {
  size_t stripped = 0;
  CHECK(strip_internal_metadata("keep\n  [internal] drop\nTags: a\ntrace: {}\nX-Foo: 1\n"
                                "my tags: are fine\nend",
                                stripped) == "keep\nmy tags: are fine\nend");
  CHECK(stripped == 4);
}
