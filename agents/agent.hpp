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

#include <memory>
#include <string>

#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/sec.hpp"
#include "runtime/config.hpp"
#include "runtime/messages.hpp"

namespace switchyard {

class route_classifier;

/// What a factory knows when it spawns an agent.
struct agent_env {
  std::string workflow;
  std::string node;
  caf::actor models;        // the model service
  agent_settings settings;  // from the config's workflows.<workflow>.agents.<node>; may be empty
  std::shared_ptr<const config> cfg;  // the engine's config (catalog, router, support)
  /// The router's intent classifier (null without router.routes), shared so an agent
  /// that picks routes itself uses the same model as the routing policy.
  std::shared_ptr<const route_classifier> classifier;
};

using agent_factory = std::function<caf::actor(caf::actor_system&, const agent_env&)>;

/// The call id of the `n`-th model call in a step, "<run id>/<step>.<n>": unique,
/// since a step number names one agent's step within the run. Short on purpose:
/// it is held by every call in flight.
std::string make_call_id(const step_context& ctx, uint32_t n);

/// Turns a transport failure (the service is gone, a timeout) into the model_error
/// a caller handles anyway.
model_response transport_failure(const caf::error& err);

/// Sends `req` to the model service and runs `done(model_response&)` with the
/// response. Transport errors arrive as a model_response with error kind "timeout"
/// or "connection", so `done` handles one type. A template, not std::function:
/// this is on every model call's path and must not allocate for the callback. `req`
/// is taken by rvalue reference: it is moved once, into the message.
template <class Done>
void call_model(caf::event_based_actor* self, const caf::actor& models, model_request&& req,
                Done done) {
  // The error handler does not capture the call id: CAF copies handlers more than
  // once, and a string capture would cost an allocation per copy on every call.
  self->request(models, caf::infinite, std::move(req))
      .then([done](model_response& resp) mutable { done(resp); },
            [done](caf::error& err) mutable {
              auto resp = transport_failure(err);
              done(resp);
            });
}

/// Turns a failed agent call into the step_reply the caller handles anyway.
step_reply call_failure(const std::string& to, const caf::error& err);

/// Asks agent `to` of the same run through the run actor `run` (one hop) and runs
/// `done(step_reply&)` with its reply. A refused hop or a run that ended arrives as a
/// step_reply with an error.
template <class Done>
void ask_agent(caf::event_based_actor* self, const caf::actor& run, const step_context& ctx,
               const std::string& from, const std::string& to, std::string input, Done done) {
  self->request(run, caf::infinite, agent_call{ctx, from, to, std::move(input)})
      .then([done](step_reply& reply) mutable { done(reply); },
            [done, to](caf::error& err) mutable {
              auto reply = call_failure(to, err);
              done(reply);
            });
}

/// The run actor that sent the step_request being handled right now. Call it before
/// make_response_promise(): creating the promise takes over the current sender.
caf::actor current_run(caf::event_based_actor* self);

}  // namespace switchyard
