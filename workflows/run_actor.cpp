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

struct run_state {
  std::shared_ptr<engine_shared> shared;
  const workflow_instance* wf = nullptr;
  caf::response_promise promise;
  run_result result;
  uint32_t next_step = 0;
  bool finished = false;
  clock_type::time_point started;
  std::vector<clock_type::time_point> step_began;  // by step; reset when the step ends
  // Calls forwarded for agents and not yet answered, by step. When the run ends they
  // are answered with an error: CAF 0.17 drops unanswered promises silently, which
  // would leave the calling agents (shared by all runs) waiting forever.
  std::vector<std::pair<uint32_t, caf::typed_response_promise<step_reply>>> open_calls;

  static inline const char* name = "run";
};

using run_actor = caf::stateful_actor<run_state>;

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

const std::string& node_name(run_actor* self, int node) {
  return self->state.wf->definition->nodes()[static_cast<size_t>(node)].name;
}

// Opens a step: numbers it, writes its transcript line (completed by finish_step) and
// returns the request to send. Steps are numbered from 0, so a step's number is its
// index in the transcript.
step_request begin_step(run_actor* self, step_kind kind, int node, std::string caller,
                        std::string input) {
  auto& st = self->state;
  auto& r = st.result;
  step_request req{{r.run_id, r.thread_id, st.next_step++, r.hops},
                   kind,
                   node_name(self, node),
                   std::move(caller),
                   std::move(input)};
  step_record rec;
  rec.step = req.ctx.step;
  rec.kind = kind;
  rec.agent = req.node;
  rec.caller = req.caller;
  rec.hops = req.ctx.hops;
  r.steps.push_back(std::move(rec));
  st.step_began.push_back(clock_type::now());
  return req;
}

// Completes a step's transcript line with what the agent did and adds it to the totals.
void finish_step(run_actor* self, uint32_t step, const step_reply& reply) {
  auto& st = self->state;
  auto& r = st.result;
  auto& rec = r.steps[step];
  rec.output = reply.output;
  rec.label = reply.label;
  rec.model_calls = static_cast<uint32_t>(reply.calls.size());
  for (const auto& c : reply.calls) {
    rec.model = c.model_id;
    rec.tier = c.tier;
    rec.input_tokens += c.input_tokens;
    rec.output_tokens += c.output_tokens;
    rec.cost_usd += c.cost_usd;
  }
  rec.latency_ms = ms_since(st.step_began[step]);
  st.step_began[step] = {};
  if (!reply.error.ok()) rec.error = reply.error.kind + ": " + reply.error.message;
  r.input_tokens += rec.input_tokens;
  r.output_tokens += rec.output_tokens;
  r.cost_usd += rec.cost_usd;
}

void finish(run_actor* self, run_status status, std::string reason, std::string detail,
            std::string output) {
  auto& st = self->state;
  if (st.finished) return;
  st.finished = true;
  auto& r = st.result;
  r.status = status;
  r.reason = std::move(reason);
  r.detail = std::move(detail);
  r.output = std::move(output);
  r.latency_ms = ms_since(st.started);
  if (status == run_status::failed)
    spdlog::warn("run {} ({}) failed: {}: {}", r.run_id, r.workflow, r.reason, r.detail);
  for (auto& [_, call] : st.open_calls) {
    step_reply ended;
    ended.error.kind = "run_ended";
    ended.error.message = "the run ended (" + to_string(status) + ") before the call returned";
    call.deliver(std::move(ended));
  }
  st.open_calls.clear();
  for (size_t i = 0; i < r.steps.size(); ++i)
    if (st.step_began[i] != clock_type::time_point{}) {
      r.steps[i].latency_ms = ms_since(st.step_began[i]);
      r.steps[i].error = "unfinished: the run ended before this step returned";
    }
  st.promise.deliver(std::move(r));
  self->quit();
}

void hand_off(run_actor* self, const std::string& reason, const std::string& detail) {
  auto& st = self->state;
  auto& r = st.result;
  r.has_handoff = true;
  auto& h = r.handoff;
  h.run_id = r.run_id;
  h.thread_id = r.thread_id;
  h.workflow = r.workflow;
  h.reason = reason;
  h.detail = detail;
  // The last step that produced something is what a person picks up from.
  for (auto it = r.steps.rbegin(); it != r.steps.rend(); ++it)
    if (!it->output.empty() || it == r.steps.rend() - 1) {
      h.last_agent = it->agent;
      h.last_output = it->output;
      break;
    }
  const auto& file = st.wf->settings.escalation.handoff_file;
  if (!file.empty()) {
    auto problem = st.shared->handoffs.append(file, h);
    if (!problem.empty())
      spdlog::error("run {}: handoff record not written: {}", r.run_id, problem);
  }
  spdlog::info("run {} ({}) escalated: {}: {}", r.run_id, r.workflow, reason, detail);
  finish(self, run_status::escalated, reason, detail, {});
}

void run_node(run_actor* self, int node, std::string input, step_kind kind);

// The supervisor stopped the run: hand it to the configured target.
void escalate(run_actor* self, const std::string& reason, const std::string& detail) {
  auto& st = self->state;
  if (st.finished) return;
  const auto& esc = st.wf->settings.escalation;
  if (esc.target == "agent") {
    auto node = st.wf->definition->index_of(esc.agent);
    if (node >= 0) {
      st.result.reason = reason;
      st.result.detail = detail;
      run_node(self, node, fmt::format("escalated: {}: {}", reason, detail), step_kind::escalation);
      return;
    }
  }
  hand_off(self, reason, detail);
}

// A step reported an error: escalate on budget, fail otherwise.
void on_step_error(run_actor* self, const std::string& agent, const model_error& error) {
  auto verdict = supervisor::judge(error);
  auto detail = fmt::format("agent '{}': {}", agent, error.message);
  if (verdict.status == run_status::escalated)
    escalate(self, verdict.reason, detail);
  else
    finish(self, run_status::failed, verdict.reason, detail, {});
}

void on_node_reply(run_actor* self, int node, const step_request& req, step_reply& reply) {
  auto& st = self->state;
  if (st.finished) return;
  finish_step(self, req.ctx.step, reply);
  if (req.kind == step_kind::escalation) {
    // The escalation agent has answered; it may not escalate again.
    if (!reply.error.ok()) {
      auto reason = st.result.reason;
      auto detail = st.result.detail + "; escalation agent failed: " + reply.error.message;
      hand_off(self, reason, detail);
      return;
    }
    finish(self, run_status::escalated, st.result.reason, st.result.detail,
           std::move(reply.output));
    return;
  }
  if (!reply.error.ok()) {
    on_step_error(self, req.node, reply.error);
    return;
  }
  auto next = st.wf->definition->next_after(node, reply);
  if (next.empty() || next == graph_end) {
    finish(self, run_status::completed, {}, {}, std::move(reply.output));
    return;
  }
  if (!st.wf->limits.admits_hop(st.result.hops)) {
    escalate(self, reason_hop_limit,
             fmt::format("run reached max_hops = {} before '{}' could hand over to '{}'",
                         st.wf->limits.max_hops(), req.node, next));
    return;
  }
  st.result.hops += 1;
  run_node(self, st.wf->definition->index_of(next), std::move(reply.output), step_kind::node);
}

void run_node(run_actor* self, int node, std::string input, step_kind kind) {
  auto& st = self->state;
  auto req = begin_step(self, kind, node, {}, std::move(input));
  auto timeout = std::chrono::milliseconds{st.wf->settings.step_timeout_ms};
  self->request(st.wf->agents[static_cast<size_t>(node)], timeout, req)
      .then([self, node, req](step_reply& reply) { on_node_reply(self, node, req, reply); },
            [self, req](caf::error& err) {
              auto kind = err == caf::sec::request_timeout ? "step_timeout" : "agent_error";
              finish(self, run_status::failed, kind,
                     fmt::format("agent '{}' at step {}: {}", req.node, req.ctx.step,
                                 caf::to_string(err)),
                     {});
            });
}

caf::result<step_reply> refuse_call(std::string kind, std::string message) {
  step_reply reply;
  reply.error.kind = std::move(kind);
  reply.error.message = std::move(message);
  return reply;
}

caf::result<step_reply> on_agent_call(run_actor* self, agent_call& call) {
  auto& st = self->state;
  if (st.finished) return refuse_call("run_ended", "the run has already ended");
  const auto& g = *st.wf->definition;
  auto from = g.index_of(call.from);
  auto to = g.index_of(call.to);
  if (from < 0 || to < 0 || !g.may_call(from, call.to))
    return refuse_call("bad_request", fmt::format("agent '{}' may not call '{}': the graph "
                                                  "declares no such call",
                                                  call.from, call.to));
  if (!st.wf->limits.admits_hop(st.result.hops)) {
    auto detail = fmt::format("run reached max_hops = {} when '{}' tried to call '{}'",
                              st.wf->limits.max_hops(), call.from, call.to);
    escalate(self, reason_hop_limit, detail);
    return refuse_call(reason_hop_limit, detail);
  }
  st.result.hops += 1;
  auto req = begin_step(self, step_kind::call, to, call.from, std::move(call.input));
  auto promise = self->make_response_promise<step_reply>();
  st.open_calls.emplace_back(req.ctx.step, promise);
  auto timeout = std::chrono::milliseconds{st.wf->settings.step_timeout_ms};
  self->request(st.wf->agents[static_cast<size_t>(to)], timeout, req)
      .then(
          [self, req](step_reply& reply) {
            auto& st = self->state;
            if (st.finished) return;
            finish_step(self, req.ctx.step, reply);
            if (!reply.error.ok() &&
                supervisor::judge(reply.error).status == run_status::escalated) {
              on_step_error(self, req.node, reply.error);
              return;
            }
            auto it = std::find_if(st.open_calls.begin(), st.open_calls.end(),
                                   [&](const auto& c) { return c.first == req.ctx.step; });
            if (it == st.open_calls.end()) return;
            auto promise = std::move(it->second);
            st.open_calls.erase(it);
            promise.deliver(std::move(reply));
          },
          [self, req](caf::error& err) {
            auto kind = err == caf::sec::request_timeout ? "step_timeout" : "agent_error";
            finish(self, run_status::failed, kind,
                   fmt::format("agent '{}' called by '{}' at step {}: {}", req.node, req.caller,
                               req.ctx.step, caf::to_string(err)),
                   {});
          });
  return promise;
}

caf::behavior run_behavior(run_actor* self, std::shared_ptr<engine_shared> shared) {
  self->state.shared = std::move(shared);
  return {
      [self](run_request& req) -> caf::result<run_result> {
        auto& st = self->state;
        if (st.promise.pending()) return caf::make_error(caf::sec::unexpected_message);
        st.started = clock_type::now();
        st.promise = self->make_response_promise();
        auto& r = st.result;
        r.workflow = req.workflow;
        r.run_id = req.run_id.empty() ? st.shared->new_id("run") : std::move(req.run_id);
        r.thread_id =
            req.thread_id.empty() ? st.shared->new_id("thread") : std::move(req.thread_id);
        auto it = st.shared->workflows.find(req.workflow);
        if (it == st.shared->workflows.end()) {
          finish(self, run_status::failed, "unknown_workflow",
                 fmt::format("no workflow named '{}' is registered", req.workflow), {});
          return st.promise;
        }
        st.wf = &it->second;
        st.shared->ledger.open_thread(r.thread_id, st.wf->settings.thread_budget);
        auto promise = st.promise;
        run_node(self, st.wf->definition->index_of(st.wf->definition->entry()),
                 std::move(req.input), step_kind::node);
        return promise;
      },
      [self](agent_call& call) { return on_agent_call(self, call); },
  };
}

}  // namespace

caf::actor spawn_run_actor(caf::actor_system& sys, std::shared_ptr<engine_shared> shared) {
  return sys.spawn(run_behavior, std::move(shared));
}

}  // namespace switchyard
