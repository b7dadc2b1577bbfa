#include "router/cascade.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "runtime/config.hpp"

using namespace switchyard;

TEST_CASE("cascade escalates below the threshold and always accepts the last tier", "[cascade]") {
  cascade_route_settings s;
  s.thresholds = {{"local", 0.7}, {"mid", 0.5}};
  cascade c({"local", "mid", "frontier"}, s);
  REQUIRE(*c.next_tier() == "local");
  CHECK_FALSE(c.report(0.6));
  REQUIRE(*c.next_tier() == "mid");
  CHECK_FALSE(c.report(0.49));
  REQUIRE(*c.next_tier() == "frontier");
  CHECK(c.report(0.0));
  CHECK(c.next_tier() == nullptr);
  CHECK(c.accepted_index() == 2);
  CHECK(c.escalations() == 2);

  cascade confident({"local", "mid", "frontier"}, s);
  CHECK(confident.report(0.7));  // at the threshold is enough
  CHECK(confident.accepted_index() == 0);
  CHECK(confident.escalations() == 0);
}

TEST_CASE("cascade scorers: logprobs, format checks and a judge", "[cascade]") {
  cascade_answer a;
  a.text = "The refund was issued.";
  a.finish_reason = "stop";
  a.token_logprobs = {std::log(0.9), std::log(0.8), std::log(0.7)};
  CHECK(logprob_scorer().score(a) == Approx(std::cbrt(0.9 * 0.8 * 0.7)));
  CHECK(default_scorer().score(a) == Approx(std::cbrt(0.9 * 0.8 * 0.7)));
  CHECK(format_scorer().score(a) == 1);

  cascade_answer json_asked;
  json_asked.text = "{\"refund\": tru";
  json_asked.json_expected = true;
  CHECK(format_scorer().score(json_asked) == 0);
  json_asked.text = "{\"refund\": true}";
  CHECK(format_scorer().score(json_asked) == 1);

  cascade_answer empty;
  empty.text = "  \n";
  empty.token_logprobs = {0.0};
  CHECK(default_scorer().score(empty) == 0);  // a confident empty answer is still empty
  cascade_answer cut = a;
  cut.finish_reason = "length";
  CHECK(format_scorer().score(cut) == 0);

  judge_scorer judge([](const cascade_answer& x) { return x.text.size() > 10 ? 1.7 : 0.2; });
  CHECK(judge.score(a) == 1.0);  // clamped
  CHECK(judge.score(empty) == Approx(0.2));
}

namespace {

// 100 labelled queries of route "billing" over three tiers (see the test below).
std::vector<labelled_outcome> billing_outcomes(bool with_ids) {
  std::vector<labelled_outcome> out;
  for (int q = 0; q < 100; ++q) {
    std::string id = with_ids ? "q" + std::to_string(q) : "";
    bool local_ok = q < 60;
    double local_conf = local_ok ? 0.9 : (q < 65 ? 0.95 : 0.2);  // 5 confident mistakes
    out.push_back({"billing", "local", id, local_conf, local_ok, 0.001});
    bool mid_ok = q < 90;
    out.push_back({"billing", "mid", id, mid_ok ? 0.8 : 0.4, mid_ok, 0.01});
    out.push_back({"billing", "frontier", id, 0.99, q < 98, 0.1});
  }
  return out;
}

}  // namespace

TEST_CASE("calibration picks the cheapest thresholds that reach the target quality", "[cascade]") {
  auto result = calibrate_thresholds(billing_outcomes(true), 0.9, {"local", "mid", "frontier"});
  REQUIRE(result.errors.empty());
  REQUIRE(result.routes.size() == 1);
  const auto& r = result.routes[0];
  CHECK(r.joint);
  CHECK(r.samples == 100);
  CHECK(r.target_met);
  // Accept local only when confident (65 queries, 60 right), mid when confident (25
  // right), the last 10 go to the frontier (8 right): 93 %.
  CHECK(r.thresholds.at("local") == Approx(0.9));
  CHECK(r.thresholds.at("mid") == Approx(0.8));
  CHECK(r.thresholds.count("frontier") == 0);
  CHECK(r.quality == Approx(0.93));
  CHECK(r.cost == Approx(0.001 + 0.35 * 0.01 + 0.10 * 0.1));
  CHECK(r.top_tier_quality == Approx(0.98));
  CHECK(r.top_tier_cost == Approx(0.1));

  // A lower target is met more cheaply: local answers everything at 60 % quality.
  auto low = calibrate_thresholds(billing_outcomes(true), 0.6, {"local", "mid", "frontier"});
  CHECK(low.routes[0].quality == Approx(0.6));
  CHECK(low.routes[0].cost == Approx(0.001));

  // An unreachable target is reported as such, with the best reachable quality.
  auto high = calibrate_thresholds(billing_outcomes(true), 0.99, {"local", "mid", "frontier"});
  CHECK_FALSE(high.routes[0].target_met);
  CHECK(high.routes[0].quality == Approx(0.93));
}

TEST_CASE("calibration without query ids assumes independent tiers", "[cascade]") {
  std::vector<labelled_outcome> data;
  for (int i = 0; i < 10; ++i) {
    data.push_back({"faq", "local", "", 0.9, true, 0.01});
    data.push_back({"faq", "local", "", 0.1, false, 0.01});
    data.push_back({"faq", "frontier", "", 0.5, true, 1.0});
    data.push_back({"faq", "frontier", "", 0.5, true, 1.0});
  }
  auto result = calibrate_thresholds(data, 0.95);  // tier order from cost
  REQUIRE(result.routes.size() == 1);
  const auto& r = result.routes[0];
  CHECK_FALSE(r.joint);
  CHECK(r.tiers == std::vector<std::string>{"local", "frontier"});
  CHECK(r.thresholds.at("local") == Approx(0.9));
  CHECK(r.quality == Approx(1.0));
  CHECK(r.cost == Approx(0.01 + 0.5 * 1.0));
}

TEST_CASE("calibration reports routes it cannot calibrate and bad outcome lines", "[cascade]") {
  std::vector<labelled_outcome> one_tier = {{"solo", "local", "", 0.5, true, 0.1}};
  auto r = calibrate_thresholds(one_tier, 0.9);
  REQUIRE(r.errors.size() == 1);
  CHECK_THAT(r.errors[0], Catch::Contains("route solo: needs outcomes from at least two tiers"));
  auto unknown = calibrate_thresholds(billing_outcomes(false), 0.9, {"local", "frontier"});
  CHECK_THAT(unknown.errors[0], Catch::Contains("tier 'mid' is not one of the config's tiers"));

  auto parsed = parse_outcomes_jsonl(
      "{\"route\":\"a\",\"tier\":\"local\",\"confidence\":0.5,\"correct\":true,\"cost\":0.1}\n"
      "\n"
      "{\"route\":\"a\",\"tier\":\"local\",\"confidence\":1.5,\"correct\":true,\"cost\":0.1}\n"
      "{\"route\":\"a\",\"tier\":\"local\",\"confidence\":0.5,\"correct\":\"yes\",\"cost\":0.1,"
      "\"colour\":1}\n"
      "not json\n",
      "outcomes.jsonl");
  CHECK(parsed.records.size() == 1);
  REQUIRE(parsed.errors.size() == 4);
  CHECK(parsed.errors[0] == "outcomes.jsonl:3: confidence: must be a number from 0 to 1");
  CHECK(parsed.errors[1] ==
        "outcomes.jsonl:4: colour: unknown key (expected route, tier, confidence, correct, "
        "cost, id)");
  CHECK(parsed.errors[2] == "outcomes.jsonl:4: correct: must be true or false");
  CHECK_THAT(parsed.errors[3], Catch::StartsWith("outcomes.jsonl:5: invalid JSON at byte"));
}

TEST_CASE("calibrated thresholds are written into the config and pass validation", "[cascade]") {
  const std::string text = R"({
    "tiers": ["local", "mid", "frontier"],
    "providers": [{"name": "sim", "kind": "sim"}],
    "models": [{"id": "small", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
                "price_out_per_mtok": 0, "context_window": 8192, "residency": "local"}],
    "resilience": {"cascade": {"old": {"thresholds": {"local": 0.5}},
                               "billing": {"thresholds": {"frontier": 0.1}}}}
  })";
  auto result = calibrate_thresholds(billing_outcomes(true), 0.9, {"local", "mid", "frontier"});
  std::string out, error;
  REQUIRE(write_thresholds_into_config(text, result.routes, "cfg.json", out, error));
  auto loaded = parse_config_text(out, "cfg.json");
  INFO(loaded.message());
  REQUIRE(loaded.ok());
  const auto& cascade_routes = loaded.value->resilience.cascade;
  CHECK(cascade_routes.at("old").thresholds.at("local") == 0.5);  // other routes kept
  const auto& billing = cascade_routes.at("billing").thresholds;
  CHECK(billing.size() == 2);  // replaced, not merged
  CHECK(billing.at("local") == Approx(0.9));
  CHECK(billing.at("mid") == Approx(0.8));
  // Key order of the document is kept: "tiers" still comes first.
  CHECK(out.find("\"tiers\"") < out.find("\"providers\""));

  // Thresholds for a tier the config does not have are rejected, nothing written.
  route_calibration bad;
  bad.route = "x";
  bad.tiers = {"premium", "frontier"};
  bad.thresholds = {{"premium", 0.5}};
  out.clear();
  CHECK_FALSE(write_thresholds_into_config(text, {bad}, "cfg.json", out, error));
  CHECK_THAT(error, Catch::Contains("cfg.json: resilience.cascade.x.thresholds.premium: must be "
                                    "one of the tiers"));
  CHECK(out.empty());
}
