#include "agents/model_agent.hpp"

#include "caf/all.hpp"

namespace switchyard {

namespace {

model_agent_spec apply_settings(model_agent_spec spec, const agent_settings& s) {
  if (!s.model.empty()) {
    spec.model = s.model;
    spec.tier.clear();
  }
  if (!s.tier.empty()) {
    spec.tier = s.tier;
    spec.model.clear();
  }
  if (s.max_tokens > 0) spec.max_tokens = s.max_tokens;
  if (!s.system_prompt.empty()) spec.system_prompt = s.system_prompt;
  return spec;
}

// Sends a model_request to the model service as the answer to the step_request being
// handled: the message goes out with the step's sender and request id and this agent as
// its next stage, so the service's model_response comes back to this agent as a message
// that carries the step's request. The agent answers the step from its
// `model_response&` handler (answer_step) and holds nothing per call (a pending response
// handler per call cost ~310 B with ten thousand steps waiting). If the service is gone,
// CAF's error for the request goes to the run actor, which fails the step (agent_error).
// `fill` writes the request where the message holds it: a model_request is large, and
// moving one into a message, then out of it into the service's call record, cost two
// moves per call (the service keeps this message instead: model_service.cpp).
template <class Fill>
caf::result<step_reply> model_call_for_step(caf::event_based_actor* self, const caf::actor& models,
                                            Fill fill) {
  if (!models) {  // what a request to no actor answers
    step_reply reply;
    reply.error = transport_failure(caf::make_error(caf::sec::invalid_argument)).error;
    return reply;
  }
  auto data = caf::make_counted<caf::detail::tuple_vals<model_request>>();
  fill(std::get<0>(data->data()));
  auto* step = self->current_mailbox_element();
  caf::mailbox_element::forwarding_stack stages{caf::actor_cast<caf::strong_actor_ptr>(self)};
  caf::actor_cast<caf::abstract_actor*>(models)->enqueue(
      caf::make_mailbox_element(std::move(step->sender), step->mid, std::move(stages),
                                caf::message{caf::message::data_ptr{std::move(data)}}),
      self->context());
  step->mid.mark_as_answered();  // the answer comes from the model_response handler
  return caf::delegated<step_reply>{};
}

// Answers the step whose model_response is being handled (the message carries the
// step's sender and request id, see model_call_for_step) with a step_reply written in
// place in its message: returning it from the handler would move it into a message and
// that into a mailbox element of its own. Anything else (a forwarded request, one
// already answered) goes the usual way, through the returned result.
caf::result<step_reply> answer_step(caf::event_based_actor* self, model_response& resp) {
  auto fill = [&resp](step_reply& reply) {
    reply.output = std::move(resp.text);
    if (!resp.usage.model_id.empty()) reply.calls.push_back(std::move(resp.usage));
    reply.error = std::move(resp.error);
  };
  auto* step = self->current_mailbox_element();
  if (!step->sender || !step->stages.empty() || !step->mid.is_request() ||
      step->mid.is_answered()) {
    step_reply reply;
    fill(reply);
    return reply;
  }
  auto* answer = new caf::mailbox_element_vals<step_reply>(
      caf::actor_cast<caf::strong_actor_ptr>(self), step->mid.response_id(), {});
  fill(std::get<0>(answer->data()));
  step->sender->enqueue(caf::mailbox_element_ptr{answer}, self->context());
  step->mid.mark_as_answered();
  return caf::delegated<step_reply>{};
}

}  // namespace

agent_factory model_agent(model_agent_spec spec) {
  return [spec = std::move(spec)](caf::actor_system& sys, const agent_env& env) {
    auto effective = apply_settings(spec, env.settings);
    return sys.spawn([effective, env](caf::event_based_actor* self) -> caf::behavior {
      // The request by non-const reference: the run actor's message is not shared, so
      // the step's input moves into the prompt instead of being copied.
      return {
          [=](step_request& req) {
            return model_call_for_step(self, env.models, [&](model_request& call) {
              call.messages.reserve(effective.system_prompt.empty() ? 1 : 2);
              if (!effective.system_prompt.empty())
                call.messages.emplace_back("system", effective.system_prompt);
              call.messages.emplace_back(
                  "user", effective.prompt ? effective.prompt(req) : std::move(req.input));
              call.call_id = make_call_id(req.ctx, 0);
              call.ctx = std::move(req.ctx);  // last: the prompt function may read the step
              call.max_tokens = effective.max_tokens;
              call.model = effective.model;
              call.tier = effective.tier;
            });
          },
          // The model service's answer, carrying the step's request (model_call_for_step):
          // it answers the run actor.
          [self](model_response& resp) { return answer_step(self, resp); },
      };
    });
  };
}

}  // namespace switchyard
