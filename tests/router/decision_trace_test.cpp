#include "router/decision_trace.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>

#include "runtime/trace_codec.hpp"

using namespace switchyard;

namespace {

// Strings a trace may hold: empty, plain, repeated, ones JSON must escape, invalid
// UTF-8, long ones, and the dictionary's words.
const std::vector<std::string> samples = {"",
                                          "billing",
                                          "faq",
                                          "routed",
                                          "rule:legal",
                                          "classifier",
                                          "request",
                                          "local",
                                          "mid",
                                          "sim-small",
                                          "none",
                                          "pii",
                                          "interactive",
                                          "lowest+complexity",
                                          "say \"hi\"\n\t\\",
                                          std::string(1, '\x01'),
                                          "\xc3\xa9t\xc3\xa9",
                                          "bad \xff byte",
                                          std::string(300, 'x'),
                                          "needs 9000 tokens, window 8192",
                                          "endpoint down"};

const std::vector<double> numbers = {0.0,
                                     -0.0,
                                     1.0,
                                     0.5,
                                     1e-9,
                                     123456789.0,
                                     0.1 + 0.2,
                                     -3.25,
                                     4.8e-05,
                                     1e300,
                                     std::numeric_limits<double>::min()};

struct generator {
  std::mt19937 rng;
  std::vector<model_config> catalog;

  explicit generator(uint32_t seed) : rng(seed) {
    for (int i = 0; i < 7; ++i) {
      model_config m;
      m.id = i == 6 ? "model \"quoted\"" : "model-" + std::to_string(i);
      m.tier = i < 3 ? "local" : i < 5 ? "mid" : "frontier";
      catalog.push_back(m);
    }
  }

  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); }
  bool coin() { return below(2) == 0; }
  const std::string& text() { return samples[below(samples.size())]; }
  double number() { return numbers[below(numbers.size())]; }

  decision_trace trace() {
    decision_trace t;
    t.outcome = text();
    t.route = text();
    t.route_source = text();
    t.target_tier = text();
    t.tier_source = text();
    t.note = coin() ? std::string{} : text();
    for (size_t i = below(3); i > 0; --i) t.rules_fired.push_back(text());
    if (coin()) {
      auto& c = t.classifier;
      c.used = true;
      c.route = text();
      c.confidence = number();
      c.runner_up = text();
      c.runner_up_confidence = number();
      c.threshold = number();
      for (size_t i = below(4); i > 0; --i) c.top.push_back({text(), number()});
      c.encoder = coin() ? std::string{} : text();
    }
    t.data_class = coin() ? std::string{} : text();
    t.data_class_source = text();
    t.latency_class = coin() ? std::string{} : text();
    t.complexity.prompt_tokens = static_cast<uint32_t>(below(3) == 0 ? below(100000) : below(200));
    t.complexity.long_prompt = coin();
    t.complexity.has_code = coin();
    t.complexity.multi_part = coin();
    t.complexity.parts = static_cast<uint32_t>(below(5));
    t.complexity.tier_steps = static_cast<uint32_t>(below(3));
    for (size_t i = 0; i < catalog.size(); ++i) {
      if (below(4) == 0) continue;
      candidate_note n;
      n.model = &catalog[i];
      n.filtered_by = static_cast<candidate_filter>(below(3) == 0 ? 0 : below(7));
      n.detail = n.filtered_by == candidate_filter::none ? std::string{} : text();
      n.estimated_usd = number();
      t.candidates.push_back(n);
    }
    if (!t.candidates.empty() && coin()) {
      const auto& chosen = *t.candidates[below(t.candidates.size())].model;
      t.chosen_model = chosen.id;
      t.chosen_tier = chosen.tier;
    } else if (coin()) {
      t.chosen_model = text();  // a model the candidates do not name
    }
    t.downgraded = coin();
    t.budget.tokens_limited = coin();
    t.budget.tokens_left = below(2) == 0 ? 0 : uint64_t{1} << below(40);
    t.budget.usd_limited = coin();
    t.budget.usd_left = number();
    return t;
  }
};

}  // namespace

TEST_CASE("trace codec: the compact form renders to_json_text's text byte for byte", "[trace]") {
  generator g{20261123};
  std::string all_compact, all_json;
  for (int i = 0; i < 3000; ++i) {
    auto t = g.trace();
    auto compact = to_compact(t);
    auto text = to_json_text(t);
    INFO("trace " << i << ": " << text);
    REQUIRE(trace_json(compact) == text);
    CHECK(compact.size() < text.size());
    CHECK(check_traces(compact).empty());
    if (i < 50) {
      all_compact += compact;
      all_json += (all_json.empty() ? "[" : ",") + text;
    }
    // What resilience adds goes last, as the model service wrote it into the text.
    if (i % 7 == 0) {
      std::string r = R"({"outcome":"success","attempts":2,"events":["a: timeout"]})";
      add_resilience(compact, r);
      text.insert(text.size() - 1, ",\"resilience\":" + r);
      CHECK(trace_json(compact) == text);
    }
  }
  // A step's traces, one after another, render as the JSON array of them.
  CHECK(traces_json_array(all_compact) == all_json + "]");
}

TEST_CASE("trace codec: a plain routed trace is a few dozen bytes", "[trace]") {
  model_config m;
  m.id = "sim-bench";
  m.tier = "local";
  decision_trace t;
  t.outcome = "routed";
  t.route_source = "none";
  t.target_tier = "local";
  t.tier_source = "request";
  t.chosen_model = "sim-bench";
  t.chosen_tier = "local";
  t.complexity.prompt_tokens = 42;
  t.candidates.push_back({&m, candidate_filter::none, "", 0});
  auto compact = to_compact(t);
  INFO(to_json_text(t));
  CHECK(compact.size() <= 48);
  CHECK(to_json_text(t).size() > 200);
  CHECK(trace_json(compact) == to_json_text(t));
}

TEST_CASE("trace codec: JSON traces, resilience on nothing, and bytes that do not decode",
          "[trace]") {
  // Kept as text: rendered as is.
  auto j = json_trace(R"({"outcome":"routed","resilience":{"cache":"exact"}})");
  CHECK(trace_json(j) == R"({"outcome":"routed","resilience":{"cache":"exact"}})");
  add_resilience(j, R"({"retries":1})");
  CHECK(trace_json(j) ==
        R"({"outcome":"routed","resilience":{"cache":"exact"},"resilience":{"retries":1}})");
  // No trace (a call that ended before routing): the resilience object alone.
  std::string none;
  add_resilience(none, R"({"events":["x"]})");
  CHECK(trace_json(none) == R"({"resilience":{"events":["x"]}})");
  CHECK(trace_json("") == "");
  CHECK(traces_json_array("") == "");

  model_config m;
  m.id = "m";
  m.tier = "t";
  decision_trace t;
  t.outcome = "routed";
  t.chosen_model = "m";
  t.candidates.push_back({&m, candidate_filter::none, "", 0.25});
  auto good = to_compact(t);
  // Cut anywhere, or with an unknown tag, or a string reference past what was seen:
  // an error naming the problem, never a crash or half a trace.
  for (size_t cut = 0; cut < good.size(); ++cut) {
    auto problem = check_traces(good.substr(0, cut));
    if (cut == 0) {
      CHECK(problem.empty());  // no traces at all
      continue;
    }
    INFO("cut at " << cut);
    CHECK_FALSE(problem.empty());
  }
  CHECK_THAT(check_traces("\x07"), Catch::Contains("unknown trace format"));
  std::string bad_ref = good;
  bad_ref[2] = static_cast<char>(100);  // the outcome: a reference to nothing
  CHECK_THAT(check_traces(bad_ref), Catch::Contains("bad string reference"));
  std::string error;
  CHECK(traces_json_array(good + "\x07", &error).empty());
  CHECK_THAT(error, Catch::Contains("unknown trace format"));
}
