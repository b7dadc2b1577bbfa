#include "workflows/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <random>

#include "caf/all.hpp"
#include "router/call_core.hpp"
#include "router/model_service.hpp"
#include "router/route_training.hpp"
#include "workflows/checkpoint_writer.hpp"
#include "workflows/resumer.hpp"
#include "workflows/run_actor.hpp"

namespace switchyard {

std::string engine_shared::new_id(const char* kind) {
  // "<kind>-<process prefix>-<counter in base 36>": short enough to stay inside the
  // small-string buffer, and these ids are copied into every message of a run.
  auto n = next_id.fetch_add(1);
  char digits[16];
  size_t len = 0;
  do {
    digits[len++] = "0123456789abcdefghijklmnopqrstuvwxyz"[n % 36];
    n /= 36;
  } while (n > 0);
  std::string id;
  id.reserve(std::char_traits<char>::length(kind) + id_prefix.size() + len + 2);
  id += kind;
  id += '-';
  id += id_prefix;
  id += '-';
  while (len > 0) id += digits[--len];
  return id;
}

std::vector<std::string> engine::check(const config& cfg, const workflow_registry& registry) {
  std::vector<std::string> problems;
  auto known = [&] {
    std::string list;
    for (const auto& n : registry.names()) list += (list.empty() ? "" : ", ") + n;
    return list;
  }();
  for (const auto& [name, overrides] : cfg.workflows) {
    const auto* wf = registry.find(name);
    if (!wf) {
      problems.push_back(
          fmt::format("workflows.{}: no workflow registered with that name "
                      "(registered: {})",
                      name, known));
      continue;
    }
    for (const auto& [agent, _] : overrides.agents)
      if (wf->definition->index_of(agent) < 0)
        problems.push_back(fmt::format("workflows.{}.agents.{}: workflow '{}' has no such agent",
                                       name, agent, name));
  }
  if (cfg.router.routes.size() >= 2) {
    std::string unreadable;
    route_examples(cfg, unreadable);
    if (!unreadable.empty()) problems.push_back(unreadable);
  }
  for (const auto& [name, wf] : registry.all()) {
    auto settings = cfg.workflow(name);
    if (settings.escalation.target != "agent") continue;
    auto node = wf.definition->index_of(settings.escalation.agent);
    if (node < 0 || !wf.definition->nodes()[static_cast<size_t>(node)].escalation_handler)
      problems.push_back(fmt::format(
          "workflow '{}': escalation agent '{}' is not declared by the graph "
          "(graph_builder::escalation_agent); set escalation.target to \"handoff\" or declare it",
          name, settings.escalation.agent));
  }
  return problems;
}

namespace {

using watchdog_tick_atom = caf::atom_constant<caf::atom("wd_tick")>;

// How often the watchdog scans: a tenth of the shortest step timeout, so a late step
// is caught within ~10 % of its limit, but at most once per second and at least every
// 5 ms.
std::chrono::milliseconds watchdog_interval(const engine_shared& shared) {
  uint32_t shortest = 60000;
  for (const auto& [_, wf] : shared.workflows)
    shortest = std::min(shortest, wf.settings.step_timeout_ms);
  return std::chrono::milliseconds{std::clamp<uint32_t>(shortest / 10, 5, 1000)};
}

caf::behavior watchdog_ticker(caf::event_based_actor* self, std::shared_ptr<engine_shared> shared,
                              std::chrono::milliseconds interval) {
  self->delayed_send(self, interval, watchdog_tick_atom::value);
  return {
      [=](watchdog_tick_atom) {
        for (const auto& run : shared->watchdog.overdue(step_watchdog::clock_type::now()))
          poke_overdue_run(run);
        self->delayed_send(self, interval, watchdog_tick_atom::value);
      },
  };
}

}  // namespace

engine::engine(caf::actor_system& sys, std::shared_ptr<const config> cfg,
               const workflow_registry& registry, std::shared_ptr<checkpoint_store> store,
               bool recover, model_request_observer audit)
    : sys_(sys), cfg_(std::move(cfg)), shared_(std::make_shared<engine_shared>()) {
  shared_->store = std::move(store);
  std::random_device rd;
  shared_->cfg = cfg_;
  shared_->id_prefix = fmt::format("{:06x}", rd() & 0xffffff);
  auto policy = build_routing_policy(cfg_);
  model_core_ = std::make_shared<call_core>(cfg_, shared_->ledger, policy, std::move(audit));
  models_ = spawn_model_service(sys_, model_core_);
  for (const auto& [name, registered] : registry.all()) {
    workflow_instance wf;
    wf.definition = registered.definition;
    wf.settings = cfg_->workflow(name);
    wf.limits = supervisor{wf.settings.max_hops};
    for (const auto& node : wf.definition->nodes()) {
      agent_env env{name, node.name, models_, {}, cfg_, policy->classifier()};
      auto it = wf.settings.agents.find(node.name);
      if (it != wf.settings.agents.end()) env.settings = it->second;
      wf.agents.push_back(node.factory(sys_, env));
    }
    shared_->workflows.emplace(name, std::move(wf));
  }
  watchdog_ticker_ = sys_.spawn(watchdog_ticker, shared_, watchdog_interval(*shared_));
  if (shared_->store) {
    shared_->writer = std::make_shared<checkpoint_writer>(shared_->store);
    shared_->resumer = spawn_resumer(sys_, shared_, models_,
                                     std::chrono::milliseconds{cfg_->store.resume_backoff_ms},
                                     std::chrono::milliseconds{cfg_->store.resume_max_backoff_ms});
    if (recover) {
      caf::scoped_actor self{sys_};
      self->request(shared_->resumer, caf::infinite, recover_atom::value)
          .receive([&](uint64_t n) { recovered_ = n; }, [](caf::error&) {});
    }
  }
}

engine::~engine() {
  for (auto& [_, wf] : shared_->workflows)
    for (auto& a : wf.agents) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(models_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(watchdog_ticker_, caf::exit_reason::user_shutdown);
  if (shared_->resumer) {
    caf::anon_send_exit(shared_->resumer, caf::exit_reason::user_shutdown);
    shared_->resumer = nullptr;  // the resumer's state holds shared_: break the cycle
  }
  if (shared_->writer) {
    // The writer holds the store open: once it is gone, so is the engine's hold on
    // the database, and whoever opened the store may close (and unlock) it.
    // Run actors still alive share the writer: stopped, it answers them with an error.
    shared_->writer->stop();
  }
}

namespace {

// Asks the resumer about one run and waits for its result; `verb` names the action in
// the error when there is no store to ask.
template <class Atom>
run_result ask_resumer(caf::actor_system& sys, const caf::actor& resumer, Atom atom,
                       const std::string& run_id, const char* verb) {
  run_result result;
  result.run_id = run_id;
  if (!resumer) {
    result.status = run_status::failed;
    result.reason = "no_store";
    result.detail = std::string("runs can only be ") + verb + " with a checkpoint store";
    return result;
  }
  caf::scoped_actor self{sys};
  self->request(resumer, caf::infinite, atom, run_id)
      .receive([&](run_result& r) { result = std::move(r); },
               [&](caf::error& err) {
                 result.status = run_status::failed;
                 result.reason = "run_error";
                 result.detail = caf::to_string(err);
               });
  return result;
}

}  // namespace

run_result engine::resume(const std::string& run_id) {
  return ask_resumer(sys_, shared_->resumer, resume_run_atom::value, run_id, "resumed");
}

run_result engine::await_run(const std::string& run_id) {
  return ask_resumer(sys_, shared_->resumer, await_run_atom::value, run_id, "awaited");
}

size_t engine::blocked_runs() {
  if (!shared_->resumer) return 0;
  size_t n = 0;
  caf::scoped_actor self{sys_};
  self->request(shared_->resumer, caf::infinite, blocked_count_atom::value)
      .receive([&](uint64_t count) { n = count; }, [](caf::error&) {});
  return n;
}

caf::actor engine::spawn_run() {
  return spawn_run_actor(sys_, shared_);
}

run_result engine::run(run_request request) {
  caf::scoped_actor self{sys_};
  run_result result;
  self->request(spawn_run(), caf::infinite, std::move(request))
      .receive([&](run_result& r) { result = std::move(r); },
               [&](caf::error& err) {
                 result.status = run_status::failed;
                 result.reason = "run_error";
                 result.detail = caf::to_string(err);
               });
  // A parked run has no actor; with a store its end comes through the resumer.
  if (result.status == run_status::blocked && shared_->resumer) return await_run(result.run_id);
  return result;
}

std::vector<run_result> engine::resume_all(const std::vector<std::string>& run_ids) {
  std::vector<run_result> results(run_ids.size());
  if (run_ids.empty()) return results;
  if (!shared_->resumer) {
    for (size_t i = 0; i < run_ids.size(); ++i) results[i] = resume(run_ids[i]);
    return results;
  }
  auto left = std::make_shared<size_t>(run_ids.size());
  auto out = std::make_shared<std::vector<run_result>>(run_ids.size());
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  auto resumer = shared_->resumer;
  sys_.spawn([=](caf::event_based_actor* self) {
    for (size_t i = 0; i < run_ids.size(); ++i) {
      auto note = [=](run_result r) {
        (*out)[i] = std::move(r);
        if (--*left == 0) {
          done->set_value();
          self->quit();
        }
      };
      self->request(resumer, caf::infinite, resume_run_atom::value, run_ids[i])
          .then([=](run_result& r) { note(std::move(r)); },
                [=](caf::error& err) {
                  run_result r;
                  r.run_id = run_ids[i];
                  r.status = run_status::failed;
                  r.reason = "run_error";
                  r.detail = caf::to_string(err);
                  note(std::move(r));
                });
    }
  });
  finished.get();
  return std::move(*out);
}

}  // namespace switchyard

namespace switchyard {

namespace {

struct batch_state {
  std::vector<run_request> requests;
  std::vector<run_result> results;
  size_t next = 0;
  size_t done = 0;
  std::promise<std::vector<run_result>> finished;
};

void launch_next(caf::event_based_actor* self, engine* eng, std::shared_ptr<batch_state> st);

void record_result(caf::event_based_actor* self, engine* eng,
                   const std::shared_ptr<batch_state>& st, size_t index, run_result r) {
  st->results[index] = std::move(r);
  if (++st->done == st->results.size()) {
    st->finished.set_value(std::move(st->results));
    self->quit();
  } else if (st->next < st->requests.size()) {
    launch_next(self, eng, st);
  }
}

void launch_next(caf::event_based_actor* self, engine* eng, std::shared_ptr<batch_state> st) {
  auto index = st->next++;
  self->request(eng->spawn_run(), caf::infinite, std::move(st->requests[index]))
      .then([=](run_result& r) { record_result(self, eng, st, index, std::move(r)); },
            [=](caf::error& err) {
              run_result r;
              r.status = run_status::failed;
              r.reason = "run_error";
              r.detail = caf::to_string(err);
              record_result(self, eng, st, index, std::move(r));
            });
}

}  // namespace

namespace {

// With a store, each run is started from the checkpoint run_all wrote for it, and a
// run that parks is awaited through the resumer until it ends.
struct durable_batch_state {
  std::vector<std::string> run_ids;  // empty: the run was refused (result already set)
  std::vector<run_request> starts;   // as written to the store: run and thread ids set
  std::vector<bool> own_threads;     // the thread was made up for the run
  int64_t created_ms = 0;
  std::vector<run_result> results;
  size_t next = 0;
  size_t done = 0;
  size_t to_do = 0;
  std::promise<std::vector<run_result>> finished;
};

void launch_next_durable(caf::event_based_actor* self, engine* eng, caf::actor resumer,
                         std::shared_ptr<durable_batch_state> st);

void record_durable(caf::event_based_actor* self, engine* eng, const caf::actor& resumer,
                    const std::shared_ptr<durable_batch_state>& st, size_t index, run_result r) {
  st->results[index] = std::move(r);
  if (++st->done == st->to_do) {
    st->finished.set_value(std::move(st->results));
    self->quit();
  } else {
    launch_next_durable(self, eng, resumer, st);
  }
}

void launch_next_durable(caf::event_based_actor* self, engine* eng, caf::actor resumer,
                         std::shared_ptr<durable_batch_state> st) {
  while (st->next < st->run_ids.size() && st->run_ids[st->next].empty()) ++st->next;
  if (st->next >= st->run_ids.size()) return;
  auto index = st->next++;
  auto run_id = st->run_ids[index];
  auto failed = [](const std::string& id, const caf::error& err) {
    run_result r;
    r.run_id = id;
    r.status = run_status::failed;
    r.reason = "run_error";
    r.detail = caf::to_string(err);
    return r;
  };
  // Checkpoint 0 is written (run_all_durable): the run starts without writing it again.
  auto start = std::move(st->starts[index]);
  start.checkpoint_written = true;
  start.own_thread = st->own_threads[index];
  start.created_ms = st->created_ms;
  self->request(eng->spawn_run(), caf::infinite, std::move(start))
      .then(
          [=](run_result& r) {
            if (r.status != run_status::blocked) {
              record_durable(self, eng, resumer, st, index, std::move(r));
              return;
            }
            // Parked: the next run starts now; this one is awaited until it ends.
            launch_next_durable(self, eng, resumer, st);
            self->request(resumer, caf::infinite, await_run_atom::value, run_id)
                .then(
                    [=](run_result& end) {
                      st->results[index] = std::move(end);
                      if (++st->done == st->to_do) {
                        st->finished.set_value(std::move(st->results));
                        self->quit();
                      }
                    },
                    [=](caf::error& err) {
                      st->results[index] = failed(run_id, err);
                      if (++st->done == st->to_do) {
                        st->finished.set_value(std::move(st->results));
                        self->quit();
                      }
                    });
          },
          [=](caf::error& err) {
            record_durable(self, eng, resumer, st, index, failed(run_id, err));
          });
}

}  // namespace

std::vector<run_result> engine::run_all_durable(std::vector<run_request> requests, size_t window) {
  auto st = std::make_shared<durable_batch_state>();
  st->results.resize(requests.size());
  st->run_ids.resize(requests.size());
  st->starts.resize(requests.size());
  st->own_threads.resize(requests.size());
  std::vector<run_checkpoint> states;
  states.reserve(requests.size());
  auto now = unix_now_ms();
  auto& store = *shared_->store;
  for (size_t i = 0; i < requests.size(); ++i) {
    auto& req = requests[i];
    run_checkpoint c;
    // An id this engine makes up is new (a random process prefix and a counter), as for
    // a run started alone; only an id the caller gives may name a stored run. Looking
    // each made-up id up cost ~12,500 instructions a run (a point read through every
    // level of the store).
    bool given_id = !req.run_id.empty();
    c.run_id = given_id ? std::move(req.run_id) : shared_->new_id("r");
    if (auto existing = given_id ? store.load(c.run_id) : std::nullopt) {
      if (existing->state && !is_ended(existing->state->status)) {
        auto& r = st->results[i];
        r.run_id = c.run_id;
        r.status = run_status::failed;
        r.reason = "run_id_in_use";
        r.detail = fmt::format("run '{}' is {} in the checkpoint store '{}'", c.run_id,
                               to_string(existing->state->status), store.path());
        continue;
      }
      // An ended run (or an unreadable record) under the same id: the new run replaces it.
      if (auto problem = store.erase(c.run_id); !problem.empty()) {
        auto& r = st->results[i];
        r.run_id = c.run_id;
        r.status = run_status::failed;
        r.reason = "checkpoint_write_failed";
        r.detail = problem;
        continue;
      }
    }
    c.workflow = std::move(req.workflow);
    c.own_thread = req.thread_id.empty();
    c.thread_id = c.own_thread ? shared_->new_id("t") : std::move(req.thread_id);
    c.input = req.input;
    c.next_input = std::move(req.input);
    auto wf = shared_->workflows.find(c.workflow);
    if (wf != shared_->workflows.end()) c.next_node = wf->second.definition->entry();
    c.created_ms = now;
    c.updated_ms = now;
    st->run_ids[i] = c.run_id;
    st->own_threads[i] = c.own_thread;
    states.push_back(std::move(c));
  }
  // Every run is on disk before any starts: a crash now loses none of them.
  if (!states.empty()) {
    auto written = store.write_states(states);
    // The starts take the states' strings: the states are not needed again.
    for (size_t i = 0, k = 0; i < st->run_ids.size(); ++i) {
      if (st->run_ids[i].empty()) continue;
      auto& c = states[k++];
      st->starts[i] = run_request{std::move(c.workflow), std::move(c.input), std::move(c.thread_id),
                                  std::move(c.run_id)};
    }
    if (!written.ok()) {
      for (size_t i = 0; i < st->run_ids.size(); ++i) {
        if (st->run_ids[i].empty()) continue;
        auto& r = st->results[i];
        r.run_id = st->run_ids[i];
        r.status = run_status::failed;
        r.reason = "checkpoint_write_failed";
        r.detail = written.error;
        st->run_ids[i].clear();
      }
    }
  }
  for (const auto& id : st->run_ids)
    if (!id.empty()) ++st->to_do;
  if (st->to_do == 0) return std::move(st->results);
  st->created_ms = now;
  auto done = st->finished.get_future();
  auto resumer = shared_->resumer;
  sys_.spawn([this, st, window, resumer](caf::event_based_actor* self) {
    for (size_t i = 0; i < window; ++i) launch_next_durable(self, this, resumer, st);
  });
  return done.get();
}

std::vector<run_result> engine::run_all(std::vector<run_request> requests, size_t max_in_flight) {
  if (requests.empty()) return {};
  if (shared_->store)
    return run_all_durable(std::move(requests), std::max<size_t>(1, max_in_flight));
  auto st = std::make_shared<batch_state>();
  st->results.resize(requests.size());
  st->requests = std::move(requests);
  auto done = st->finished.get_future();
  auto window = std::max<size_t>(1, std::min(max_in_flight, st->requests.size()));
  sys_.spawn([this, st, window](caf::event_based_actor* self) {
    for (size_t i = 0; i < window; ++i) launch_next(self, this, st);
  });
  return done.get();
}

}  // namespace switchyard
