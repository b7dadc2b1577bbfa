#include "workflows/resumer.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <unordered_map>
#include <vector>

#include "caf/all.hpp"
#include "router/model_service.hpp"
#include "workflows/engine.hpp"
#include "workflows/resume_schedule.hpp"
#include "workflows/run_actor.hpp"

namespace switchyard {

namespace {

using resumer_tick_atom = caf::atom_constant<caf::atom("res_tick")>;
using clock_type = resume_schedule::clock_type;

struct resumer_state {
  std::shared_ptr<engine_shared> shared;
  caf::actor models;
  std::unique_ptr<resume_schedule> schedule;
  // Runs a run actor of ours is driving now, with whoever waits for that attempt.
  std::unordered_map<std::string, std::vector<caf::response_promise>> active;
  // Whoever waits for a run's end (engine::run_all, `runs resume`).
  std::unordered_map<std::string, std::vector<caf::response_promise>> finals;
  clock_type::time_point armed_for = clock_type::time_point::max();

  static inline const char* name = "resumer";
};

using resumer_actor = caf::stateful_actor<resumer_state>;

void arm(resumer_actor* self) {
  auto& st = self->state;
  auto next = st.schedule->next_probe();
  if (next == clock_type::time_point::max() || next >= st.armed_for) return;
  st.armed_for = next;
  auto delay =
      std::max(std::chrono::milliseconds{1},
               std::chrono::duration_cast<std::chrono::milliseconds>(next - clock_type::now()));
  self->delayed_send(self, delay, resumer_tick_atom::value);
}

run_result failed_result(const std::string& run_id, std::string reason, std::string detail) {
  run_result r;
  r.run_id = run_id;
  r.status = run_status::failed;
  r.reason = std::move(reason);
  r.detail = std::move(detail);
  return r;
}

void deliver_all(std::vector<caf::response_promise>& promises, const run_result& r) {
  for (auto& p : promises) p.deliver(r);
  promises.clear();
}

void attempt_done(resumer_actor* self, const std::string& run_id, run_result r) {
  auto& st = self->state;
  if (auto it = st.active.find(run_id); it != st.active.end()) {
    auto waiting = std::move(it->second);
    st.active.erase(it);
    deliver_all(waiting, r);
  }
  if (r.status == run_status::blocked) return;  // parked again; its run_parked came first
  if (auto it = st.finals.find(run_id); it != st.finals.end()) {
    auto waiting = std::move(it->second);
    st.finals.erase(it);
    deliver_all(waiting, r);
  }
}

// A fresh run actor continues the run from its checkpoint.
void drive(resumer_actor* self, const std::string& run_id) {
  auto& st = self->state;
  if (!st.active.try_emplace(run_id).second) return;  // one attempt at a time
  self->request(spawn_run_actor(self->system(), st.shared), caf::infinite, resume_run_atom::value,
                run_id)
      .then([self, run_id](run_result& r) { attempt_done(self, run_id, std::move(r)); },
            [self, run_id](caf::error& err) {
              attempt_done(self, run_id, failed_result(run_id, "run_error", caf::to_string(err)));
            });
}

void probe(resumer_actor* self, const std::string& provider) {
  auto& st = self->state;
  if (provider == waits_for_store) {
    // Nothing to ask: the next write will tell.
    for (const auto& run : st.schedule->provider_up(provider)) drive(self, run);
    return;
  }
  self->request(st.models, std::chrono::seconds{10}, provider_status_atom::value, provider)
      .then(
          [self, provider](uint32_t down_for_ms) {
            auto& st = self->state;
            if (down_for_ms == 0) {
              auto runs = st.schedule->provider_up(provider);
              spdlog::info("provider '{}' is up again: resuming {} blocked run(s)", provider,
                           runs.size());
              for (const auto& run : runs) drive(self, run);
            } else {
              st.schedule->provider_down(provider, clock_type::now(),
                                         std::chrono::milliseconds{down_for_ms});
            }
            arm(self);
          },
          [self, provider](caf::error&) {
            self->state.schedule->provider_down(provider, clock_type::now(), {});
            arm(self);
          });
}

caf::behavior resumer(resumer_actor* self, std::shared_ptr<engine_shared> shared, caf::actor models,
                      std::chrono::milliseconds initial, std::chrono::milliseconds max) {
  auto& st = self->state;
  st.shared = std::move(shared);
  st.models = std::move(models);
  st.schedule = std::make_unique<resume_schedule>(initial, max);
  return {
      [self](run_parked_atom, const std::string& run_id, const std::string& provider,
             uint32_t retry_after_ms) {
        self->state.schedule->park(run_id, provider, clock_type::now(),
                                   std::chrono::milliseconds{retry_after_ms});
        arm(self);
      },
      [self](resumer_tick_atom) {
        auto& st = self->state;
        st.armed_for = clock_type::time_point::max();
        for (const auto& provider : st.schedule->due(clock_type::now())) probe(self, provider);
        arm(self);
      },
      [self](resume_run_atom, const std::string& run_id) -> caf::result<run_result> {
        auto& st = self->state;
        st.schedule->take(run_id);
        auto promise = self->make_response_promise<run_result>();
        drive(self, run_id);
        st.active[run_id].push_back(promise);
        return promise;
      },
      [self](await_run_atom, const std::string& run_id) -> caf::result<run_result> {
        auto& st = self->state;
        if (!st.active.count(run_id) && !st.schedule->is_waiting(run_id)) {
          auto loaded = st.shared->store->load(run_id);
          if (!loaded)
            return failed_result(run_id, "unknown_run",
                                 fmt::format("no run '{}' in the checkpoint store", run_id));
          if (!loaded->state || is_ended(loaded->state->status) ||
              loaded->state->status == run_status::running) {
            // Ended (or undecodable, or running without us): one attempt says how.
            auto promise = self->make_response_promise<run_result>();
            st.finals[run_id].push_back(promise);
            drive(self, run_id);
            return promise;
          }
          st.schedule->park(run_id, loaded->state->waits_for, clock_type::now(), {});
          arm(self);
        }
        auto promise = self->make_response_promise<run_result>();
        st.finals[run_id].push_back(promise);
        return promise;
      },
      [self](recover_atom) -> uint64_t {
        auto& st = self->state;
        uint64_t recovered = 0;
        for (const auto& r : st.shared->store->list()) {
          if (!r.state) {
            // Undecodable: the attempt marks it failed; the others go on.
            drive(self, r.run_id);
            ++recovered;
            continue;
          }
          const auto& c = *r.state;
          if (is_ended(c.status)) continue;
          ++recovered;
          // Spending of runs on shared threads counts against the thread again; a
          // thread of the run's own is charged by the run actor itself.
          auto wf = st.shared->workflows.find(c.workflow);
          if (!c.own_thread && wf != st.shared->workflows.end()) {
            st.shared->ledger.open_thread(c.thread_id, wf->second.settings.thread_budget);
            st.shared->ledger.record_spent(c.thread_id, c.input_tokens + c.output_tokens,
                                           static_cast<double>(c.spent_nano_usd) / 1e9);
          }
          if (c.status == run_status::blocked)
            st.schedule->park(c.run_id, c.waits_for, clock_type::now(), {});
          else
            drive(self, c.run_id);
        }
        arm(self);
        if (recovered > 0) spdlog::info("recovered {} run(s) from the checkpoint store", recovered);
        return recovered;
      },
      [self](blocked_count_atom) -> uint64_t { return self->state.schedule->blocked_runs(); },
  };
}

}  // namespace

caf::actor spawn_resumer(caf::actor_system& sys, std::shared_ptr<engine_shared> shared,
                         caf::actor models, std::chrono::milliseconds initial_backoff,
                         std::chrono::milliseconds max_backoff) {
  return sys.spawn(resumer, std::move(shared), std::move(models), initial_backoff, max_backoff);
}

}  // namespace switchyard
