// Runs of real graphs on the actor runtime with the sim provider.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>

#include "agents/function_agent.hpp"
#include "agents/model_agent.hpp"
#include "caf/all.hpp"
#include "examples/builtin_workflows.hpp"
#include "examples/loop/loop_workflow.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/logging.hpp"
#include "tests/support/test_config.hpp"
#include "workflows/engine.hpp"

using namespace switchyard;
using switchyard::testing::basic_models;
using switchyard::testing::make_config;

namespace {

// An actor runtime and an engine over `registry`, torn down in the right order.
struct harness {
  std::shared_ptr<const config> cfg;
  actor_runtime runtime;
  engine eng;

  harness(std::shared_ptr<const config> c, const workflow_registry& registry)
      : cfg(c), runtime(c->runtime), eng(runtime.system(), c, registry) {
    set_log_level(cfg->runtime.log_level);
    auto problems = engine::check(*cfg, registry);
    INFO((problems.empty() ? std::string{} : problems.front()));
    REQUIRE(problems.empty());
  }
};

agent_factory append(std::string suffix) {
  return function_agent([suffix](const step_request& r) {
    return step_reply{r.input + suffix, {}, {}, {}};
  });
}

workflow_registry registry_with(const graph_builder& g) {
  workflow_registry registry;
  auto problem = registry.add(g, "test");
  INFO(problem);
  REQUIRE(problem.empty());
  return registry;
}

}  // namespace

TEST_CASE("run: a linear graph passes each output to the next agent", "[run]") {
  graph_builder g{"line"};
  g.agent("a", append("-a")).agent("b", append("-b")).agent("c", append("-c"));
  g.edge("a", "b").edge("b", "c");
  harness h{make_config(basic_models), registry_with(g)};
  auto r = h.eng.run({"line", "x", "", ""});
  CHECK(r.status == run_status::completed);
  CHECK(r.output == "x-a-b-c");
  CHECK(r.hops == 2);
  REQUIRE(r.steps.size() == 3);
  CHECK(r.steps[0].agent == "a");
  CHECK(r.steps[2].agent == "c");
  CHECK(r.steps[2].hops == 2);
  CHECK_FALSE(r.run_id.empty());
  CHECK_FALSE(r.thread_id.empty());
}

TEST_CASE("run: the hello graph sends questions to the mid tier and the rest to local", "[run]") {
  workflow_registry registry;
  REQUIRE(examples::register_builtin_workflows(registry).empty());
  harness h{make_config(basic_models), registry};

  auto question = h.eng.run({"hello", "Where is my parcel?", "", ""});
  REQUIRE(question.status == run_status::completed);
  REQUIRE(question.steps.size() == 2);
  CHECK(question.steps[0].label == "question");
  CHECK(question.steps[1].agent == "answerer");
  CHECK(question.steps[1].tier == "mid");
  CHECK(question.steps[1].model == "mid-a");
  CHECK_THAT(question.output, Catch::StartsWith("[sim mid-a]"));
  CHECK(question.cost_usd > 0);
  CHECK(question.input_tokens == question.steps[1].input_tokens);

  auto thanks = h.eng.run({"hello", "Thanks, all sorted.", "", ""});
  REQUIRE(thanks.status == run_status::completed);
  CHECK(thanks.steps[1].agent == "acknowledger");
  CHECK(thanks.steps[1].tier == "local");
  CHECK(thanks.cost_usd == 0);
}

TEST_CASE("run: the loop ends escalated with hop_limit at exactly the configured depth", "[run]") {
  auto max_hops = GENERATE(1u, 3u, 8u);
  workflow_registry registry;
  REQUIRE(examples::register_builtin_workflows(registry).empty());
  auto cfg = make_config(
      basic_models, R"("workflows": {"loop": {"max_hops": )" + std::to_string(max_hops) + "}}");
  harness h{cfg, registry};
  auto r = h.eng.run({"loop", "hi", "", ""});
  CHECK(r.status == run_status::escalated);
  CHECK(r.reason == "hop_limit");
  CHECK(r.hops == max_hops);
  // The entry step plus one call per admitted hop; the refused call starts no step.
  REQUIRE(r.steps.size() == max_hops + 1);
  CHECK(r.steps.back().hops == max_hops);  // a step carries the hops made to reach it
  CHECK(r.steps.back().kind == step_kind::call);
  CHECK(r.has_handoff);
  CHECK(r.handoff.reason == "hop_limit");
  CHECK_THAT(r.detail, Catch::Contains("max_hops = " + std::to_string(max_hops)));
}

TEST_CASE("run: a cycle of edges is stopped at max_hops too", "[run]") {
  graph_builder g{"cycle"};
  g.agent("a", append("a")).agent("b", append("b")).edge("a", "b").edge("b", "a");
  harness h{make_config(basic_models, R"("supervisor": {"max_hops": 5})"), registry_with(g)};
  auto r = h.eng.run({"cycle", "", "", ""});
  CHECK(r.status == run_status::escalated);
  CHECK(r.reason == "hop_limit");
  CHECK(r.hops == 5);
  CHECK(r.steps.size() == 6);
  CHECK(r.handoff.last_output == "ababab");
}

TEST_CASE("run: an escalation agent writes the final output of an escalated run", "[run]") {
  graph_builder g{"guarded"};
  g.agent("ping", examples::relay_agent("pong"))
      .agent("pong", examples::relay_agent("ping"))
      .agent("safety", function_agent([](const step_request& r) {
               return step_reply{"A person will take over. (" + r.input + ")", {}, {}, {}};
             }))
      .calls("ping", "pong")
      .calls("pong", "ping")
      .escalation_agent("safety");
  auto cfg = make_config(basic_models, R"("workflows": {"guarded": {"max_hops": 4,
      "escalation": {"target": "agent", "agent": "safety"}}})");
  harness h{cfg, registry_with(g)};
  auto r = h.eng.run({"guarded", "hi", "", ""});
  CHECK(r.status == run_status::escalated);
  CHECK(r.reason == "hop_limit");
  CHECK_THAT(r.output,
             Catch::StartsWith("A person will take over.") && Catch::Contains("hop_limit"));
  CHECK_FALSE(r.has_handoff);
  CHECK(r.steps.back().agent == "safety");
  CHECK(r.steps.back().kind == step_kind::escalation);
  CHECK(r.hops == 4);
}

TEST_CASE("run: an escalation agent the graph does not declare is a config problem", "[run]") {
  workflow_registry registry;
  REQUIRE(examples::register_builtin_workflows(registry).empty());
  auto cfg = make_config(basic_models, R"("workflows": {"loop": {
      "escalation": {"target": "agent", "agent": "ping"}}}, "supervisor": {"max_hops": 3})");
  auto problems = engine::check(*cfg, registry);
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Catch::Contains("escalation agent 'ping' is not declared"));
}

TEST_CASE("run: config settings for unknown workflows or agents are reported", "[run]") {
  workflow_registry registry;
  REQUIRE(examples::register_builtin_workflows(registry).empty());
  auto cfg = make_config(basic_models, R"("workflows": {"helo": {},
      "hello": {"agents": {"answerr": {"tier": "mid"}}}})");
  auto problems = engine::check(*cfg, registry);
  REQUIRE(problems.size() == 2);
  CHECK_THAT(problems[0] + problems[1],
             Catch::Contains("workflows.helo: no workflow registered") &&
                 Catch::Contains("workflows.hello.agents.answerr: workflow 'hello' has no such "
                                 "agent"));
}

TEST_CASE("run: the hop limit writes a handoff record to the configured file", "[run]") {
  auto path = std::string{"/tmp/switchyard-handoff-test-"} + std::to_string(::getpid()) + ".jsonl";
  std::remove(path.c_str());
  workflow_registry registry;
  REQUIRE(examples::register_builtin_workflows(registry).empty());
  auto cfg = make_config(basic_models, R"("supervisor": {"max_hops": 2,
      "escalation": {"target": "handoff", "handoff_file": ")" +
                                           path + R"("}})");
  harness h{cfg, registry};
  auto r = h.eng.run({"loop", "hi", "thread-9", ""});
  REQUIRE(r.status == run_status::escalated);
  std::ifstream in{path};
  std::string line;
  REQUIRE(std::getline(in, line));
  auto doc = nlohmann::json::parse(line);
  CHECK(doc["run_id"] == r.run_id);
  CHECK(doc["thread_id"] == "thread-9");
  CHECK(doc["reason"] == "hop_limit");
  CHECK(doc["workflow"] == "loop");
  std::remove(path.c_str());
}

TEST_CASE("run: an agent may only call the agents its graph declares", "[run]") {
  graph_builder g{"rogue"};
  g.agent("a", examples::relay_agent("b")).agent("b", append("!"));
  g.edge("a", "b");  // b is reachable, but a never declared that it calls b
  harness h{make_config(basic_models), registry_with(g)};
  auto r = h.eng.run({"rogue", "hi", "", ""});
  CHECK(r.status == run_status::failed);
  CHECK(r.reason == "bad_request");
  CHECK_THAT(r.detail, Catch::Contains("may not call 'b'"));
  CHECK(r.hops == 0);
}

TEST_CASE("run: a step that does not answer in time fails the run with step_timeout", "[run]") {
  graph_builder g{"stuck"};
  g.agent("silent", [](caf::actor_system& sys, const agent_env&) {
    return sys.spawn([](caf::event_based_actor*) -> caf::behavior {
      // Accepts the step and never answers.
      return {[](const step_request&) -> caf::result<step_reply> {
        return caf::delegated<step_reply>{};
      }};
    });
  });
  harness h{make_config(basic_models, R"("supervisor": {"step_timeout_ms": 100})"),
            registry_with(g)};
  auto r = h.eng.run({"stuck", "hi", "", ""});
  CHECK(r.status == run_status::failed);
  CHECK(r.reason == "step_timeout");
  CHECK_THAT(r.detail, Catch::Contains("silent"));
}

TEST_CASE("run: an unknown workflow fails with a message naming it", "[run]") {
  graph_builder g{"line"};
  g.agent("a", append("-a"));
  harness h{make_config(basic_models), registry_with(g)};
  auto r = h.eng.run({"nope", "x", "", ""});
  CHECK(r.status == run_status::failed);
  CHECK(r.reason == "unknown_workflow");
  CHECK_THAT(r.detail, Catch::Contains("'nope'"));
}

namespace {

const char* priced_models = R"([
  {"id": "paid", "provider": "sim", "tier": "mid", "price_in_per_mtok": 10.0,
   "price_out_per_mtok": 30.0, "context_window": 8192, "residency": "cloud",
   "sim": {"latency_ms": 20}}
])";

graph_builder paid_graph() {
  graph_builder g{"paid"};
  g.agent("ask", model_agent({"", "mid", "", 100, {}}));
  return g;
}

}  // namespace

TEST_CASE("run: 100 concurrent runs on one thread never spend more than its budget",
          "[run][budget]") {
  const double budget = 0.03;
  auto cfg = make_config(priced_models, R"("workflows": {"paid": {"budget":
      {"max_tokens": 0, "max_cost_usd": 0.03}}})");
  harness h{cfg, registry_with(paid_graph())};
  std::vector<run_request> requests;
  for (int i = 0; i < 100; ++i)
    requests.push_back({"paid", "question number " + std::to_string(i), "shared-thread", ""});
  auto results = h.eng.run_all(requests, 100);

  size_t completed = 0, escalated = 0;
  double spent_by_runs = 0;
  for (const auto& r : results) {
    spent_by_runs += r.cost_usd;
    if (r.status == run_status::completed) ++completed;
    if (r.status == run_status::escalated) {
      ++escalated;
      CHECK(r.reason == "budget_exhausted");
      CHECK(r.has_handoff);
      CHECK(r.cost_usd == 0);
    }
  }
  auto usage = h.eng.ledger().usage("shared-thread");
  CHECK(completed + escalated == 100);
  CHECK(completed > 0);
  CHECK(escalated > 0);  // 100 runs need more than the budget allows
  CHECK(usage.spent_usd <= budget);
  CHECK(usage.spent_usd == Approx(spent_by_runs).epsilon(1e-9));
  CHECK(usage.settled_calls == completed);
  CHECK(usage.reserved_usd == 0);
  CHECK(h.eng.ledger().pending_reservations() == 0);
}

TEST_CASE("run: the token budget of a thread is enforced across runs", "[run][budget]") {
  auto cfg = make_config(priced_models, R"("budgets": {"per_thread": {"max_tokens": 400}})");
  harness h{cfg, registry_with(paid_graph())};
  std::vector<run_result> results;
  // Each run reserves prompt + 100 tokens and spends less; sooner or later the
  // remaining room is smaller than one reservation.
  while (results.size() < 50 && (results.empty() || results.back().status == run_status::completed))
    results.push_back(h.eng.run({"paid", "hello there", "t-tokens", ""}));
  auto usage = h.eng.ledger().usage("t-tokens");
  CHECK(usage.spent_tokens <= 400);
  CHECK(usage.spent_tokens + 107 > 400);  // refused only when a reservation no longer fits
  CHECK(results.size() > 2);
  CHECK(results.front().status == run_status::completed);
  CHECK(results.back().status == run_status::escalated);
  CHECK(results.back().reason == "budget_exhausted");
  CHECK_THAT(results.back().detail, Catch::Contains("token budget of thread 't-tokens'"));
}

TEST_CASE("run: a failed model call releases its reservation and fails the run", "[run][budget]") {
  auto cfg = make_config(R"([
    {"id": "flaky", "provider": "sim", "tier": "mid", "price_in_per_mtok": 10.0,
     "price_out_per_mtok": 30.0, "context_window": 8192, "residency": "cloud",
     "sim": {"latency_ms": 5, "faults": [{"kind": "server_error", "every": 1}]}}
  ])",
                         R"("budgets": {"per_thread": {"max_cost_usd": 1.0}},
                            "resilience": {"retry": {"max_attempts": 1}})");
  graph_builder g{"paid"};
  g.agent("ask", model_agent({"", "mid", "", 100, {}}));
  harness h{cfg, registry_with(g)};
  auto r = h.eng.run({"paid", "hello", "t-fail", ""});
  // Retries spent on a retriable error make the call `blocked` (issue 5); without a
  // store the run has nowhere to park and fails, naming the provider's error.
  CHECK(r.status == run_status::failed);
  CHECK(r.reason == "blocked");
  CHECK_THAT(r.steps[0].error, Catch::Contains("server_error"));
  CHECK(r.cost_usd == 0);
  auto usage = h.eng.ledger().usage("t-fail");
  CHECK(usage.reserved_usd == 0);
  CHECK(usage.reserved_tokens == 0);
  CHECK(usage.spent_usd == 0);
  CHECK(h.eng.ledger().pending_reservations() == 0);
}

TEST_CASE("run: a rate-limited call reports its retry-after in the step error", "[run]") {
  auto cfg = make_config(R"([
    {"id": "limited", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
     "price_out_per_mtok": 0, "context_window": 8192, "residency": "local",
     "sim": {"faults": [{"kind": "rate_limited", "every": 1, "retry_after_ms": 1500}]}}
  ])",
                         R"("resilience": {"retry": {"max_attempts": 1}})");
  graph_builder g{"paid"};
  g.agent("ask", model_agent({"", "local", "", 50, {}}));
  harness h{cfg, registry_with(g)};
  auto r = h.eng.run({"paid", "hello", "", ""});
  CHECK(r.status == run_status::failed);
  CHECK(r.reason == "blocked");  // see above: retries spent, no store to park in
  CHECK_THAT(r.steps[0].error, Catch::Contains("rate_limited") && Catch::Contains("1500 ms"));
}

TEST_CASE("run: a slow escalation agent still decides an escalated run's output", "[run]") {
  // The refused hop unwinds the pending calls with errors before the escalation agent
  // answers; those errors must not fail the run.
  graph_builder g{"guarded"};
  g.agent("ping", examples::relay_agent("pong"))
      .agent("pong", examples::relay_agent("ping"))
      .agent("safety", model_agent({"Write a handover note.", "frontier", "", 60, {}}))
      .calls("ping", "pong")
      .calls("pong", "ping")
      .escalation_agent("safety");
  auto cfg = make_config(R"([
    {"id": "local-a", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
     "price_out_per_mtok": 0, "context_window": 8192, "residency": "local"},
    {"id": "slow-front", "provider": "sim", "tier": "frontier", "price_in_per_mtok": 1,
     "price_out_per_mtok": 1, "context_window": 8192, "residency": "cloud",
     "sim": {"latency_ms": 50}}
  ])",
                         R"("workflows": {"guarded": {"max_hops": 3,
      "escalation": {"target": "agent", "agent": "safety"}}})");
  harness h{cfg, registry_with(g)};
  auto r = h.eng.run({"guarded", "hi", "", ""});
  CHECK(r.status == run_status::escalated);
  CHECK(r.reason == "hop_limit");
  CHECK_THAT(r.output, Catch::StartsWith("[sim slow-front]"));
  CHECK(r.steps.back().kind == step_kind::escalation);
}
