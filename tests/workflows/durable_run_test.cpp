// Runs with a checkpoint store: outages park runs and the resumer brings them back,
// failed writes block instead of running on, bad records fail alone, and a long run
// writes the same bytes per step at its end as at its start.

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "agents/function_agent.hpp"
#include "agents/model_agent.hpp"
#include "caf/all.hpp"
#include "examples/loop/loop_workflow.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/logging.hpp"
#include "tests/support/layout1_store.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_config.hpp"
#include "workflows/engine.hpp"

using namespace switchyard;
using switchyard::testing::make_config;
using switchyard::testing::temp_dir;

namespace {

model_agent_spec mid_tier() {
  model_agent_spec spec;
  spec.tier = "mid";
  return spec;
}

// intake (no model) -> answer (one mid-tier call): one paid call per run.
workflow_registry ticket_registry() {
  graph_builder g{"ticket"};
  g.agent("intake", function_agent([](const step_request& r) {
            return step_reply{"ticket: " + r.input, {}, {}, {}};
          }))
      .agent("answer", model_agent(mid_tier()))
      .edge("intake", "answer");
  workflow_registry registry;
  REQUIRE(registry.add(g, "test").empty());
  REQUIRE(registry.add(examples::loop_graph(), "loop").empty());
  // A long sequential run: "count" hands over to itself until the count reaches 200.
  // (The loop workflow nests its calls, so none of its steps closes before its end.)
  graph_builder counter{"counter"};
  counter
      .agent("count", function_agent([](const step_request& r) {
               auto n = std::stoi(r.input) + 1;
               return step_reply{std::to_string(n), n < 200 ? "again" : "done", {}, {}};
             }))
      .branch_on_label("count", "again", "count")
      .edge("count", graph_end);
  REQUIRE(registry.add(counter, "counter").empty());
  return registry;
}

// The outage covers both models: the model service falls back from mid-a to the
// next lower tier (local-a, downgraded) while that one is up, so a run parks only when
// every candidate is down.
std::shared_ptr<const config> outage_config(const std::string& outages) {
  return make_config(R"([
    {"id": "local-a", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
     "price_out_per_mtok": 0, "context_window": 8192, "residency": "local",
     "sim": {"outages": )" + outages + R"(}},
    {"id": "mid-a", "provider": "sim", "tier": "mid", "price_in_per_mtok": 1.0,
     "price_out_per_mtok": 2.0, "context_window": 16384, "residency": "cloud",
     "sim": {"latency_ms": 10, "outages": )" +
                         outages + R"(}}])",
                     R"("store": {"resume_backoff_ms": 20, "resume_max_backoff_ms": 100},
                        "workflows": {"counter": {"max_hops": 250}})");
}

std::shared_ptr<checkpoint_store> open_store(const std::string& path) {
  auto opened = checkpoint_store::open({path});
  INFO(opened.error);
  REQUIRE(opened.ok());
  return std::shared_ptr<checkpoint_store>{std::move(opened.store)};
}

// Ledger entries and step costs of every run, in nano-USD, and paid steps.
struct books {
  int64_t ledger_nano = 0;
  int64_t steps_nano = 0;
  size_t ledger_entries = 0;
  size_t paid_steps = 0;
};

books read_books(const checkpoint_store& store) {
  books b;
  for (const auto& r : store.list()) {
    for (const auto& e : store.ledger(r.run_id)) {
      b.ledger_nano += e.nano_usd;
      ++b.ledger_entries;
    }
    for (const auto& s : store.steps(r.run_id)) {
      b.steps_nano += static_cast<int64_t>(std::llround(s.cost_usd * 1e9));
      if (s.cost_usd > 0) ++b.paid_steps;
    }
  }
  return b;
}

// A stored state of the `ticket` workflow, as a run started with `input` on its own
// thread `thread_id` would have it before its first step.
run_checkpoint ticket_state(const std::string& run_id, const std::string& input,
                            const std::string& thread_id) {
  run_checkpoint c;
  c.run_id = run_id;
  c.workflow = "ticket";
  c.input = input;
  c.thread_id = thread_id;
  c.own_thread = true;
  c.next_node = "intake";
  c.next_input = input;
  return c;
}

}  // namespace

TEST_CASE(
    "durable: an outage mid-batch blocks runs, they resume when the provider is back, "
    "each paid call once in the ledger",
    "[durable]") {
  temp_dir dir{"outage"};
  auto cfg = outage_config(R"([{"from_ms": 40, "to_ms": 300}])");
  set_log_level("off");
  auto store = open_store(dir.sub("db"));
  auto registry = ticket_registry();
  std::vector<run_result> results;
  uint64_t parked = 0;
  {
    actor_runtime rt{cfg->runtime};
    engine eng{rt.system(), cfg, registry, store};
    std::vector<run_request> reqs;
    for (int i = 0; i < 60; ++i)
      reqs.push_back({"ticket", "Question " + std::to_string(i) + "?", {}, {}});
    results = eng.run_all(std::move(reqs), 4);
    parked = eng.parked_total();
    CHECK(eng.blocked_runs() == 0);
  }
  REQUIRE(results.size() == 60);
  for (const auto& r : results) {
    INFO(r.run_id << ": " << r.reason << " " << r.detail);
    CHECK(r.status == run_status::completed);
    CHECK(r.steps.size() == 2);
  }
  CHECK(parked > 0);  // the outage did block runs
  for (const auto& r : store->list()) {
    REQUIRE(r.state);
    CHECK(r.state->status == run_status::completed);
  }
  auto b = read_books(*store);
  CHECK(b.ledger_entries == 60);
  CHECK(b.paid_steps == 60);
  CHECK(b.ledger_nano == b.steps_nano);
}

TEST_CASE("durable: a blocked run names the provider it waits for and resumes on command",
          "[durable]") {
  temp_dir dir{"block"};
  auto cfg = outage_config(R"([{"from_ms": 0, "to_ms": 600000}])");  // down for 10 min
  set_log_level("off");
  auto store = open_store(dir.sub("db"));
  auto registry = ticket_registry();
  actor_runtime rt{cfg->runtime};
  engine eng{rt.system(), cfg, registry, store};
  caf::scoped_actor self{rt.system()};
  run_result first;
  self->request(eng.spawn_run(), caf::infinite, run_request{"ticket", "Help?", {}, "r-wait"})
      .receive([&](run_result& r) { first = std::move(r); }, [](caf::error&) {});
  CHECK(first.status == run_status::blocked);
  CHECK(first.reason == "provider_down");
  CHECK(first.detail.find("mid-a") != std::string::npos);
  auto saved = store->load("r-wait");
  REQUIRE(saved);
  REQUIRE(saved->state);
  CHECK(saved->state->status == run_status::blocked);
  CHECK(saved->state->waits_for == "sim");
  CHECK(saved->state->next_node == "answer");  // intake's step is done and kept
  auto kept = store->steps("r-wait");
  REQUIRE(kept.size() == 1);
  // The blocked state was written after the running one (intake's record): it still
  // continues from intake's output.
  CHECK(!kept[0].output.empty());
  CHECK(saved->state->next_input == kept[0].output);
  CHECK(eng.blocked_runs() == 1);
  // On command: one attempt now; the provider is still down, so it blocks again.
  auto again = eng.resume("r-wait");
  CHECK(again.status == run_status::blocked);
  CHECK(store->steps("r-wait").size() == 1);  // intake was not run again
}

TEST_CASE("durable: when checkpoint writes fail the run blocks, then finishes once they work",
          "[durable]") {
  temp_dir dir{"wfail"};
  auto cfg = outage_config("[]");
  set_log_level("off");
  auto store = open_store(dir.sub("db"));
  auto registry = ticket_registry();
  std::atomic<int> writes{0};
  auto failing_until = std::chrono::steady_clock::now() + std::chrono::milliseconds{150};
  // Checkpoint 0 is written; from the second write on the disk is "full" for 150 ms.
  store->set_write_hook([&](size_t) -> std::string {
    if (++writes >= 2 && std::chrono::steady_clock::now() < failing_until)
      return "No space left on device (injected)";
    return {};
  });
  run_result r;
  uint64_t parked = 0;
  {
    actor_runtime rt{cfg->runtime};
    engine eng{rt.system(), cfg, registry, store};
    r = eng.run({"ticket", "Is it down?", {}, "r-disk"});
    parked = eng.parked_total();
  }
  store->set_write_hook(nullptr);
  CHECK(parked >= 1);
  CHECK(r.status == run_status::completed);
  CHECK(r.steps.size() == 2);
  auto steps = store->steps("r-disk");
  REQUIRE(steps.size() == 2);
  CHECK(store->ledger("r-disk").size() == 1);
}

TEST_CASE("durable: a checkpoint that does not decode fails that run; the others recover",
          "[durable]") {
  temp_dir dir{"corrupt"};
  auto cfg = outage_config("[]");
  set_log_level("off");
  auto store = open_store(dir.sub("db"));
  auto good = ticket_state("r-good", "Hello?", "t-good");
  REQUIRE(store->write_states({good}).ok());
  REQUIRE(store->put_raw_state("r-bad", "{\"v\":1,\"run_id\":").empty());
  auto registry = ticket_registry();
  actor_runtime rt{cfg->runtime};
  engine eng{rt.system(), cfg, registry, store};  // start-up recovery of both
  CHECK(eng.recovered_runs() == 2);
  auto bad = eng.await_run("r-bad");
  auto ok = eng.await_run("r-good");
  CHECK(bad.status == run_status::failed);
  CHECK(bad.reason == "bad_checkpoint");
  CHECK(ok.status == run_status::completed);
  auto stored = store->load("r-bad");
  REQUIRE(stored);
  REQUIRE(stored->state);
  CHECK(stored->state->status == run_status::failed);
  CHECK(stored->state->detail.find("does not decode") != std::string::npos);
}

TEST_CASE("durable: a run a layout-1 build checkpointed mid-way recovers and completes once",
          "[durable]") {
  temp_dir dir{"layout1"};
  auto cfg = outage_config("[]");
  set_log_level("off");
  // As the layout-1 build left it when killed: intake's step recorded, the state at
  // "answer" (written with that step), no ledger entry yet (intake pays nothing).
  switchyard::testing::layout1_contents old;
  auto c = ticket_state("r-v1", "Hello?", "t-v1");
  c.next_node = "answer";
  c.next_input = "ticket: Hello?";
  c.next_step = 1;
  c.next_hops = 1;
  c.hops = 1;
  c.steps = 1;
  c.created_ms = 1000;
  c.updated_ms = 2000;
  old.states.push_back(c);
  step_record intake;
  intake.step = 0;
  intake.agent = "intake";
  intake.output = "ticket: Hello?";
  old.steps.emplace_back("r-v1", intake);
  REQUIRE(switchyard::testing::write_layout1_store(dir.sub("db"), old).empty());
  auto store = open_store(dir.sub("db"));
  auto registry = ticket_registry();
  run_result r;
  {
    actor_runtime rt{cfg->runtime};
    engine eng{rt.system(), cfg, registry, store};  // start-up recovery
    CHECK(eng.recovered_runs() == 1);
    r = eng.await_run("r-v1");
  }
  CHECK(r.status == run_status::completed);
  REQUIRE(r.steps.size() == 2);
  CHECK(r.steps[0].agent == "intake");
  CHECK(r.steps[1].agent == "answer");
  auto steps = store->steps("r-v1");
  REQUIRE(steps.size() == 2);
  auto ledger = store->ledger("r-v1");
  REQUIRE(ledger.size() == 1);  // answer's one paid call, once
  CHECK(ledger[0].nano_usd == static_cast<int64_t>(std::llround(steps[1].cost_usd * 1e9)));
  auto saved = store->load("r-v1");
  REQUIRE(saved);
  REQUIRE(saved->state);
  CHECK(saved->state->status == run_status::completed);
}

TEST_CASE("durable: checkpoint bytes per step stay constant over a 200-step run", "[durable]") {
  temp_dir dir{"long"};
  auto cfg = outage_config("[]");
  set_log_level("off");
  auto store = open_store(dir.sub("db"));
  std::mutex m;
  std::vector<size_t> sizes;
  store->set_write_hook([&](size_t bytes) {
    std::lock_guard<std::mutex> guard{m};
    sizes.push_back(bytes);
    return std::string{};
  });
  auto registry = ticket_registry();
  run_result r;
  {
    actor_runtime rt{cfg->runtime};
    engine eng{rt.system(), cfg, registry, store};
    r = eng.run({"counter", "0", {}, "r-long"});
  }
  store->set_write_hook(nullptr);
  CHECK(r.status == run_status::completed);
  CHECK(r.output == "200");
  REQUIRE(r.steps.size() == 200);
  CHECK(store->steps("r-long").size() == r.steps.size());
  // One write per closed step, plus checkpoint 0 and the final state.
  REQUIRE(sizes.size() >= 200);
  auto mean = [&](size_t from, size_t to) {
    double sum = 0;
    for (size_t i = from; i < to; ++i) sum += static_cast<double>(sizes[i]);
    return sum / static_cast<double>(to - from);
  };
  auto early = mean(5, 55);
  auto late = mean(sizes.size() - 55, sizes.size() - 5);
  INFO("early " << early << " B, late " << late << " B per step");
  // The history is never written again: only numbers get wider (the counter's output,
  // step numbers past 127 as varints), a few bytes over ~80; writing the history again
  // would add a record's worth per step.
  CHECK(late <= early * 1.05 + 16);
  CHECK(late < 2048);
}

TEST_CASE("durable: a step record whose decision traces do not decode fails that run",
          "[durable][trace]") {
  temp_dir dir{"bad-trace"};
  auto cfg = outage_config("[]");
  set_log_level("off");
  auto store = open_store(dir.sub("db"));
  auto c = ticket_state("r-trace", "Hello?", "t-trace");
  c.next_step = 1;
  c.steps = 1;
  step_record rec;
  rec.step = 0;
  rec.agent = "intake";
  rec.output = "Hello?";
  rec.model_calls = 1;
  rec.decisions.bytes = std::string("\x01\x00\x02", 3);  // a trace cut short
  // The run's start (its `runs` key), then the step, which carries the state on (layout 2).
  REQUIRE(store->write_step(c, {}, {}).ok());
  REQUIRE(store->write_step(c, {rec}, {}).ok());
  auto registry = ticket_registry();
  actor_runtime rt{cfg->runtime};
  engine eng{rt.system(), cfg, registry, store};
  CHECK(eng.recovered_runs() == 1);
  auto bad = eng.await_run("r-trace");
  CHECK(bad.status == run_status::failed);
  CHECK(bad.reason == "bad_checkpoint");
  CHECK_THAT(bad.detail, Catch::Contains("decision traces do not decode"));
}

TEST_CASE("durable: a batch writes each run's checkpoint 0 once, before any run starts",
          "[durable]") {
  temp_dir dir{"batch"};
  auto cfg = outage_config("[]");
  set_log_level("off");
  auto store = open_store(dir.sub("db"));
  std::atomic<size_t> writes{0};
  store->set_write_hook([&](size_t) {
    ++writes;
    return std::string{};
  });
  auto registry = ticket_registry();
  std::vector<run_result> results;
  {
    actor_runtime rt{cfg->runtime};
    engine eng{rt.system(), cfg, registry, store};
    std::vector<run_request> reqs;
    for (int i = 0; i < 20; ++i)
      reqs.push_back({"ticket", "Question " + std::to_string(i) + "?", {}, {}});
    reqs.push_back({"no-such-workflow", "?", {}, "r-unknown"});
    results = eng.run_all(std::move(reqs), 4);
  }
  store->set_write_hook(nullptr);
  REQUIRE(results.size() == 21);
  for (size_t i = 0; i < 20; ++i) {
    INFO(results[i].run_id << ": " << results[i].reason << " " << results[i].detail);
    CHECK(results[i].status == run_status::completed);
    CHECK(results[i].steps.size() == 2);
    auto loaded = store->load(results[i].run_id);
    REQUIRE(loaded);
    REQUIRE(loaded->state);
    CHECK(loaded->state->status == run_status::completed);
    CHECK(loaded->state->thread_id == results[i].thread_id);
    CHECK(loaded->state->own_thread);
    CHECK(store->steps(results[i].run_id).size() == 2);
  }
  // A run of a workflow this engine lacks is marked failed in the store, not left running.
  CHECK(results[20].status == run_status::failed);
  auto unknown = store->load("r-unknown");
  REQUIRE(unknown);
  REQUIRE(unknown->state);
  CHECK(unknown->state->status == run_status::failed);
  // The batch's states in one write, then per run: step 1, then step 2 with the end.
  // (A run asked to write its own checkpoint 0 again would add one write per run.)
  CHECK(writes.load() == 1 + 20 * 2 + 1);
}

TEST_CASE("durable: a batch refuses a given run id of a run not ended and replaces an ended one",
          "[durable]") {
  temp_dir dir{"batch-ids"};
  auto cfg = outage_config("[]");
  set_log_level("off");
  auto store = open_store(dir.sub("db"));
  // Parked, and ended, by runs that shared another thread.
  auto parked = ticket_state("r-parked", "an earlier question", "t-earlier");
  parked.own_thread = false;
  parked.next_node.clear();
  parked.next_input.clear();
  parked.status = run_status::blocked;
  parked.waits_for = "sim";
  auto ended = parked;
  ended.run_id = "r-ended";
  ended.status = run_status::completed;
  ended.waits_for.clear();
  ended.output = "an earlier answer";
  REQUIRE(store->write_states({parked, ended}).ok());
  auto registry = ticket_registry();
  std::vector<run_result> results;
  {
    actor_runtime rt{cfg->runtime};
    // No recovery: the parked run stays as it is while the batch runs.
    engine eng{rt.system(), cfg, registry, store, false};
    std::vector<run_request> reqs;
    reqs.push_back({"ticket", "Question A?", {}, "r-parked"});
    reqs.push_back({"ticket", "Question B?", {}, "r-ended"});
    reqs.push_back({"ticket", "Question C?", {}, {}});
    results = eng.run_all(std::move(reqs), 2);
  }
  REQUIRE(results.size() == 3);
  CHECK(results[0].status == run_status::failed);
  CHECK(results[0].reason == "run_id_in_use");
  CHECK_THAT(results[0].detail, Catch::Contains("'r-parked' is blocked"));
  CHECK(store->load("r-parked")->state->input == "an earlier question");
  CHECK(results[1].status == run_status::completed);
  CHECK(store->load("r-ended")->state->input == "Question B?");
  CHECK(results[2].status == run_status::completed);
  CHECK(results[2].run_id.rfind("r-", 0) == 0);
  CHECK(store->load(results[2].run_id)->state->status == run_status::completed);
}

// The checkpoint writer sends a run's next step request itself once the step before is
// written (save_then_run_node): a write that fails must leave that request unsent.
TEST_CASE("durable: when the write before a step fails, that step's agent is never asked",
          "[durable]") {
  temp_dir dir{"handoff"};
  auto cfg = outage_config("[]");
  set_log_level("off");
  auto store = open_store(dir.sub("db"));
  std::atomic<bool> failing{true};
  std::atomic<int> writes{0}, failed_writes{0};
  std::atomic<int> intake_calls{0}, intake_calls_while_failing{0};
  std::atomic<int> answer_calls{0}, answer_calls_while_failing{0}, answer_calls_unrecorded{0};
  graph_builder g{"handoff"};
  g.agent("intake", function_agent([&](const step_request& r) {
            ++intake_calls;
            if (failing) ++intake_calls_while_failing;
            return step_reply{"ticket: " + r.input, {}, {}, {}};
          }))
      .agent("answer", function_agent([&](const step_request& r) {
               ++answer_calls;
               if (failing) ++answer_calls_while_failing;
               // The intake step's record is in the store before this step starts.
               if (store->steps(r.ctx.run_id).empty()) ++answer_calls_unrecorded;
               return step_reply{"answered", {}, {}, {}};
             }))
      .edge("intake", "answer");
  workflow_registry registry;
  REQUIRE(registry.add(g, "test").empty());
  // Checkpoint 0 is written; every later write fails until the run has parked.
  store->set_write_hook([&](size_t) -> std::string {
    if (++writes >= 2 && failing) {
      ++failed_writes;
      return "No space left on device (injected)";
    }
    return {};
  });
  run_result r;
  uint64_t parked = 0;
  {
    actor_runtime rt{cfg->runtime};
    engine eng{rt.system(), cfg, registry, store};
    std::thread release{[&] {
      auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds{10};
      while (eng.parked_total() < 2 && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::milliseconds{2});
      failing = false;
    }};
    r = eng.run({"handoff", "Is it down?", {}, "r-handoff"});
    release.join();
    parked = eng.parked_total();
  }
  store->set_write_hook(nullptr);
  INFO(r.reason << ": " << r.detail);
  CHECK(parked >= 2);  // parked, resumed, and parked again while writes still failed
  CHECK(failed_writes.load() >= 2);
  // The first step ran once checkpoint 0 was written; no request went out after a
  // failed write.
  CHECK(intake_calls_while_failing.load() == 1);
  CHECK(answer_calls_while_failing.load() == 0);
  CHECK(answer_calls_unrecorded.load() == 0);
  CHECK(answer_calls.load() == 1);
  CHECK(r.status == run_status::completed);
  REQUIRE(r.steps.size() == 2);
  CHECK(r.steps[1].output == "answered");
  auto loaded = store->load("r-handoff");
  REQUIRE(loaded);
  REQUIRE(loaded->state);
  CHECK(loaded->state->status == run_status::completed);
  CHECK(store->steps("r-handoff").size() == 2);
}
