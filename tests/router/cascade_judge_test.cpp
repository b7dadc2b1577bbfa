// The cascade's judge scorer: the pure parts (when a judge is asked, the prompt, the
// strict reading of its grade) and the judge through the model service, with sim
// stages and a stub-served judge model, so its reply is exactly what the test says.

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include "caf/all.hpp"
#include "router/cascade.hpp"
#include "router/model_service.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/messages.hpp"
#include "stub/stub_server.hpp"
#include "tests/support/model_service_calls.hpp"

namespace switchyard {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

}  // namespace

TEST_CASE("judge: grades are read strictly as one number in 0..1", "[cascade][judge]") {
  for (const auto& [text, score] : std::vector<std::pair<std::string, double>>{
           {"0.8", 0.8}, {" 1\n", 1.0}, {"0", 0.0}, {".5", 0.5}, {"1.0", 1.0}, {"0.25 ", 0.25}}) {
    INFO(text);
    auto v = parse_judge_verdict(text);
    CHECK(v.parsed);
    CHECK(v.score == Approx(score));
  }
  for (const auto& text :
       {"", "Looks good", "Score: 0.8", "8/10", "85%", "0.8.", "-0.1", "1e-1", "0,8", "."}) {
    INFO(text);
    auto v = parse_judge_verdict(text);
    CHECK_FALSE(v.parsed);
    CHECK(v.problem.find("not a number between 0 and 1") != std::string::npos);
  }
  auto over = parse_judge_verdict("1.5");
  CHECK_FALSE(over.parsed);
  CHECK(over.problem == "the judge's grade 1.5 is outside 0..1");
}

TEST_CASE("judge: the prompt template is filled in one pass", "[cascade][judge]") {
  CHECK(fill_judge_prompt("Q={question} A={answer}", "why?", "because {question}") ==
        "Q=why? A=because {question}");
  CHECK(fill_judge_prompt("{answer}{answer}", "q", "x") == "xx");
  CHECK(fill_judge_prompt("no slots {other}", "q", "a") == "no slots {other}");
}

TEST_CASE("judge: asked only when format checks pass, logprobs are missing and a stage remains",
          "[cascade][judge]") {
  cascade_answer good{"an answer", "stop", {}, false};
  CHECK(choose_scoring(good, true, false) == scoring_method::judge);
  CHECK(choose_scoring(good, true, true) == scoring_method::format);    // last stage: final
  CHECK(choose_scoring(good, false, false) == scoring_method::format);  // route has no judge
  cascade_answer with_logprobs{"an answer", "stop", {-0.1, -0.2}, false};
  CHECK(choose_scoring(with_logprobs, true, false) == scoring_method::logprobs);
  cascade_answer cut{"an ans", "length", {}, false};
  CHECK(choose_scoring(cut, true, false) == scoring_method::format);  // 0 without a call
  cascade_route_settings settings;
  settings.thresholds["local"] = 0.5;
  cascade two_stages({"local", "mid"}, settings);
  CHECK_FALSE(two_stages.at_last_tier());
  CHECK_FALSE(two_stages.report(0.2));  // escalates
  CHECK(two_stages.at_last_tier());
}

namespace {

// Tiers local < mid < frontier. The cascade of route "support" is local (threshold
// 0.7) then mid. Stages are sim models; the judge is model "grader", served by the stub
// (its reply is whatever the script says), in tier frontier so it is never a stage.
struct judge_fixture {
  std::unique_ptr<stub_server> stub;
  budget_ledger ledger;
  actor_runtime runtime{runtime_settings{"sharing", 2, "off"}};
  caf::actor service;

  explicit judge_fixture(const std::string& grader_reply, const std::string& judge_extra = "") {
    std::string error;
    auto script =
        parse_stub_script(json{{"models", {{"grader", {{"reply", grader_reply}}}}}}, error);
    INFO(error);
    REQUIRE(script);
    stub = stub_server::start(0, *script, error);
    REQUIRE(stub);
    auto loaded = parse_config_text(R"({"runtime": {"workers": 2, "log_level": "off"},
      "tiers": ["local", "mid", "frontier"],
      "providers": [{"name": "s1", "kind": "sim", "seed": 1}, {"name": "s2", "kind": "sim", "seed": 2},
        {"name": "judges", "kind": "openai", "base_url": ")" +
                                        stub->base_url() + R"(/v1", "first_byte_timeout_ms": 2000}],
      "models": [
        {"id": "local-a", "provider": "s1", "tier": "local", "price_in_per_mtok": 1,
         "price_out_per_mtok": 1, "context_window": 8192, "residency": "cloud"},
        {"id": "mid-a", "provider": "s2", "tier": "mid", "price_in_per_mtok": 2,
         "price_out_per_mtok": 2, "context_window": 8192, "residency": "cloud"},
        {"id": "grader", "provider": "judges", "tier": "frontier", "price_in_per_mtok": 3,
         "price_out_per_mtok": 3, "context_window": 8192, "residency": "local"}],
      "resilience": {"cascade": {"support": {"thresholds": {"local": 0.7},
        "judge": {"model": "grader", "prompt": "Question: {question}\nAnswer: {answer}\nGrade?")" +
                                        judge_extra + R"(}}}}})",
                                    "judge-test");
    INFO(loaded.message());
    REQUIRE(loaded.ok());
    ledger.open_thread("t1", {10000000, 100.0});
    service = spawn_model_service(runtime.system(),
                                  std::make_shared<const config>(std::move(*loaded.value)), ledger);
  }
  ~judge_fixture() { caf::anon_send_exit(service, caf::exit_reason::user_shutdown); }

  model_response ask(const std::string& text) {
    model_request req;
    req.ctx.thread_id = "t1";
    req.call_id = "c-" + text;
    req.route = "support";
    req.max_tokens = 200;
    req.messages = {{"user", text}};
    return test::call_model_service(runtime.system(), service, req, 20s);
  }

  json stats() { return test::model_service_stats(runtime.system(), service); }
};

using test::resilience_of;

}  // namespace

TEST_CASE("judge: a high grade accepts the cheap stage; the judge is paid and in the trace",
          "[cascade][judge][model_service][http]") {
  judge_fixture f{"0.9"};
  auto r = f.ask("how do refunds work");
  INFO(r.error.message);
  REQUIRE(r.ok());
  CHECK(r.usage.model_id == "local-a");
  auto stages = resilience_of(r)["cascade"];
  REQUIRE(stages.size() == 1);
  CHECK(stages[0]["scored_by"] == "judge");
  CHECK(stages[0]["confidence"] == 0.9);
  CHECK(stages[0]["accepted"] == true);
  CHECK(stages[0]["judge"]["model"] == "grader");
  CHECK(stages[0]["judge"]["grade"] == 0.9);
  // The judge saw the question and the stage's answer through the template.
  auto requests = f.stub->requests();
  REQUIRE(requests.size() == 1);
  auto body = json::parse(requests[0].body);
  CHECK(body["model"] == "grader");
  std::string prompt = body["messages"][0]["content"];
  CHECK(prompt.rfind("Question: how do refunds work\nAnswer: ", 0) == 0);
  CHECK(prompt.size() > std::string("Question: how do refunds work\nAnswer: \nGrade?").size());
  CHECK(body["max_tokens"] == 8);
  // Paid: two calls on the thread's ledger (stage and judge), and the usage adds both.
  auto usage = f.ledger.usage("t1");
  CHECK(usage.settled_calls == 2);
  CHECK(usage.spent_usd == Approx(r.usage.cost_usd));
  CHECK(usage.spent_tokens == r.usage.input_tokens + r.usage.output_tokens);
  CHECK(stages[0]["judge"]["cost_usd"].get<double>() > 0);
  CHECK(f.stats()["judge"]["calls"] == 1);
}

TEST_CASE("judge: a low grade escalates; the last stage is final without a judge",
          "[cascade][judge][model_service][http]") {
  judge_fixture f{"0.3"};
  auto r = f.ask("explain the refund policy");
  INFO(r.error.message);
  REQUIRE(r.ok());
  CHECK(r.usage.model_id == "mid-a");
  auto stages = resilience_of(r)["cascade"];
  REQUIRE(stages.size() == 2);
  CHECK(stages[0]["scored_by"] == "judge");
  CHECK(stages[0]["accepted"] == false);
  CHECK(stages[0]["confidence"] == 0.3);
  CHECK(stages[1]["tier"] == "mid");
  CHECK(stages[1]["scored_by"] == "format");
  CHECK(stages[1]["accepted"] == true);
  CHECK(f.stub->requests().size() == 1);  // one judge call: the mid stage is not judged
  auto usage = f.ledger.usage("t1");
  CHECK(usage.settled_calls == 3);
  CHECK(usage.spent_usd == Approx(r.usage.cost_usd));
}

TEST_CASE("judge: an unreadable grade is low confidence and the trace says why",
          "[cascade][judge][model_service][http]") {
  judge_fixture f{"Looks good to me"};
  auto r = f.ask("what is the warranty");
  INFO(r.error.message);
  REQUIRE(r.ok());
  CHECK(r.usage.model_id == "mid-a");
  auto res = resilience_of(r);
  auto stages = res["cascade"];
  REQUIRE(stages.size() == 2);
  CHECK(stages[0]["confidence"] == 0.0);
  CHECK(stages[0]["judge"]["unparseable"] ==
        "the judge's reply is not a number between 0 and 1: \"Looks good to me\"");
  CHECK(res["events"].dump().find("judge grader: the judge's reply is not a number") !=
        std::string::npos);
  CHECK(f.stats()["judge"]["failures"] == 1);
}

TEST_CASE("judge: a failed judge call is low confidence, not a failed request",
          "[cascade][judge][model_service][http]") {
  judge_fixture f{"0.9"};
  std::string error;
  auto script = parse_stub_script(
      json::parse(R"({"models": {"grader": {"sequence": [{"behaviour": "bad_request"}]}}})"),
      error);
  REQUIRE(script);
  f.stub->set_script(*script);
  auto r = f.ask("is shipping free");
  INFO(r.error.message);
  REQUIRE(r.ok());
  CHECK(r.usage.model_id == "mid-a");
  auto stages = resilience_of(r)["cascade"];
  REQUIRE(stages.size() == 2);
  CHECK(stages[0]["confidence"] == 0.0);
  CHECK(stages[0]["judge"]["error"].get<std::string>().rfind("bad_request", 0) == 0);
}

}  // namespace switchyard

namespace switchyard {

TEST_CASE("judge: calibrate fits thresholds on judge grades and judge-inclusive costs",
          "[cascade][judge][calibrate]") {
  // Judge grades are coarse (a few values) and an unreadable grade is 0; the cost of
  // a judged stage includes its judge call (stage cost_usd + judge.cost_usd from the
  // trace), the last stage has no judge. Local answers graded 0.9 are right, 0.3 and 0
  // are mixed or wrong; mid is always right.
  std::string jsonl;
  auto line = [&](int id, const std::string& tier, double conf, bool correct, double cost) {
    jsonl += json{{"route", "support"}, {"tier", tier},       {"id", id},
                  {"confidence", conf}, {"correct", correct}, {"cost", cost}}
                 .dump() +
             "\n";
  };
  const double local_cost = 0.0001 + 0.00002;  // stage + judge
  for (int i = 0; i < 6; ++i) line(i, "local", 0.9, true, local_cost);
  line(6, "local", 0.3, true, local_cost);
  line(7, "local", 0.3, false, local_cost);
  line(8, "local", 0.0, false, local_cost);  // the judge's reply was unreadable
  line(9, "local", 0.0, false, 0.0001);      // format checks failed: no judge call
  for (int i = 0; i < 10; ++i) line(i, "mid", 1.0, true, 0.001);
  auto loaded = parse_outcomes_jsonl(jsonl, "judged.jsonl");
  REQUIRE(loaded.errors.empty());
  auto result = calibrate_thresholds(loaded.records, 1.0, {"local", "mid"});
  REQUIRE(result.errors.empty());
  REQUIRE(result.routes.size() == 1);
  const auto& r = result.routes[0];
  CHECK(r.joint);
  CHECK(r.target_met);
  CHECK(r.thresholds.at("local") == Approx(0.9));
  CHECK(r.quality == Approx(1.0));
  // 6 queries stop at local; 4 pay local (with or without the judge) and mid.
  double expected = (10 * local_cost - 0.00002 + 4 * 0.001) / 10;
  CHECK(r.cost == Approx(expected));
}

}  // namespace switchyard
