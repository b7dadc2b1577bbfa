#pragma once
// What an agent is to Switchyard, and helpers for writing one.
//
// An agent is a CAF actor spawned by an agent_factory, once per workflow per engine;
// it then serves every run of that workflow concurrently, so per-run state travels in
// the messages, never in the actor. Protocol:
//   - it receives step_request and replies step_reply (by value, or later through a
//     response promise; many steps may be in flight at once);
//   - to call a model it requests model_request from `env.models` (reply:
//     model_response; errors come inside the response);
//   - to ask another agent of the same run it requests agent_call from the run actor,
//     which is the sender of its step_request (reply: step_reply). Every such call is
//     a hop counted by the supervisor; the graph must declare it with calls(from, to).

#include <functional>
#include <string>

#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"
#include "runtime/config.hpp"
#include "runtime/messages.hpp"

namespace switchyard {

/// What a factory knows when it spawns an agent.
struct agent_env {
  std::string workflow;
  std::string node;
  caf::actor models;        // the model service
  agent_settings settings;  // from the config's workflows.<workflow>.agents.<node>; may be empty
};

using agent_factory = std::function<caf::actor(caf::actor_system&, const agent_env&)>;

/// The call id of the `n`-th model call in a step: unique within the run.
std::string make_call_id(const step_context& ctx, const std::string& node, uint32_t n);

/// Sends `req` to the model service and runs `done` with the response. Transport
/// errors (the service is gone, the timeout passes) arrive as a model_response with
/// error kind "timeout" or "connection", so `done` handles one type.
void call_model(caf::event_based_actor* self, const caf::actor& models, model_request req,
                std::function<void(model_response&)> done);

/// Asks agent `to` of the same run through the run actor `run` (one hop) and runs
/// `done` with its reply. A refused hop or a run that ended arrives as a step_reply
/// with an error.
void ask_agent(caf::event_based_actor* self, const caf::actor& run, const step_context& ctx,
               const std::string& from, const std::string& to, std::string input,
               std::function<void(step_reply&)> done);

/// The run actor that sent the step_request being handled right now. Call it before
/// make_response_promise(): creating the promise takes over the current sender.
caf::actor current_run(caf::event_based_actor* self);

}  // namespace switchyard
