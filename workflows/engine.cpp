#include "workflows/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <random>

#include "caf/all.hpp"
#include "router/model_service.hpp"
#include "router/route_training.hpp"
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
               const workflow_registry& registry)
    : sys_(sys), cfg_(std::move(cfg)), shared_(std::make_shared<engine_shared>()) {
  std::random_device rd;
  shared_->cfg = cfg_;
  shared_->id_prefix = fmt::format("{:06x}", rd() & 0xffffff);
  models_ = spawn_model_service(sys_, cfg_, shared_->ledger, build_routing_policy(cfg_));
  for (const auto& [name, registered] : registry.all()) {
    workflow_instance wf;
    wf.definition = registered.definition;
    wf.settings = cfg_->workflow(name);
    wf.limits = supervisor{wf.settings.max_hops};
    for (const auto& node : wf.definition->nodes()) {
      agent_env env{name, node.name, models_, {}};
      auto it = wf.settings.agents.find(node.name);
      if (it != wf.settings.agents.end()) env.settings = it->second;
      wf.agents.push_back(node.factory(sys_, env));
    }
    shared_->workflows.emplace(name, std::move(wf));
  }
  watchdog_ticker_ = sys_.spawn(watchdog_ticker, shared_, watchdog_interval(*shared_));
}

engine::~engine() {
  for (auto& [_, wf] : shared_->workflows)
    for (auto& a : wf.agents) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(models_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(watchdog_ticker_, caf::exit_reason::user_shutdown);
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
  return result;
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

std::vector<run_result> engine::run_all(std::vector<run_request> requests, size_t max_in_flight) {
  if (requests.empty()) return {};
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
