#include "workflows/run_actor.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "caf/all.hpp"
#include "runtime/messages.hpp"
#include "runtime/supervisor.hpp"
#include "workflows/engine.hpp"

namespace switchyard {

namespace {

using clock_type = std::chrono::steady_clock;

// How a step's model calls were routed: kept apart because most of a transcript line
// is hot data and this is read only when the run ends.
struct step_routing {
  std::string route;
  bool downgraded = false;
  std::string decisions;  // JSON array text, one trace per call
};

// One transcript line while the run is going: node indexes instead of names, the
// tier looked up from the model at the end. A step_record is twice the size, and ten
// thousand runs of several steps each may be in flight.
struct step_entry {
  std::string output;
  std::string label;
  std::string model;  // of the step's last model call; empty when it made none
  std::unique_ptr<std::string> error;
  std::unique_ptr<step_routing> routing;  // only for steps whose calls were routed
  clock_type::time_point began;
  double cost_usd = 0;
  float latency_ms = 0;
  uint32_t input_tokens = 0;
  uint32_t output_tokens = 0;
  uint32_t hops = 0;
  int16_t node = -1;
  int16_t caller = -1;
  step_kind kind = step_kind::node;
  uint16_t model_calls = 0;
};

// Per-run state. Kept lean: ten thousand runs may be in flight at once. The
// run_result is only assembled when the run ends.
struct run_state {
  std::shared_ptr<engine_shared> shared;
  const workflow_instance* wf = nullptr;
  caf::response_promise promise;
  std::string run_id;
  std::string thread_id;
  bool own_thread = false;  // the thread was made up for this run alone
  bool finished = false;
  uint32_t hops = 0;
  clock_type::time_point started;
  std::vector<step_entry> steps;     // the transcript so far; index == step number
  std::vector<uint32_t> open_steps;  // in start order: front is the oldest
  // Calls forwarded for agents and not yet answered, by step. When the run ends they
  // are answered with an error: CAF 0.17 drops unanswered promises silently, which
  // would leave the calling agents (shared by all runs) waiting forever.
  std::vector<std::pair<uint32_t, caf::typed_response_promise<step_reply>>> open_calls;
  step_watchdog::watch watch_entry;
  step_watchdog::registration watch;  // declared after watch_entry: unregisters first
  // While an escalation agent works: why the run was escalated (rare, so off-line).
  std::unique_ptr<std::pair<std::string, std::string>> escalation;

  static inline const char* name = "run";
};

using run_actor = caf::stateful_actor<run_state>;

using check_steps_atom = caf::atom_constant<caf::atom("chk_steps")>;

double ms_between(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

const std::string& node_name(run_actor* self, int node) {
  return self->state.wf->definition->nodes()[static_cast<size_t>(node)].name;
}

void publish_oldest_open(run_actor* self) {
  auto& st = self->state;
  if (st.open_steps.empty())
    st.watch->clear();
  else
    st.watch->set_oldest_open(st.steps[st.open_steps.front()].began);
}

// Opens a step: numbers it, writes its transcript line (completed by close_step) and
// returns the request to send. Steps are numbered from 0, so a step's number is its
// index in the transcript.
step_request begin_step(run_actor* self, step_kind kind, int node, int caller, std::string input) {
  auto& st = self->state;
  auto step = static_cast<uint32_t>(st.steps.size());
  step_request req{{st.run_id, st.thread_id, step, st.hops},
                   kind,
                   node_name(self, node),
                   caller >= 0 ? node_name(self, caller) : std::string{},
                   std::move(input)};
  auto& e = st.steps.emplace_back();
  e.began = clock_type::now();
  e.hops = st.hops;
  e.node = static_cast<int16_t>(node);
  e.caller = static_cast<int16_t>(caller);
  e.kind = kind;
  st.open_steps.push_back(step);
  if (st.open_steps.size() == 1) publish_oldest_open(self);
  return req;
}

// Completes a step's transcript line with what the agent did.
void close_step(run_actor* self, uint32_t step, step_reply& reply) {
  auto& st = self->state;
  auto& e = st.steps[step];
  e.label = reply.label;  // branch conditions still read the reply
  e.model_calls = static_cast<uint16_t>(reply.calls.size());
  for (auto& c : reply.calls) {
    e.input_tokens += c.input_tokens;
    e.output_tokens += c.output_tokens;
    e.cost_usd += c.cost_usd;
  }
  for (auto& c : reply.calls) {
    if (c.decision.empty()) continue;
    if (!e.routing) e.routing = std::make_unique<step_routing>();
    auto& r = *e.routing;
    r.route = c.route;
    r.downgraded = r.downgraded || c.downgraded;
    r.decisions += r.decisions.empty() ? "[" : ",";
    r.decisions += c.decision;
  }
  if (e.routing) e.routing->decisions += "]";
  if (!reply.calls.empty()) e.model = std::move(reply.calls.back().model_id);
  e.latency_ms = static_cast<float>(ms_between(e.began, clock_type::now()));
  if (!reply.error.ok())
    e.error = std::make_unique<std::string>(reply.error.kind + ": " + reply.error.message);
  e.output = reply.output;  // the next step gets its own copy as input
  auto it = std::find(st.open_steps.begin(), st.open_steps.end(), step);
  if (it != st.open_steps.end()) {
    bool was_oldest = it == st.open_steps.begin();
    st.open_steps.erase(it);
    if (was_oldest) publish_oldest_open(self);
  }
}

// The public form of a transcript line.
step_record to_record(run_actor* self, uint32_t step, step_entry& e) {
  step_record rec;
  rec.step = step;
  rec.kind = e.kind;
  rec.agent = node_name(self, e.node);
  if (e.caller >= 0) rec.caller = node_name(self, e.caller);
  rec.hops = e.hops;
  rec.output = std::move(e.output);
  rec.label = std::move(e.label);
  if (!e.model.empty()) {
    if (const auto* m = self->state.shared->cfg->find_model(e.model)) rec.tier = m->tier;
    rec.model = std::move(e.model);
  }
  rec.model_calls = e.model_calls;
  rec.input_tokens = e.input_tokens;
  rec.output_tokens = e.output_tokens;
  rec.cost_usd = e.cost_usd;
  rec.latency_ms = e.latency_ms;
  if (e.error) rec.error = std::move(*e.error);
  if (e.routing) {
    rec.route = std::move(e.routing->route);
    rec.downgraded = e.routing->downgraded;
    rec.decisions = std::move(e.routing->decisions);
  }
  return rec;
}

void finish(run_actor* self, run_status status, std::string reason, std::string detail,
            std::string output, bool with_handoff = false) {
  auto& st = self->state;
  if (st.finished) return;
  st.finished = true;
  if (st.watch) st.watch->clear();
  auto now = clock_type::now();
  run_result r;
  r.run_id = std::move(st.run_id);
  r.thread_id = std::move(st.thread_id);
  r.workflow = st.wf ? st.wf->definition->name() : std::string{};
  r.status = status;
  r.reason = std::move(reason);
  r.detail = std::move(detail);
  r.output = std::move(output);
  r.hops = st.hops;
  r.latency_ms = ms_between(st.started, now);
  for (auto step : st.open_steps) {
    auto& e = st.steps[step];
    e.latency_ms = static_cast<float>(ms_between(e.began, now));
    e.error = std::make_unique<std::string>("unfinished: the run ended before this step returned");
  }
  r.steps.reserve(st.steps.size());
  for (uint32_t i = 0; i < st.steps.size(); ++i) {
    r.steps.push_back(to_record(self, i, st.steps[i]));
    const auto& rec = r.steps.back();
    r.input_tokens += rec.input_tokens;
    r.output_tokens += rec.output_tokens;
    r.cost_usd += rec.cost_usd;
  }
  st.steps.clear();
  if (with_handoff) {
    r.has_handoff = true;
    auto& h = r.handoff;
    h.run_id = r.run_id;
    h.thread_id = r.thread_id;
    h.workflow = r.workflow;
    h.reason = r.reason;
    h.detail = r.detail;
    // The last step that produced something is what a person picks up from.
    auto last = std::find_if(r.steps.rbegin(), r.steps.rend(),
                             [](const step_record& s) { return !s.output.empty(); });
    if (last == r.steps.rend() && !r.steps.empty()) last = r.steps.rend() - 1;
    if (last != r.steps.rend()) {
      h.last_agent = last->agent;
      h.last_output = last->output;
    }
    const auto& file = st.wf->settings.escalation.handoff_file;
    if (!file.empty()) {
      auto problem = st.shared->handoffs.append(file, h);
      if (!problem.empty())
        spdlog::error("run {}: handoff record not written: {}", r.run_id, problem);
    }
  }
  if (status == run_status::failed)
    spdlog::warn("run {} ({}) failed: {}: {}", r.run_id, r.workflow, r.reason, r.detail);
  else if (status == run_status::escalated)
    spdlog::info("run {} ({}) escalated: {}: {}", r.run_id, r.workflow, r.reason, r.detail);
  for (auto& [_, call] : st.open_calls) {
    step_reply ended;
    ended.error.kind = "run_ended";
    ended.error.message = "the run ended (" + to_string(status) + ") before the call returned";
    call.deliver(std::move(ended));
  }
  st.open_calls.clear();
  if (st.own_thread) st.shared->ledger.close_thread(r.thread_id);
  st.promise.deliver(std::move(r));
  self->quit();
}

void run_node(run_actor* self, int node, std::string input, step_kind kind);

// The supervisor stopped the run: hand it to the configured target.
void escalate(run_actor* self, std::string reason, std::string detail) {
  auto& st = self->state;
  if (st.finished) return;
  if (st.escalation) return;  // the escalation agent is already at work; one is enough
  const auto& esc = st.wf->settings.escalation;
  if (esc.target == "agent") {
    auto node = st.wf->definition->index_of(esc.agent);
    if (node >= 0) {
      auto input = fmt::format("escalated: {}: {}", reason, detail);
      st.escalation = std::make_unique<std::pair<std::string, std::string>>(std::move(reason),
                                                                            std::move(detail));
      run_node(self, node, std::move(input), step_kind::escalation);
      return;
    }
  }
  finish(self, run_status::escalated, std::move(reason), std::move(detail), {}, true);
}

// A step reported an error: escalate on budget, fail otherwise.
void on_step_error(run_actor* self, const std::string& agent, const model_error& error) {
  auto verdict = supervisor::judge(error);
  auto detail = fmt::format("agent '{}': {}", agent, error.message);
  if (verdict.status == run_status::escalated)
    escalate(self, std::move(verdict.reason), std::move(detail));
  else
    finish(self, run_status::failed, std::move(verdict.reason), std::move(detail), {});
}

void on_node_reply(run_actor* self, int node, uint32_t step, step_reply& reply) {
  auto& st = self->state;
  if (st.finished) return;
  close_step(self, step, reply);
  const auto& agent = node_name(self, st.steps[step].node);
  // While the escalation agent works, other steps still unwind (with the errors of
  // the refused hop); they are recorded but no longer decide the run's fate.
  if (st.escalation && st.steps[step].kind != step_kind::escalation) return;
  if (st.steps[step].kind == step_kind::escalation) {
    // The escalation agent has answered; it may not escalate again.
    auto reason = std::move(st.escalation->first);
    auto detail = std::move(st.escalation->second);
    if (!reply.error.ok())
      finish(self, run_status::escalated, std::move(reason),
             detail + "; escalation agent failed: " + reply.error.message, {}, true);
    else
      finish(self, run_status::escalated, std::move(reason), std::move(detail),
             std::move(reply.output));
    return;
  }
  if (!reply.error.ok()) {
    on_step_error(self, agent, reply.error);
    return;
  }
  auto next = st.wf->definition->next_after(node, reply);
  if (next.empty() || next == graph_end) {
    finish(self, run_status::completed, {}, {}, std::move(reply.output));
    return;
  }
  if (!st.wf->limits.admits_hop(st.hops)) {
    escalate(self, reason_hop_limit,
             fmt::format("run reached max_hops = {} before '{}' could hand over to '{}'",
                         st.wf->limits.max_hops(), agent, next));
    return;
  }
  st.hops += 1;
  run_node(self, st.wf->definition->index_of(next), std::move(reply.output), step_kind::node);
}

void on_agent_lost(run_actor* self, uint32_t step, const caf::error& err) {
  const auto& rec = self->state.steps[step];
  finish(self, run_status::failed, "agent_error",
         fmt::format("agent '{}' at step {}: {}", node_name(self, rec.node), step,
                     caf::to_string(err)),
         {});
}

// Steps carry no CAF request timeout (see step_watchdog.hpp); the watchdog pokes the
// run with check_steps_atom when its oldest open step looks overdue.
void run_node(run_actor* self, int node, std::string input, step_kind kind) {
  auto req = begin_step(self, kind, node, -1, std::move(input));
  auto step = req.ctx.step;
  self->request(self->state.wf->agents[static_cast<size_t>(node)], caf::infinite, std::move(req))
      .then([self, node, step](step_reply& reply) { on_node_reply(self, node, step, reply); },
            [self, step](caf::error& err) { on_agent_lost(self, step, err); });
}

caf::result<step_reply> refuse_call(std::string kind, std::string message) {
  step_reply reply;
  reply.error.kind = std::move(kind);
  reply.error.message = std::move(message);
  return reply;
}

void on_call_reply(run_actor* self, uint32_t step, step_reply& reply) {
  auto& st = self->state;
  if (st.finished) return;
  close_step(self, step, reply);
  if (!reply.error.ok() && supervisor::judge(reply.error).status == run_status::escalated) {
    on_step_error(self, node_name(self, st.steps[step].node), reply.error);
    return;
  }
  auto it = std::find_if(st.open_calls.begin(), st.open_calls.end(),
                         [&](const auto& c) { return c.first == step; });
  if (it == st.open_calls.end()) return;
  auto promise = std::move(it->second);
  st.open_calls.erase(it);
  promise.deliver(std::move(reply));
}

caf::result<step_reply> on_agent_call(run_actor* self, agent_call& call) {
  auto& st = self->state;
  if (st.finished || !st.wf) return refuse_call("run_ended", "the run has already ended");
  if (st.escalation) return refuse_call("run_ended", "the run is being escalated");
  const auto& g = *st.wf->definition;
  auto from = g.index_of(call.from);
  auto to = g.index_of(call.to);
  if (from < 0 || to < 0 || !g.may_call(from, call.to))
    return refuse_call("bad_request", fmt::format("agent '{}' may not call '{}': the graph "
                                                  "declares no such call",
                                                  call.from, call.to));
  if (!st.wf->limits.admits_hop(st.hops)) {
    auto detail = fmt::format("run reached max_hops = {} when '{}' tried to call '{}'",
                              st.wf->limits.max_hops(), call.from, call.to);
    escalate(self, reason_hop_limit, detail);
    return refuse_call(reason_hop_limit, std::move(detail));
  }
  st.hops += 1;
  auto req = begin_step(self, step_kind::call, to, from, std::move(call.input));
  auto step = req.ctx.step;
  auto promise = self->make_response_promise<step_reply>();
  st.open_calls.emplace_back(step, promise);
  self->request(st.wf->agents[static_cast<size_t>(to)], caf::infinite, std::move(req))
      .then([self, step](step_reply& reply) { on_call_reply(self, step, reply); },
            [self, step](caf::error& err) { on_agent_lost(self, step, err); });
  return promise;
}

void check_steps(run_actor* self) {
  auto& st = self->state;
  if (st.finished || st.open_steps.empty()) return;
  auto oldest = st.open_steps.front();
  auto waited = clock_type::now() - st.steps[oldest].began;
  auto limit = std::chrono::milliseconds{st.wf->settings.step_timeout_ms};
  if (waited <= limit) return;
  const auto& rec = st.steps[oldest];
  finish(self, run_status::failed, "step_timeout",
         fmt::format("agent '{}' did not answer step {} within step_timeout_ms = {}",
                     node_name(self, rec.node), oldest, st.wf->settings.step_timeout_ms),
         {});
}

caf::behavior run_behavior(run_actor* self, std::shared_ptr<engine_shared> shared) {
  self->state.shared = std::move(shared);
  return {
      [self](run_request& req) -> caf::result<run_result> {
        auto& st = self->state;
        if (st.promise.pending() || st.finished)
          return caf::make_error(caf::sec::unexpected_message);
        st.started = clock_type::now();
        st.promise = self->make_response_promise();
        st.run_id = req.run_id.empty() ? st.shared->new_id("r") : std::move(req.run_id);
        st.own_thread = req.thread_id.empty();
        st.thread_id = st.own_thread ? st.shared->new_id("t") : std::move(req.thread_id);
        auto promise = st.promise;
        auto it = st.shared->workflows.find(req.workflow);
        if (it == st.shared->workflows.end()) {
          finish(self, run_status::failed, "unknown_workflow",
                 fmt::format("no workflow named '{}' is registered", req.workflow), {});
          return promise;
        }
        st.wf = &it->second;
        st.watch =
            st.shared->watchdog.add(st.watch_entry, self->address(),
                                    std::chrono::milliseconds{st.wf->settings.step_timeout_ms});
        st.shared->ledger.open_thread(st.thread_id, st.wf->settings.thread_budget);
        const auto& g = *st.wf->definition;
        run_node(self, g.index_of(g.entry()), std::move(req.input), step_kind::node);
        return promise;
      },
      [self](agent_call& call) { return on_agent_call(self, call); },
      [self](check_steps_atom) { check_steps(self); },
  };
}

}  // namespace

caf::actor spawn_run_actor(caf::actor_system& sys, std::shared_ptr<engine_shared> shared) {
  return sys.spawn(run_behavior, std::move(shared));
}

void poke_overdue_run(const caf::actor_addr& run) {
  if (auto handle = caf::actor_cast<caf::actor>(run))
    caf::anon_send(handle, check_steps_atom::value);
}

}  // namespace switchyard
