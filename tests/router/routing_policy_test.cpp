#include "router/routing_policy.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "router/token_estimate.hpp"
#include "runtime/trace_codec.hpp"
#include "tests/support/test_config.hpp"

using namespace switchyard;

namespace {

// Two models per tier, with different providers and residencies, so every filter has
// something to remove and something to keep.
const char* catalog = R"([
  {"id": "local-small", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
   "price_out_per_mtok": 0, "context_window": 4096, "residency": "local"},
  {"id": "local-pricier", "provider": "sim", "tier": "local", "price_in_per_mtok": 0.1,
   "price_out_per_mtok": 0.1, "context_window": 4096, "residency": "local"},
  {"id": "mid-private", "provider": "sim", "tier": "mid", "price_in_per_mtok": 0.6,
   "price_out_per_mtok": 1.2, "context_window": 32000, "residency": "private"},
  {"id": "mid-cloud", "provider": "sim", "tier": "mid", "price_in_per_mtok": 0.5,
   "price_out_per_mtok": 1.0, "context_window": 32000, "residency": "cloud",
   "capabilities": ["tools", "json_mode"]},
  {"id": "frontier-cloud", "provider": "sim", "tier": "frontier", "price_in_per_mtok": 3,
   "price_out_per_mtok": 15, "context_window": 200000, "residency": "cloud",
   "capabilities": ["tools", "vision", "json_mode"]}
])";

const char* router_section = R"("router": {
  "routes": [
    {"name": "faq", "tier": "local", "examples": ["what are your opening hours"]},
    {"name": "billing", "tier": "mid", "examples": ["why was I charged twice"]},
    {"name": "dispute", "tier": "frontier", "examples": ["I want to dispute this charge"]}
  ],
  "default_route": "faq",
  "threshold": 0.5,
  "rules": [
    {"name": "ssn", "regex": "\\b\\d{3}-\\d{2}-\\d{4}\\b", "data_class": "pii"},
    {"name": "legal", "keywords": ["lawyer", "lawsuit"], "route": "dispute"},
    {"name": "vip", "metadata": {"user_tier": "enterprise"}, "tier": "frontier"}
  ]
})";

// A classifier that answers what the test tells it to.
class scripted_classifier final : public route_classifier {
 public:
  route_guess answer;
  mutable int calls = 0;
  route_guess classify(std::string_view) const override {
    ++calls;
    return answer;
  }
};

// Health and latency set per model id by the test.
class scripted_health final : public model_health {
 public:
  std::set<std::string> down;
  std::map<std::string, double> latency;
  bool healthy(const model_config& m) const override { return down.count(m.id) == 0; }
  double observed_latency_ms(const model_config& m) const override {
    auto it = latency.find(m.id);
    return it == latency.end() ? -1 : it->second;
  }
};

struct fixture {
  std::shared_ptr<const config> cfg = testing::make_config(catalog, router_section);
  std::shared_ptr<scripted_classifier> classifier = std::make_shared<scripted_classifier>();
  routing_policy policy{cfg, classifier};
  scripted_health health;

  routing_decision decide(const model_request& req, budget_note budget = {}) {
    routing_input in{req, latest_user_text(req.messages), estimate_prompt_tokens(req.messages),
                     budget};
    auto d = policy.decide(in, health);
    // Every decision here also checks that its compact form renders the same text.
    CHECK(trace_json(to_compact(d.trace)) == to_json_text(d.trace));
    return d;
  }
};

model_request ask(const std::string& text, uint32_t max_tokens = 256) {
  model_request req;
  req.messages = {{"system", "You help customers."}, {"user", text}};
  req.max_tokens = max_tokens;
  return req;
}

route_guess guess(std::string route, double confidence) {
  route_guess g;
  g.route = std::move(route);
  g.confidence = confidence;
  g.runner_up = "faq";
  g.runner_up_confidence = 1 - confidence;
  g.top = {{g.route, confidence}, {"faq", 1 - confidence}};
  return g;
}

const candidate_note& note_for(const routing_decision& d, const std::string& model) {
  for (const auto& c : d.trace.candidates)
    if (c.model->id == model) return c;
  FAIL("no candidate note for " << model);
  return d.trace.candidates.front();
}

}  // namespace

TEST_CASE("policy: the classifier's route picks the tier, the cheapest model in it wins",
          "[policy]") {
  fixture f;
  f.classifier->answer = guess("billing", 0.9);
  auto d = f.decide(ask("I was billed two times this month"));
  REQUIRE(d.outcome == routing_outcome::routed);
  CHECK(d.model->id == "mid-cloud");  // cheaper than mid-private
  CHECK(d.route == "billing");
  CHECK_FALSE(d.downgraded);
  CHECK(d.trace.route_source == "classifier");
  CHECK(d.trace.target_tier == "mid");
  CHECK(d.trace.classifier.used);
  CHECK(d.trace.classifier.runner_up == "faq");
}

TEST_CASE("policy: below the threshold the default route applies", "[policy]") {
  fixture f;
  f.classifier->answer = guess("dispute", 0.3);
  auto d = f.decide(ask("hmm"));
  REQUIRE(d.outcome == routing_outcome::routed);
  CHECK(d.route == "faq");
  CHECK(d.trace.route_source == "default");
  CHECK(d.model->tier == "local");
  // The trace still shows what the classifier thought and the threshold it missed.
  CHECK(d.trace.classifier.route == "dispute");
  CHECK(d.trace.classifier.confidence == Approx(0.3));
  CHECK(d.trace.classifier.threshold == Approx(0.5));
}

TEST_CASE("policy: a pinned model or a tier hint wins and skips the classifier", "[policy]") {
  fixture f;
  f.classifier->answer = guess("dispute", 0.99);
  auto req = ask("hello");
  req.model = "local-pricier";
  auto d = f.decide(req);
  REQUIRE(d.outcome == routing_outcome::routed);
  CHECK(d.model->id == "local-pricier");
  CHECK(d.trace.tier_source == "model_pin");
  req.model.clear();
  req.tier = "frontier";
  d = f.decide(req);
  CHECK(d.model->id == "frontier-cloud");
  CHECK(d.trace.tier_source == "request");
  CHECK(f.classifier->calls == 0);
  req.tier = "ultra";
  d = f.decide(req);
  CHECK(d.outcome == routing_outcome::no_model);
  CHECK(d.message == "no tier 'ultra' in the catalog");
  req.tier.clear();
  req.model = "gpt-9";
  CHECK(f.decide(req).message == "no model 'gpt-9' in the catalog");
}

TEST_CASE("policy: rules fire before the classifier, first effect wins", "[policy][rules]") {
  fixture f;
  f.classifier->answer = guess("faq", 0.99);
  auto d = f.decide(ask("My LAWYER will call you about this"));
  CHECK(d.route == "dispute");
  CHECK(d.trace.route_source == "rule:legal");
  CHECK(d.model->id == "frontier-cloud");
  CHECK(f.classifier->calls == 0);
  // "lawsuits" is not the keyword "lawsuit": whole words only.
  d = f.decide(ask("no lawsuits here"));
  CHECK(d.trace.route_source == "classifier");
  // Metadata rule: enterprise users get the frontier tier.
  auto req = ask("what are your opening hours");
  req.metadata["user_tier"] = "enterprise";
  d = f.decide(req);
  CHECK(d.trace.tier_source == "rule:vip");
  CHECK(d.model->tier == "frontier");
  CHECK(d.trace.rules_fired == std::vector<std::string>{"vip"});
}

TEST_CASE(
    "policy: a social security number never reaches a cloud model, even when the classifier "
    "says frontier and the local tier is down",
    "[policy][compliance]") {
  fixture f;
  f.classifier->answer = guess("dispute", 0.99);
  auto req = ask("I dispute this charge, my SSN is 123-45-6789");
  auto d = f.decide(req);
  REQUIRE(d.outcome == routing_outcome::routed);
  CHECK(d.trace.data_class == "pii");
  CHECK(d.trace.data_class_source == "rule:ssn");
  CHECK(d.model->id == "mid-private");  // the only non-cloud model above local
  CHECK(d.downgraded);
  CHECK(note_for(d, "frontier-cloud").filtered_by == candidate_filter::compliance);
  CHECK(note_for(d, "mid-cloud").filtered_by == candidate_filter::compliance);

  // Every local and private model down: the call waits, it does not leak.
  f.health.down = {"local-small", "local-pricier", "mid-private"};
  d = f.decide(req);
  CHECK(d.outcome == routing_outcome::blocked);
  CHECK(d.model == nullptr);
  CHECK(d.message.find("waiting for provider 'sim'") != std::string::npos);

  // Declared by the caller, the same holds without any rule firing.
  auto declared = ask("my medical history is attached");
  declared.data_class = "health";
  d = f.decide(declared);
  CHECK(d.outcome == routing_outcome::blocked);
  for (const auto& c : d.trace.candidates) CHECK(c.model->id != d.trace.chosen_model);
}

TEST_CASE("policy: the context window filter moves a long prompt up a tier", "[policy]") {
  fixture f;
  f.classifier->answer = guess("faq", 0.9);
  std::string long_text(4 * 5000, 'a');  // about 5,000 tokens: over the local window
  auto d = f.decide(ask(long_text));
  REQUIRE(d.outcome == routing_outcome::routed);
  CHECK(d.model->tier != "local");
  CHECK(note_for(d, "local-small").filtered_by == candidate_filter::context_window);
  CHECK(note_for(d, "local-small").detail.find("window 4096") != std::string::npos);
  // The whole catalog too small: no model, and the reason says so.
  auto huge = ask(std::string(4 * 250000, 'a'));
  d = f.decide(huge);
  CHECK(d.outcome == routing_outcome::no_model);
}

TEST_CASE("policy: a tier the thread cannot afford is skipped, flagged as a downgrade",
          "[policy][budget]") {
  fixture f;
  f.classifier->answer = guess("dispute", 0.95);
  auto req = ask("I want to dispute this charge", 1000);
  budget_note budget;
  budget.usd_limited = true;
  budget.usd_left = 0.002;  // frontier's worst case is ~$0.015, mid's ~$0.001
  auto d = f.decide(req, budget);
  REQUIRE(d.outcome == routing_outcome::routed);
  CHECK(d.model->tier == "mid");
  CHECK(d.downgraded);
  CHECK(d.trace.note.find("downgraded from frontier: budget") != std::string::npos);
  CHECK(note_for(d, "frontier-cloud").filtered_by == candidate_filter::budget);

  budget.usd_left = 0;
  budget.tokens_limited = true;
  budget.tokens_left = 10;
  d = f.decide(req, budget);
  CHECK(d.outcome == routing_outcome::budget_exhausted);
}

TEST_CASE("policy: required capabilities and latency classes filter candidates", "[policy]") {
  fixture f;
  f.classifier->answer = guess("faq", 0.9);
  auto req = ask("call the lookup tool");
  req.capabilities = {"tools"};
  auto d = f.decide(req);
  CHECK(d.model->id == "mid-cloud");  // the cheapest model with tools
  CHECK(note_for(d, "local-small").filtered_by == candidate_filter::capability);
  CHECK_FALSE(d.downgraded);  // raised, not lowered

  auto realtime = ask("quick one");
  realtime.latency_class = "realtime";
  f.health.latency["local-small"] = 5000;  // too slow for realtime (2,000 ms default)
  d = f.decide(realtime);
  CHECK(d.model->id == "local-pricier");
  CHECK(note_for(d, "local-small").filtered_by == candidate_filter::latency);
  realtime.latency_class = "batch";  // batch tolerates anything by default
  CHECK(f.decide(realtime).model->id == "local-small");
}

TEST_CASE("policy: equal prices are decided by observed latency", "[policy]") {
  auto cfg = testing::make_config(R"([
    {"id": "a", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
     "price_out_per_mtok": 0, "context_window": 4096, "residency": "local"},
    {"id": "b", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
     "price_out_per_mtok": 0, "context_window": 4096, "residency": "local"}])");
  routing_policy policy{cfg};
  scripted_health health;
  auto req = ask("hi");
  routing_input in{req, latest_user_text(req.messages), 10, {}};
  CHECK(policy.decide(in, health).model->id == "a");  // unknown latency: catalog order
  health.latency = {{"a", 80}, {"b", 20}};
  CHECK(policy.decide(in, health).model->id == "b");
}

TEST_CASE("policy: code and multi-part questions raise the tier above the route's",
          "[policy][complexity]") {
  fixture f;
  f.classifier->answer = guess("faq", 0.9);
  auto d = f.decide(ask("Why does this fail?\n```\nint main() { return 1; }\n```"));
  CHECK(d.trace.complexity.has_code);
  CHECK(d.trace.target_tier == "mid");
  CHECK(d.trace.tier_source == "route+complexity");
  d = f.decide(ask("Where is my order? Can I change it? And how do refunds work?"));
  CHECK(d.trace.complexity.parts == 3);
  CHECK(d.trace.target_tier == "mid");
  d = f.decide(ask("Where is my order?"));
  CHECK(d.trace.target_tier == "local");
}

TEST_CASE("policy: the trace is JSON a user can read", "[policy][trace]") {
  fixture f;
  f.classifier->answer = guess("billing", 0.8);
  auto d = f.decide(ask("charged twice"));
  auto j = to_json(d.trace);
  CHECK(j["outcome"] == "routed");
  CHECK(j["route"] == "billing");
  CHECK(j["classifier"]["confidence"].get<double>() == Approx(0.8));
  // The chosen model and the filtered ones in full, the merely eligible by name.
  REQUIRE(j["candidates"].size() == 1);
  CHECK(j["candidates"][0]["model"] == "mid-cloud");
  CHECK(j["candidates"][0]["verdict"] == "chosen");
  CHECK(j["also_eligible"] == 4);
  CHECK_FALSE(j.contains("budget"));  // unlimited: nothing to say
  CHECK_FALSE(j.contains("downgraded"));
  budget_note budget;
  budget.usd_limited = true;
  budget.usd_left = 0.25;
  j = to_json(f.decide(ask("charged twice"), budget).trace);
  CHECK(j["budget"]["usd_left"].get<double>() == Approx(0.25));
  CHECK_FALSE(j["budget"].contains("tokens_left"));
}

TEST_CASE("policy: trace text escapes what users typed", "[policy][trace]") {
  decision_trace t;
  t.outcome = "no_model";
  t.note = "quote \" backslash \\ newline \n tab \t";
  t.rules_fired = {"r\"1"};
  auto j = nlohmann::json::parse(to_json_text(t));
  CHECK(j["note"] == t.note);
  CHECK(j["rules_fired"][0] == "r\"1");
}

TEST_CASE("trace json: strings of every length escape what JSON needs, wherever it sits",
          "[policy]") {
  // The writer checks short strings eight bytes at a time: put each special byte at
  // every position of strings around those boundaries, and past the short-string limit.
  const std::vector<std::string> specials = {
      "\"", "\\", "\n", std::string(1, '\x01'), "\x1f", "\xc3\xa9", "\xff", "~", " "};
  for (size_t len : {1u, 7u, 8u, 9u, 15u, 16u, 17u, 61u, 62u, 63u, 64u, 70u}) {
    for (const auto& special : specials) {
      for (size_t at = 0; at + special.size() <= len; at += (len > 20 ? 7 : 1)) {
        std::string value(len, 'a');
        value.replace(at, special.size(), special);
        decision_trace t;
        t.outcome = "routed";
        t.route = value;
        auto text = to_json_text(t);
        auto j = nlohmann::json::parse(text, nullptr, false);
        INFO("len " << len << " at " << at << ": " << text);
        REQUIRE_FALSE(j.is_discarded());
        if (special == "\xff")  // invalid UTF-8: one U+FFFD
          CHECK(j["route"] == std::string(value).replace(at, 1, "\xef\xbf\xbd"));
        else
          CHECK(j["route"] == value);
      }
    }
  }
}

TEST_CASE("complexity: code and parts detection", "[complexity]") {
  CHECK(looks_like_code("```python\nprint(1)\n```"));
  CHECK(looks_like_code("x = compute();\nreturn x;"));
  CHECK_FALSE(looks_like_code("Hello; I have a question about my order."));
  CHECK(count_parts("a? b?? c?") == 3);
  CHECK(count_parts("Please:\n1. cancel\n2. refund\n3) email me") == 3);
  CHECK(count_parts("no questions") == 0);
}

TEST_CASE("complexity: the estimate's signals are looks_like_code's and count_parts'",
          "[complexity]") {
  // estimate_complexity walks the lines once for both signals.
  const std::vector<std::string> texts = {
      "",
      "Where is my order? It was due on Monday.",
      "```python\nprint(1)\n```\n1. a\n2. b\n3. c",
      "x = compute();\nreturn x;\n- one\n- two\n- three",
      "  const a = 1;\r\n\t}\n",
      "Please:\n1. cancel\n2. refund\n3) email me? and? this?",
      "one line; only {",
      "\n\n- \n* x\n10. y\n1000. z\n",
  };
  complexity_settings settings;
  for (const auto& text : texts) {
    INFO(text);
    auto x = estimate_complexity(text, 10, settings);
    CHECK(x.has_code == looks_like_code(text));
    CHECK(x.parts == count_parts(text));
  }
}

TEST_CASE("rules: whole-word keywords, case-insensitive regex", "[rules]") {
  CHECK(contains_word("a refund?", "refund"));
  CHECK_FALSE(contains_word("refunded", "refund"));
  CHECK(contains_word("need a human agent", "human agent"));
  routing_rule r;
  r.name = "card";
  r.regex = "card ending \\d{4}";
  r.route = "billing";
  routing_rules rules({r});
  CHECK(rules.evaluate("My CARD ENDING 1234 was declined", {}).route == "billing");
  CHECK(rules.evaluate("my card was declined", {}).fired.empty());
  routing_rule bad = r;
  bad.regex = "(unclosed";
  CHECK_THROWS_WITH(routing_rules({bad}), Catch::Contains("router rule 'card'"));
}
