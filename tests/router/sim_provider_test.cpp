// Specification of the sim provider (router/providers/sim_provider.hpp): a labelled,
// deterministic simulator of a model endpoint with injectable faults and outages.

#include "router/providers/sim_provider.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "router/token_estimate.hpp"

using namespace switchyard;
using std::chrono::milliseconds;

namespace {

model_config sim_model(const std::string& id = "sim-small") {
  model_config model;
  model.id = id;
  model.provider = "sim";
  model.tier = "small";
  model.context_window = 8192;
  return model;
}

std::vector<chat_message> ask(const std::string& question) {
  return {{"user", question}};
}

sim_fault every_nth(const std::string& kind, uint32_t every, uint32_t retry_after_ms = 1000) {
  sim_fault fault;
  fault.kind = kind;
  fault.every = every;
  fault.retry_after_ms = retry_after_ms;
  return fault;
}

sim_fault with_probability(const std::string& kind, double probability) {
  sim_fault fault;
  fault.kind = kind;
  fault.probability = probability;
  return fault;
}

// The outcome reduced to what a caller can observe, for comparing sequences.
std::string summary(const sim_outcome& out) {
  return out.error.kind + "|" + out.error.message + "|" + out.text + "|" + out.finish_reason + "|" +
         std::to_string(out.input_tokens) + "|" + std::to_string(out.output_tokens) + "|" +
         std::to_string(out.latency.count());
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Strict enough for our purpose: every lead byte is followed by the right number of
// continuation bytes, and no continuation byte stands alone.
bool is_valid_utf8(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = lead < 0x80           ? 1
                    : (lead >> 5) == 0x6  ? 2
                    : (lead >> 4) == 0xE  ? 3
                    : (lead >> 3) == 0x1E ? 4
                                          : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

}  // namespace

// -- replies --------------------------------------------------------------------------

TEST_CASE("sim: a reply is labelled with the model and quotes the last user message", "[sim]") {
  sim_provider sim{42};
  const std::vector<chat_message> messages = {
      {"system", "You are a helpful assistant."},
      {"user", "What is the capital of France?"},
      {"assistant", "Paris."},
      {"user", "And how many people live there?"},
  };
  const auto out = sim.call(sim_model("sim-small"), messages, 256, milliseconds{0});

  REQUIRE(out.error.ok());
  CHECK(starts_with(out.text, "[sim sim-small] "));
  CHECK(contains(out.text, "Re: \"And how many people live there?\""));
  CHECK_FALSE(contains(out.text, "capital of France"));
  CHECK(out.finish_reason == "stop");
}

TEST_CASE("sim: without a user message the reply answers the last message", "[sim]") {
  sim_provider sim{42};
  const std::vector<chat_message> messages = {{"system", "Summarise the ticket."},
                                              {"tool", "ticket 17: printer on fire"}};
  const auto out = sim.call(sim_model(), messages, 256, milliseconds{0});

  REQUIRE(out.error.ok());
  CHECK(contains(out.text, "Re: \"ticket 17: printer on fire\""));
}

TEST_CASE("sim: a long question is quoted by its first 12 words only", "[sim]") {
  sim_provider sim{42};
  const auto out = sim.call(
      sim_model(),
      ask("one two three four five six seven eight nine ten eleven twelve thirteen fourteen"), 256,
      milliseconds{0});

  REQUIRE(out.error.ok());
  CHECK(contains(out.text,
                 "Re: \"one two three four five six seven eight nine ten eleven twelve...\""));
  CHECK_FALSE(contains(out.text, "thirteen"));
}

TEST_CASE("sim: the same request always gets the same reply", "[sim]") {
  sim_provider first{1};
  sim_provider second{2};  // the seed drives faults, not the text
  const auto a = first.call(sim_model(), ask("How do I reset my password?"), 256, milliseconds{0});
  const auto b = first.call(sim_model(), ask("How do I reset my password?"), 256, milliseconds{0});
  const auto c = second.call(sim_model(), ask("How do I reset my password?"), 256, milliseconds{0});

  CHECK(a.text == b.text);
  CHECK(a.text == c.text);
}

TEST_CASE("sim: different models or different prompts get different replies", "[sim]") {
  sim_provider sim{42};
  const auto small = sim.call(sim_model("sim-small"), ask("Hello"), 256, milliseconds{0});
  const auto large = sim.call(sim_model("sim-large"), ask("Hello"), 256, milliseconds{0});
  const auto other = sim.call(sim_model("sim-small"), ask("Goodbye"), 256, milliseconds{0});

  // Past the label and the quote, the filler itself differs too.
  const auto body = [](const std::string& text) { return text.substr(text.find("\" ")); };
  CHECK(body(small.text) != body(large.text));
  CHECK(small.text != other.text);
}

TEST_CASE("sim: replies run between 12 and 63 tokens when max_tokens allows", "[sim]") {
  sim_provider sim{42};
  for (int i = 0; i < 200; ++i) {
    const auto out =
        sim.call(sim_model(), ask("question number " + std::to_string(i)), 1000, milliseconds{0});
    REQUIRE(out.error.ok());
    CHECK(out.finish_reason == "stop");
    CHECK(out.output_tokens >= 12);
    // The last filler sentence may overshoot the target of at most 63 by one sentence.
    CHECK(out.output_tokens <= 63 + 25);
  }
}

TEST_CASE("sim: tokens are billed with the ledger's estimator", "[sim]") {
  sim_provider sim{42};
  const std::vector<chat_message> messages = {{"system", "Be brief."},
                                              {"user", "Name three rivers."}};
  const auto out = sim.call(sim_model(), messages, 256, milliseconds{0});

  REQUIRE(out.error.ok());
  CHECK(out.input_tokens == estimate_prompt_tokens(messages));
  CHECK(out.output_tokens == estimate_tokens(out.text));
}

TEST_CASE("sim: max_tokens cuts the reply, with finish_reason length", "[sim]") {
  sim_provider sim{42};
  const auto full = sim.call(sim_model(), ask("Tell me a long story."), 1000, milliseconds{0});
  REQUIRE(full.output_tokens > 10);

  const auto cut = sim.call(sim_model(), ask("Tell me a long story."), 10, milliseconds{0});

  REQUIRE(cut.error.ok());
  CHECK(cut.finish_reason == "length");
  CHECK(cut.output_tokens == 10);
  CHECK(estimate_tokens(cut.text) <= 10);
  CHECK(starts_with(full.text, cut.text));
}

TEST_CASE("sim: a max_tokens exactly the reply's length does not cut it", "[sim]") {
  sim_provider sim{42};
  const auto full = sim.call(sim_model(), ask("Exact fit?"), 1000, milliseconds{0});
  const auto same = sim.call(sim_model(), ask("Exact fit?"), full.output_tokens, milliseconds{0});

  CHECK(same.finish_reason == "stop");
  CHECK(same.text == full.text);
}

TEST_CASE("sim: cutting a multi-byte reply never splits a code point", "[sim]") {
  sim_provider sim{42};
  // Japanese and emoji in the quote put 3- and 4-byte code points where cuts land.
  const std::string question =
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xA7\xE7\xAD\x94\xE3\x81\x88\xE3\x81\xA6"
      "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80";
  for (uint32_t max_tokens = 1; max_tokens <= 30; ++max_tokens) {
    const auto out = sim.call(sim_model(), ask(question), max_tokens, milliseconds{0});
    REQUIRE(out.error.ok());
    CHECK(is_valid_utf8(out.text));
    CHECK(out.output_tokens <= max_tokens);
    CHECK(out.output_tokens == estimate_tokens(out.text));
  }
}

TEST_CASE("sim: max_tokens of 0 is a bad request", "[sim]") {
  sim_provider sim{42};
  const auto out = sim.call(sim_model(), ask("Hi"), 0, milliseconds{0});

  CHECK(out.error.kind == "bad_request");
  CHECK(contains(out.error.message, "max_tokens must be >= 1"));
  CHECK(out.text.empty());
}

// -- context window -------------------------------------------------------------------

TEST_CASE("sim: a prompt plus max_tokens beyond the context window fails with context_length",
          "[sim]") {
  sim_provider sim{42};
  auto model = sim_model();
  model.context_window = 100;
  const auto messages = ask(std::string(40, 'x'));  // 4 + 10 = 14 prompt tokens

  CHECK(sim.call(model, messages, 86, milliseconds{0}).error.ok());  // exactly 100

  const auto out = sim.call(model, messages, 87, milliseconds{0});
  CHECK(out.error.kind == "context_length");
  CHECK(contains(out.error.message, "14"));
  CHECK(contains(out.error.message, "87"));
  CHECK(contains(out.error.message, "101"));
  CHECK(contains(out.error.message, "100"));
}

TEST_CASE("sim: a context_length error takes only the fixed latency", "[sim]") {
  sim_provider sim{42};
  auto model = sim_model();
  model.context_window = 10;
  model.sim.latency_ms = 25;
  model.sim.ms_per_output_token = 100;

  CHECK(sim.call(model, ask("Hi"), 256, milliseconds{0}).latency == milliseconds{25});
}

// -- faults ---------------------------------------------------------------------------

TEST_CASE("sim: every 3rd call is rate limited with its retry-after", "[sim]") {
  sim_provider sim{42};
  auto model = sim_model();
  model.sim.latency_ms = 20;
  model.sim.faults = {every_nth("rate_limited", 3, 1500)};

  for (int call = 1; call <= 9; ++call) {
    const auto out = sim.call(model, ask("Hi"), 64, milliseconds{0});
    if (call % 3 == 0) {
      CHECK(out.error.kind == "rate_limited");
      CHECK(out.error.retry_after_ms == 1500);
      CHECK(contains(out.error.message, "429"));
      CHECK(out.latency == milliseconds{20});
      CHECK(out.text.empty());
    } else {
      CHECK(out.error.ok());
    }
  }
}

TEST_CASE("sim: a server_error fault reports HTTP 500 after the fixed latency", "[sim]") {
  sim_provider sim{42};
  auto model = sim_model();
  model.sim.latency_ms = 30;
  model.sim.ms_per_output_token = 5;
  model.sim.faults = {every_nth("server_error", 1)};

  const auto out = sim.call(model, ask("Hi"), 64, milliseconds{0});
  CHECK(out.error.kind == "server_error");
  CHECK(contains(out.error.message, "500"));
  CHECK(out.latency == milliseconds{30});
}

TEST_CASE("sim: a timeout fault makes the caller wait timeout_ms", "[sim]") {
  sim_provider sim{42};
  auto model = sim_model();
  model.sim.latency_ms = 30;
  model.sim.timeout_ms = 5000;
  model.sim.faults = {every_nth("timeout", 2)};

  CHECK(sim.call(model, ask("Hi"), 64, milliseconds{0}).error.ok());
  const auto out = sim.call(model, ask("Hi"), 64, milliseconds{0});
  CHECK(out.error.kind == "timeout");
  CHECK(out.latency == milliseconds{5000});
}

TEST_CASE("sim: when two faults fall on one call, the first in config order wins", "[sim]") {
  sim_provider sim{42};
  auto model = sim_model();
  model.sim.faults = {every_nth("server_error", 2), every_nth("rate_limited", 3)};

  std::vector<std::string> kinds;
  for (int call = 1; call <= 6; ++call) {
    kinds.push_back(sim.call(model, ask("Hi"), 64, milliseconds{0}).error.kind);
  }
  CHECK(kinds == std::vector<std::string>{"", "server_error", "rate_limited", "server_error", "",
                                          "server_error"});
}

TEST_CASE("sim: call indices are counted per model, faulted calls included", "[sim]") {
  sim_provider sim{42};
  auto flaky = sim_model("flaky");
  flaky.sim.faults = {every_nth("server_error", 2)};
  const auto steady = sim_model("steady");

  CHECK(sim.call(flaky, ask("Hi"), 64, milliseconds{0}).error.ok());
  CHECK(sim.call(steady, ask("Hi"), 64, milliseconds{0}).error.ok());  // not flaky's 2nd call
  CHECK(sim.call(flaky, ask("Hi"), 64, milliseconds{0}).error.kind == "server_error");
  CHECK(sim.call(flaky, ask("Hi"), 0, milliseconds{0}).error.kind == "bad_request");

  CHECK(sim.calls_made("flaky") == 3);
  CHECK(sim.calls_made("steady") == 1);
  CHECK(sim.calls_made("never-called") == 0);
}

TEST_CASE("sim: probability faults fire at roughly their rate", "[sim]") {
  sim_provider sim{7};
  auto model = sim_model();
  model.sim.faults = {with_probability("server_error", 0.1), with_probability("rate_limited", 0.3)};

  constexpr int calls = 10'000;
  int server_errors = 0;
  int rate_limits = 0;
  for (int i = 0; i < calls; ++i) {
    const auto kind = sim.call(model, ask("Hi"), 8, milliseconds{0}).error.kind;
    server_errors += kind == "server_error";
    rate_limits += kind == "rate_limited";
  }
  // The second fault only sees the 90% of calls the first one let through: 0.9 * 0.3.
  // Tolerances are over 5 standard deviations.
  CHECK(server_errors == Approx(1000).margin(150));
  CHECK(rate_limits == Approx(2700).margin(250));
}

TEST_CASE("sim: the same seed gives the same outcome sequence", "[sim]") {
  auto model = sim_model();
  model.sim.latency_ms = 10;
  model.sim.ms_per_output_token = 2;
  model.sim.faults = {with_probability("rate_limited", 0.2), with_probability("timeout", 0.1),
                      every_nth("server_error", 7)};
  model.sim.outages = {{500, 600}};

  sim_provider first{1234};
  sim_provider second{1234};
  for (int i = 0; i < 300; ++i) {
    const auto messages = ask("request " + std::to_string(i % 11));
    const auto max_tokens = static_cast<uint32_t>(5 + i % 40);
    const milliseconds now{i * 3};
    CHECK(summary(first.call(model, messages, max_tokens, now)) ==
          summary(second.call(model, messages, max_tokens, now)));
  }
}

TEST_CASE("sim: a different seed moves the probabilistic faults", "[sim]") {
  auto model = sim_model();
  model.sim.faults = {with_probability("rate_limited", 0.3)};

  const auto fault_positions = [&](uint64_t seed) {
    sim_provider sim{seed};
    std::vector<int> positions;
    for (int call = 1; call <= 200; ++call) {
      if (!sim.call(model, ask("Hi"), 8, milliseconds{0}).error.ok()) positions.push_back(call);
    }
    return positions;
  };

  CHECK(fault_positions(1) == fault_positions(1));
  CHECK(fault_positions(1) != fault_positions(2));
}

TEST_CASE("sim: every-N faults do not depend on the seed", "[sim]") {
  auto model = sim_model();
  model.sim.faults = {every_nth("server_error", 4)};
  sim_provider first{1};
  sim_provider second{99};
  for (int call = 1; call <= 12; ++call) {
    CHECK(first.call(model, ask("Hi"), 8, milliseconds{0}).error.kind ==
          second.call(model, ask("Hi"), 8, milliseconds{0}).error.kind);
  }
}

// -- outages --------------------------------------------------------------------------

TEST_CASE("sim: an outage window fails calls from its start, inclusive, to its end, exclusive",
          "[sim]") {
  sim_provider sim{42};
  auto model = sim_model();
  model.sim.latency_ms = 15;
  model.sim.outages = {{1000, 2000}};

  CHECK(sim.call(model, ask("Hi"), 64, milliseconds{999}).error.ok());

  const auto at_start = sim.call(model, ask("Hi"), 64, milliseconds{1000});
  CHECK(at_start.error.kind == "connection");
  CHECK(contains(at_start.error.message, "[1000, 2000)"));
  CHECK(at_start.latency == milliseconds{15});

  CHECK(sim.call(model, ask("Hi"), 64, milliseconds{1999}).error.kind == "connection");
  CHECK(sim.call(model, ask("Hi"), 64, milliseconds{2000}).error.ok());
}

TEST_CASE("sim: an outage takes precedence over request checks and faults", "[sim]") {
  sim_provider sim{42};
  auto model = sim_model();
  model.context_window = 10;
  model.sim.faults = {every_nth("rate_limited", 1)};
  model.sim.outages = {{0, 100}, {300, 400}};

  CHECK(sim.call(model, ask("Hi"), 0, milliseconds{50}).error.kind == "connection");
  CHECK(sim.call(model, ask("Hi"), 500, milliseconds{350}).error.kind == "connection");
  CHECK(sim.call(model, ask("Hi"), 5, milliseconds{200}).error.kind == "rate_limited");
}

TEST_CASE("sim: a context_length error takes precedence over faults", "[sim]") {
  sim_provider sim{42};
  auto model = sim_model();
  model.context_window = 10;
  model.sim.faults = {every_nth("server_error", 1)};

  CHECK(sim.call(model, ask("Hi"), 64, milliseconds{0}).error.kind == "context_length");
}

// -- latency --------------------------------------------------------------------------

TEST_CASE("sim: a successful call takes latency_ms plus ms_per_output_token per token", "[sim]") {
  sim_provider sim{42};
  auto model = sim_model();
  model.sim.latency_ms = 50;
  model.sim.ms_per_output_token = 3;

  const auto out = sim.call(model, ask("How long will this take?"), 256, milliseconds{0});
  REQUIRE(out.error.ok());
  CHECK(out.latency == milliseconds{50 + 3 * out.output_tokens});

  const auto cut = sim.call(model, ask("How long will this take?"), 4, milliseconds{0});
  CHECK(cut.latency == milliseconds{50 + 3 * 4});
}

TEST_CASE("sim: a reply whose text is written after its latency is the same text", "[sim]") {
  auto model = sim_model("sim-later");
  model.sim.latency_ms = 40;
  const std::vector<std::string> prompts = {
      "What is the capital of France?",
      "one two three four five six seven eight nine ten eleven twelve thirteen fourteen",
      "\u00fcber \u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 " + std::string(300, 'x'),
      "",
  };
  for (const auto& prompt : prompts) {
    for (uint32_t max_tokens : {1u, 5u, 20u, 256u}) {
      sim_provider now{7};
      sim_provider later{7};
      const auto written = now.call(model, ask(prompt), max_tokens, milliseconds{0});
      auto deferred = later.call(model, ask(prompt), max_tokens, milliseconds{0},
                                 estimate_prompt_tokens(ask(prompt)), true);
      REQUIRE(written.error.ok());
      REQUIRE(deferred.error.ok());
      REQUIRE(deferred.deferred);
      CHECK(deferred.text.empty());
      CHECK(deferred.deferred.write_text(model.id) == written.text);
      CHECK(deferred.deferred.finish_reason() == written.finish_reason);
      CHECK(deferred.deferred.input_tokens() == written.input_tokens);
      CHECK(deferred.deferred.output_tokens() == written.output_tokens);
      CHECK(deferred.latency == written.latency);
    }
  }
}

TEST_CASE("sim: a reply without latency is written at once even when it could wait", "[sim]") {
  sim_provider sim{7};
  const auto out = sim.call(sim_model(), ask("hello"), 256, milliseconds{0},
                            estimate_prompt_tokens(ask("hello")), true);
  REQUIRE(out.error.ok());
  CHECK_FALSE(out.deferred);
  CHECK(starts_with(out.text, "[sim sim-small] "));
}

TEST_CASE("sim: a reply written before is the same text as one written afresh", "[sim]") {
  // The provider keeps replies it wrote and copies them for the same request. Prompts
  // alike in size and in their first, middle and last bytes must still get their own.
  std::string base = "0123456789 the same frame around a different middle, 0123456789";
  std::string other = base;
  other[20] = 'X';
  std::string third = base;
  third[40] = 'Y';
  const std::vector<std::string> prompts = {base, other, third, "short", "", base + " more"};
  const auto small = sim_model("sim-small");
  const auto large = sim_model("sim-large");
  sim_provider kept{7};
  for (int round = 0; round < 3; ++round) {
    for (const auto& prompt : prompts) {
      for (const auto* model : {&small, &large}) {
        for (uint32_t max_tokens : {3u, 256u}) {
          sim_provider fresh{7};
          const auto want = fresh.call(*model, ask(prompt), max_tokens, milliseconds{0});
          const auto got = kept.call(*model, ask(prompt), max_tokens, milliseconds{0});
          INFO(prompt << " " << model->id << " " << max_tokens << " round " << round);
          CHECK(summary(got) == summary(want));
        }
      }
    }
  }
}
