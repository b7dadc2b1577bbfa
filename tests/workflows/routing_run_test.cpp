// The routing policy seen from a run: a model agent that names no tier is routed by the
// config's rules, and the decision lands in the transcript and its JSON form.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "agents/model_agent.hpp"
#include "runtime/checkpoint_store.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/logging.hpp"
#include "runtime/run_result_json.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_config.hpp"
#include "workflows/engine.hpp"
#include "runtime/trace_codec.hpp"

using namespace switchyard;

namespace {

const char* models = R"([
  {"id": "local-a", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
   "price_out_per_mtok": 0, "context_window": 8192, "residency": "local"},
  {"id": "frontier-a", "provider": "sim", "tier": "frontier", "price_in_per_mtok": 3,
   "price_out_per_mtok": 15, "context_window": 200000, "residency": "cloud"}
])";

const char* router = R"("router": {
  "routes": [{"name": "chat", "tier": "local", "examples": ["hello"]},
             {"name": "dispute", "tier": "frontier", "examples": ["I dispute this"]}],
  "default_route": "chat",
  "rules": [{"name": "ssn", "regex": "\\b\\d{3}-\\d{2}-\\d{4}\\b", "data_class": "pii"},
            {"name": "legal", "keywords": ["lawyer"], "route": "dispute"}]
})";

}  // namespace

TEST_CASE("routing in a run: rules pick the route, sensitive data stays local, the trace is kept",
          "[run][policy]") {
  auto cfg = testing::make_config(models, router);
  set_log_level("off");
  graph_builder g{"desk"};
  g.agent("answer", model_agent({"You answer.", "", "", 64, {}}));
  workflow_registry registry;
  REQUIRE(registry.add(g, "test").empty());
  actor_runtime rt{cfg->runtime};
  engine eng{rt.system(), cfg, registry};

  auto legal = eng.run({"desk", "My lawyer says you owe me", "", ""});
  REQUIRE(legal.status == run_status::completed);
  REQUIRE(legal.steps.size() == 1);
  CHECK(legal.steps[0].model == "frontier-a");
  CHECK(legal.steps[0].route == "dispute");

  auto pii = eng.run({"desk", "My lawyer needs my SSN 123-45-6789 on file", "", ""});
  REQUIRE(pii.status == run_status::completed);
  CHECK(pii.steps[0].model == "local-a");
  CHECK(pii.steps[0].downgraded);
  auto j = to_json(pii);
  const auto& trace = j["steps"][0]["decisions"][0];
  CHECK(trace["route"] == "dispute");
  CHECK(trace["data_class"]["source"] == "rule:ssn");
  CHECK(trace["candidates"][1]["verdict"] == "compliance");
  CHECK(j["steps"][0]["downgraded"] == true);
}

TEST_CASE("routing in a durable run: each step's record keeps its route and decision traces",
          "[run][policy][durable]") {
  auto cfg = testing::make_config(models, router);
  set_log_level("off");
  graph_builder g{"desk"};
  g.agent("answer", model_agent({"You answer.", "", "", 64, {}}));
  workflow_registry registry;
  REQUIRE(registry.add(g, "test").empty());
  testing::temp_dir dir{"routed"};
  auto opened = checkpoint_store::open({dir.path() + "/db"});
  REQUIRE(opened.ok());
  std::shared_ptr<checkpoint_store> store{std::move(opened.store)};
  actor_runtime rt{cfg->runtime};
  engine eng{rt.system(), cfg, registry, store};

  // Two runs: the second run's trace is held packed against the first one's.
  for (const char* input : {"hello there", "My lawyer says you owe me"}) {
    auto r = eng.run({"desk", input, "", ""});
    REQUIRE(r.status == run_status::completed);
    REQUIRE(r.steps.size() == 1);
    auto steps = store->steps(r.run_id);
    REQUIRE(steps.size() == 1);
    CHECK(steps[0].route == r.steps[0].route);
    REQUIRE_FALSE(steps[0].decisions.empty());
    CHECK(steps[0].decisions == r.steps[0].decisions);
    CHECK(nlohmann::json::parse(traces_json_array(steps[0].decisions.bytes)) ==
          nlohmann::json::parse(traces_json_array(r.steps[0].decisions.bytes)));
  }
  auto legal = store->steps(eng.run({"desk", "my lawyer again", "", ""}).run_id);
  REQUIRE(legal.size() == 1);
  CHECK(legal[0].route == "dispute");
  CHECK(nlohmann::json::parse(traces_json_array(legal[0].decisions.bytes))[0]["route"] ==
        "dispute");
}
