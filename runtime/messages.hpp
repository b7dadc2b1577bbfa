#pragma once
// Every message that crosses an actor boundary in Switchyard, with its CAF 0.17
// `inspect`. Each one is registered in runtime/actor_runtime.cpp; a type that is
// missing there compiles but fails when it crosses the wire.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
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

/// Routing decision traces (router/decision_trace.hpp) in their compact form
/// (runtime/trace_codec.hpp), not JSON: one per model call in model_usage, a step's
/// calls' traces one after another in step_record. Readers that want text render it
/// (trace_json, traces_json_array); most never do.
struct decision_traces {
  std::string bytes;

  bool empty() const { return bytes.empty(); }
  size_t size() const { return bytes.size(); }
  void clear() { bytes.clear(); }
  friend bool operator==(const decision_traces& a, const decision_traces& b) {
    return a.bytes == b.bytes;
  }
  friend bool operator!=(const decision_traces& a, const decision_traces& b) { return !(a == b); }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, decision_traces& x) {
  return f(caf::meta::type_name("decision_traces"), x.bytes);
}

/// A tool the model may call. `parameters_json` is the tool's JSON Schema (an object)
/// as JSON text; adapters embed it as JSON, never as a string.
struct tool_definition {
  std::string name;
  std::string description;
  std::string parameters_json;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tool_definition& x) {
  return f(caf::meta::type_name("tool_definition"), x.name, x.description, x.parameters_json);
}

/// A call to a tool that a model asked for. `arguments_json` is always the text of a
/// JSON object in canonical form (compact, keys sorted), whatever the provider sent:
/// OpenAI sends arguments as a string, Anthropic and Gemini as objects.
struct tool_call {
  std::string id;
  std::string name;
  std::string arguments_json;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tool_call& x) {
  return f(caf::meta::type_name("tool_call"), x.id, x.name, x.arguments_json);
}

/// One chat message. `role` is "system", "user", "assistant" or "tool".
/// An assistant message may carry `tool_calls` (its `content` may then be empty); a
/// tool message is the result of one call: `tool_call_id` names the call it answers
/// and `name` the tool.
struct chat_message {
  chat_message() = default;
  // The common case, {role, content}, without -Wmissing-field-initializers noise.
  chat_message(std::string role_in, std::string content_in)
      : role(std::move(role_in)), content(std::move(content_in)) {}

  std::string role;
  std::string content;
  std::vector<tool_call> tool_calls;
  std::string tool_call_id;
  std::string name;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chat_message& x) {
  return f(caf::meta::type_name("chat_message"), x.role, x.content, x.tool_calls, x.tool_call_id,
           x.name);
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
  // Wire options. CAF 0.17 message fields cannot be std::optional: "unset" is a
  // negative number, an empty string or an empty list, and the adapters then leave the
  // provider's default alone.
  std::vector<tool_definition> tools;
  /// "" (provider default), "auto", "none", "required" (some tool must be called), or
  /// any other value: the name of the one tool the model must call.
  std::string tool_choice;
  double temperature = -1;  // negative: unset
  double top_p = -1;        // negative: unset
  std::vector<std::string> stop;
  bool json_mode = false;  // ask for a JSON object as the reply
  bool logprobs = false;   // ask for per-token log probabilities
  uint32_t top_logprobs = 0;
  bool stream = false;  // deliver the reply as stream_delta messages, then the response
  // Routing inputs (router/routing_policy.hpp). All optional: empty means "not said".
  std::string route;          // a route the caller already chose (e.g. a router agent)
  std::string data_class;     // public, internal, pii, health, financial, private
  std::string latency_class;  // realtime, interactive (default), batch
  std::vector<std::string> capabilities;  // required: tools, vision, json_mode, logprobs
  std::map<std::string, std::string> metadata;  // task_type, priority, user_tier, ...
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_request& x) {
  return f(caf::meta::type_name("model_request"), x.ctx, x.call_id, x.messages, x.max_tokens,
           x.model, x.tier, x.tools, x.tool_choice, x.temperature, x.top_p, x.stop, x.json_mode,
           x.logprobs, x.top_logprobs, x.stream, x.route, x.data_class, x.latency_class,
           x.capabilities, x.metadata);
}

/// What one model call consumed and where it ran.
struct model_usage {
  std::string model_id;
  std::string tier;
  uint32_t input_tokens = 0;
  uint32_t output_tokens = 0;
  double cost_usd = 0;
  double latency_ms = 0;
  // How the router decided (router/decision_trace.hpp): the route, whether a cheaper
  // tier than intended answered, and the machine-readable trace (compact form).
  std::string route;
  bool downgraded = false;
  decision_traces decision;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_usage& x) {
  return f(caf::meta::type_name("model_usage"), x.model_id, x.tier, x.input_tokens, x.output_tokens,
           x.cost_usd, x.latency_ms, x.route, x.downgraded, x.decision);
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
  /// Every field as a default model_error has it (ok() and nothing else said).
  bool blank() const {
    return kind.empty() && message.empty() && retry_after_ms == 0 && provider.empty();
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_error& x) {
  return f(caf::meta::type_name("model_error"), x.kind, x.message, x.retry_after_ms, x.provider);
}

/// The log probability of one generated token.
struct token_logprob {
  std::string token;
  double logprob = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, token_logprob& x) {
  return f(caf::meta::type_name("token_logprob"), x.token, x.logprob);
}

struct model_response {
  std::string call_id;
  std::string text;
  /// Normalised over providers: "stop", "length", "tool_calls" or "content_filter".
  std::string finish_reason;
  model_usage usage;
  model_error error;
  std::vector<tool_call> tool_calls;
  std::vector<token_logprob> logprobs;  // empty unless asked for and returned

  bool ok() const { return error.ok(); }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_response& x) {
  return f(caf::meta::type_name("model_response"), x.call_id, x.text, x.finish_reason, x.usage,
           x.error, x.tool_calls, x.logprobs);
}

/// What a streaming delta carries.
enum class stream_delta_kind : uint8_t { text, tool_call, usage, finish };

std::string to_string(stream_delta_kind x);

/// One piece of a streamed reply, delivered in order. `text` deltas carry a fragment
/// of the reply in `text`. `tool_call` deltas carry the call's position `index`, and
/// fragments: `id` and `name` arrive (usually once) with the first fragment of a call,
/// `text` holds a fragment of its arguments JSON. `usage` deltas carry token counts
/// in `input_tokens` / `output_tokens`; `finish` carries the normalised finish_reason
/// in `text`. The final model_response holds the assembled whole.
struct stream_delta {
  std::string call_id;
  stream_delta_kind kind = stream_delta_kind::text;
  uint32_t index = 0;
  std::string id;
  std::string name;
  std::string text;
  uint32_t input_tokens = 0;
  uint32_t output_tokens = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stream_delta& x) {
  return f(caf::meta::type_name("stream_delta"), x.call_id, x.kind, x.index, x.id, x.name, x.text,
           x.input_tokens, x.output_tokens);
}

/// Sent to a streaming requester when a stream broke after deltas went out and the
/// reply continues on another model (router/model_service.cpp). The deltas that follow
/// come from `to_model`, which was given the `kept_chars` characters already streamed
/// as an assistant prefill: the requester keeps what it has and appends. The final
/// model_response holds the whole text and names `to_model`. No switch happens once a
/// tool call delta went out: that reply ends with an error instead.
struct stream_switch {
  std::string call_id;
  std::string from_model;
  std::string to_model;
  std::string reason;  // why the first stream ended, e.g. "connection: closed mid-body"
  uint32_t kept_chars = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stream_switch& x) {
  return f(caf::meta::type_name("stream_switch"), x.call_id, x.from_model, x.to_model, x.reason,
           x.kept_chars);
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
  // Set by engine::run_all, which writes every run of a batch before any starts: the
  // run's checkpoint 0 is on disk (under run_id and thread_id), so the run does not
  // write it again. Run actors take this in their run_request handler rather than a
  // message of its own: each handler of a behaviour costs every run actor ~60 bytes.
  bool checkpoint_written = false;
  bool own_thread = false;  // with checkpoint_written: thread_id was made up for the run
  int64_t created_ms = 0;   // with checkpoint_written: when checkpoint 0 was made
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_request& x) {
  return f(caf::meta::type_name("run_request"), x.workflow, x.input, x.thread_id, x.run_id,
           x.checkpoint_written, x.own_thread, x.created_ms);
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
  // Routing of the step's calls: the last call's route, whether any call was
  // downgraded, and one decision trace per call (compact form; traces_json_array
  // renders the JSON array).
  std::string route;
  bool downgraded = false;
  decision_traces decisions;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, step_record& x) {
  return f(caf::meta::type_name("step_record"), x.step, x.kind, x.agent, x.caller, x.hops, x.output,
           x.label, x.model, x.tier, x.model_calls, x.input_tokens, x.output_tokens, x.cost_usd,
           x.latency_ms, x.error, x.route, x.downgraded, x.decisions);
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

// -- streamed model calls: the route -------------------------------------------------

/// Sent to a streaming requester (model_request.stream) when an attempt that streams
/// starts, before its first stream_delta: the model, tier and route the reply is coming
/// from, so a gateway can send them as response headers. After a fallback another one
/// comes for the new attempt. Whether the reply ends up downgraded is only known with
/// the final model_response.
struct stream_routed {
  std::string call_id;
  std::string model_id;
  std::string tier;
  std::string route;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stream_routed& x) {
  return f(caf::meta::type_name("stream_routed"), x.call_id, x.model_id, x.tier, x.route);
}

}  // namespace switchyard
