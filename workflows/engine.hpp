#pragma once
// The engine runs workflows: it spawns the model service and, for every registered
// workflow, its agents (once; they serve all runs), and starts one run actor per run.
//
//   actor_runtime rt{cfg->runtime};
//   engine eng{rt.system(), cfg, registry};
//   run_result r = eng.run({"hello", "Where is my order?"});      // blocking
//   // or, from an actor: self->request(eng.spawn_run(), caf::infinite, req).then(...)
//
// Thread-safe after construction. The engine must outlive the runs it started.

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "router/model_service.hpp"
#include "runtime/budget_ledger.hpp"
#include "runtime/checkpoint_store.hpp"
#include "runtime/config.hpp"
#include "runtime/handoff_log.hpp"
#include "runtime/supervisor.hpp"
#include "workflows/checkpoint_writer.hpp"
#include "workflows/step_watchdog.hpp"
#include "workflows/trace_packer.hpp"
#include "workflows/workflow_registry.hpp"

namespace switchyard {

/// A registered workflow bound to this engine: its graph, settings and live agents.
struct workflow_instance {
  std::shared_ptr<const graph> definition;
  workflow_settings settings;
  supervisor limits{8};
  std::vector<caf::actor> agents;  // by node index
};

/// What every run actor of one engine shares; immutable but for the ledger, the
/// handoff log and the id counter, which are thread-safe.
struct engine_shared {
  std::shared_ptr<const config> cfg;
  std::map<std::string, workflow_instance> workflows;
  budget_ledger ledger;
  handoff_log handoffs;
  step_watchdog watchdog;
  trace_packer traces;  // decision traces held by runs in flight
  std::shared_ptr<checkpoint_store> store;  // null: runs live in memory only
  caf::actor resumer;                       // set when there is a store
  std::shared_ptr<checkpoint_writer> writer;  // group commit, with a store
  std::string id_prefix;                    // random per engine, so ids from two processes differ
  std::atomic<uint64_t> next_id{1};
  std::atomic<uint64_t> parked_total{0};  // runs parked as blocked, ever

  std::string new_id(const char* kind);
};

class engine {
 public:
  /// Spawns the model service and every workflow's agents. Call check() first: the
  /// constructor assumes the config and registry agree.
  ///
  /// With a `store`, every run is checkpointed after each step, a run whose provider
  /// is down parks as `blocked` and a resumer brings it back, and (when `recover`)
  /// every run the store holds as running or blocked is recovered before the
  /// constructor returns: running ones continue at once, blocked ones when their
  /// provider is up. Without one, runs live in memory only.
  ///
  /// `audit`, when set, sees every model request right before it is sent (see
  /// model_request_observer).
  engine(caf::actor_system& sys, std::shared_ptr<const config> cfg,
         const workflow_registry& registry, std::shared_ptr<checkpoint_store> store = nullptr,
         bool recover = true, model_request_observer audit = nullptr);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  /// Problems between a config and the registered workflows: settings for unknown
  /// workflows or agents, escalation agents the graph does not declare.
  static std::vector<std::string> check(const config& cfg, const workflow_registry& registry);

  /// A fresh run actor. Send it one run_request (as a request); it replies with the
  /// run_result when the run ends, then exits.
  caf::actor spawn_run();

  /// Runs one workflow to its end, blocking the calling (non-actor) thread.
  run_result run(run_request request);

  /// Runs every request, at most `max_in_flight` at a time, blocking the calling
  /// (non-actor) thread; results come back in the order of `requests`.
  std::vector<run_result> run_all(std::vector<run_request> requests, size_t max_in_flight = 256);

  /// With a store: one attempt to continue run `run_id` from its checkpoint now,
  /// whatever the provider probes say; the result may be `blocked` again.
  run_result resume(const std::string& run_id);

  /// resume() for several runs at once (concurrently); results in the order of `run_ids`.
  std::vector<run_result> resume_all(const std::vector<std::string>& run_ids);

  /// With a store: blocks until run `run_id` has ended (completed, escalated, failed)
  /// and returns how.
  run_result await_run(const std::string& run_id);

  /// Runs waiting for a provider (or the store) in the resumer's schedule.
  size_t blocked_runs();

  /// How many times a run of this engine parked as blocked.
  uint64_t parked_total() const { return shared_->parked_total.load(); }

  /// Runs found running or blocked in the store at start-up.
  size_t recovered_runs() const { return recovered_; }

  checkpoint_store* store() { return shared_->store.get(); }
  budget_ledger& ledger() { return shared_->ledger; }
  caf::actor model_service() const { return models_; }
  /// The model service's call core (plain calls started off the actor: the gateway).
  std::shared_ptr<call_core> model_core() const { return model_core_; }
  caf::actor_system& system() { return sys_; }

 private:
  caf::actor_system& sys_;
  std::shared_ptr<const config> cfg_;
  std::shared_ptr<engine_shared> shared_;
  caf::actor models_;
  std::shared_ptr<call_core> model_core_;
  caf::actor watchdog_ticker_;
  size_t recovered_ = 0;

  std::vector<run_result> run_all_durable(std::vector<run_request> requests, size_t window);
};

}  // namespace switchyard
