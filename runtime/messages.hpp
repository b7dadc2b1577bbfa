#pragma once
// Every message that crosses an actor boundary in Switchyard, with its CAF 0.17
// `inspect`. Each one is registered in runtime/actor_runtime.cpp; a type that is
// missing there compiles but fails when it crosses the wire.

#include <cstdint>
#include <string>
#include <vector>

#include "caf/meta/type_name.hpp"

namespace switchyard {

/// Where a message belongs: which run, which conversation thread, which step of the
/// run, and how many agent-to-agent hops the run has made so far.
struct step_context {
  std::string run_id;
  std::string thread_id;
  uint32_t step = 0;
  uint32_t hops = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, step_context& x) {
  return f(caf::meta::type_name("step_context"), x.run_id, x.thread_id, x.step, x.hops);
}

// -- model calls ------------------------------------------------------------------

/// One chat message. `role` is "system", "user", "assistant" or "tool".
struct chat_message {
  std::string role;
  std::string content;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chat_message& x) {
  return f(caf::meta::type_name("chat_message"), x.role, x.content);
}

/// What a model call asks for. `model` pins a model id; otherwise `tier` names the
/// tier to use; with neither, the cheapest model of the lowest tier is used.
struct model_request {
  step_context ctx;
  std::string call_id;  // unique per call; the ledger and (later) checkpoints key on it
  std::vector<chat_message> messages;
  uint32_t max_tokens = 256;
  std::string model;
  std::string tier;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_request& x) {
  return f(caf::meta::type_name("model_request"), x.ctx, x.call_id, x.messages, x.max_tokens,
           x.model, x.tier);
}

/// What one model call consumed and where it ran.
struct model_usage {
  std::string model_id;
  std::string tier;
  uint32_t input_tokens = 0;
  uint32_t output_tokens = 0;
  double cost_usd = 0;
  double latency_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_usage& x) {
  return f(caf::meta::type_name("model_usage"), x.model_id, x.tier, x.input_tokens, x.output_tokens,
           x.cost_usd, x.latency_ms);
}

/// Why a model call did not produce an answer. Kinds are the ones a router can act
/// on: rate_limited, overloaded, server_error, timeout, connection, auth, bad_request,
/// context_length, content_filter, bad_response, no_model, budget_exhausted, blocked.
/// An empty `kind` means success.
/// Kind "blocked": every candidate is down; the run parks until `provider` is back
/// (retry_after_ms: when that is expected, 0 when unknown).
struct model_error {
  std::string kind;
  std::string message;
  uint32_t retry_after_ms = 0;
  std::string provider;  // kind "blocked": the provider the step waits for

  bool ok() const { return kind.empty(); }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_error& x) {
  return f(caf::meta::type_name("model_error"), x.kind, x.message, x.retry_after_ms, x.provider);
}

struct model_response {
  std::string call_id;
  std::string text;
  std::string finish_reason;  // "stop" or "length"
  model_usage usage;
  model_error error;

  bool ok() const { return error.ok(); }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_response& x) {
  return f(caf::meta::type_name("model_response"), x.call_id, x.text, x.finish_reason, x.usage,
           x.error);
}

// -- agent steps ------------------------------------------------------------------

/// Why an agent is being asked to work: the next node of the graph, a call from
/// another agent, or the supervisor handing it an escalated run.
enum class step_kind : uint8_t { node, call, escalation };

std::string to_string(step_kind x);

/// The run actor asks an agent to do one step.
struct step_request {
  step_context ctx;
  step_kind kind = step_kind::node;
  std::string node;    // the agent being asked
  std::string caller;  // for calls: the agent that asked; empty otherwise
  std::string input;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, step_request& x) {
  return f(caf::meta::type_name("step_request"), x.ctx, x.kind, x.node, x.caller, x.input);
}

/// What an agent did in one step. `label` is optional metadata that branch
/// conditions may test (a classifier's verdict, say). A failed model call is carried
/// in `error` so the run can decide: escalate on budget, fail otherwise.
struct step_reply {
  std::string output;
  std::string label;
  std::vector<model_usage> calls;
  model_error error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, step_reply& x) {
  return f(caf::meta::type_name("step_reply"), x.output, x.label, x.calls, x.error);
}

/// An agent asks another agent of the same run (a hop). Sent to the run actor,
/// which counts the hop and forwards it; the answer is a step_reply.
struct agent_call {
  step_context ctx;
  std::string from;
  std::string to;
  std::string input;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_call& x) {
  return f(caf::meta::type_name("agent_call"), x.ctx, x.from, x.to, x.input);
}

// -- runs -------------------------------------------------------------------------

struct run_request {
  std::string workflow;
  std::string input;
  std::string thread_id;  // empty: the run gets a thread of its own
  std::string run_id;     // empty: generated
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_request& x) {
  return f(caf::meta::type_name("run_request"), x.workflow, x.input, x.thread_id, x.run_id);
}

/// One line of a run's transcript.
struct step_record {
  uint32_t step = 0;
  step_kind kind = step_kind::node;
  std::string agent;
  std::string caller;
  uint32_t hops = 0;  // hop count when the step started
  std::string output;
  std::string label;
  std::string model;  // the model of the step's last call; empty when it called none
  std::string tier;
  uint32_t model_calls = 0;
  uint32_t input_tokens = 0;
  uint32_t output_tokens = 0;
  double cost_usd = 0;
  double latency_ms = 0;  // wall time of the step, calls included
  std::string error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, step_record& x) {
  return f(caf::meta::type_name("step_record"), x.step, x.kind, x.agent, x.caller, x.hops, x.output,
           x.label, x.model, x.tier, x.model_calls, x.input_tokens, x.output_tokens, x.cost_usd,
           x.latency_ms, x.error);
}

/// The record handed to a human when the supervisor stops a run.
struct handoff_record {
  std::string run_id;
  std::string thread_id;
  std::string workflow;
  std::string reason;
  std::string detail;
  std::string last_agent;
  std::string last_output;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, handoff_record& x) {
  return f(caf::meta::type_name("handoff_record"), x.run_id, x.thread_id, x.workflow, x.reason,
           x.detail, x.last_agent, x.last_output);
}

/// Statuses of a run. `escalated` carries a reason (hop_limit, budget_exhausted);
/// `failed` carries what went wrong.
enum class run_status : uint8_t { running, blocked, completed, escalated, failed };

std::string to_string(run_status x);

struct run_result {
  std::string run_id;
  std::string thread_id;
  std::string workflow;
  run_status status = run_status::running;
  std::string reason;  // escalation reason or failure kind; empty when completed
  std::string detail;  // human-readable explanation
  std::string output;
  uint32_t hops = 0;
  uint32_t input_tokens = 0;
  uint32_t output_tokens = 0;
  double cost_usd = 0;
  double latency_ms = 0;
  std::vector<step_record> steps;
  bool has_handoff = false;  // message fields cannot be std::optional in CAF 0.17
  handoff_record handoff;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_result& x) {
  return f(caf::meta::type_name("run_result"), x.run_id, x.thread_id, x.workflow, x.status,
           x.reason, x.detail, x.output, x.hops, x.input_tokens, x.output_tokens, x.cost_usd,
           x.latency_ms, x.steps, x.has_handoff, x.handoff);
}

}  // namespace switchyard
