#include "agents/agent.hpp"

#include "caf/all.hpp"

namespace switchyard {

std::string make_call_id(const step_context& ctx, uint32_t n) {
  std::string id = ctx.run_id;
  id += '/';
  id += std::to_string(ctx.step);
  id += '.';
  id += std::to_string(n);
  return id;
}

model_response transport_failure(const caf::error& err) {
  model_response resp;
  resp.error.kind = err == caf::sec::request_timeout ? "timeout" : "connection";
  resp.error.message = "model service unreachable: " + caf::to_string(err);
  return resp;
}

caf::result<step_reply> model_call_for_step(caf::event_based_actor* self, const caf::actor& models,
                                            model_request&& req) {
  if (!models) {
    auto resp = transport_failure(caf::make_error(caf::sec::invalid_argument));
    step_reply reply;
    reply.error = std::move(resp.error);
    return reply;
  }
  auto* step = self->current_mailbox_element();
  caf::mailbox_element::forwarding_stack stages{caf::actor_cast<caf::strong_actor_ptr>(self)};
  caf::actor_cast<caf::abstract_actor*>(models)->enqueue(
      caf::make_mailbox_element(std::move(step->sender), step->mid, std::move(stages),
                                std::move(req)),
      self->context());
  step->mid.mark_as_answered();  // the answer comes from the model_response handler
  return caf::delegated<step_reply>{};
}

step_reply call_failure(const std::string& to, const caf::error& err) {
  step_reply reply;
  reply.error.kind = "run_ended";
  reply.error.message = "call to '" + to + "' got no answer: " + caf::to_string(err);
  return reply;
}

caf::actor current_run(caf::event_based_actor* self) {
  return caf::actor_cast<caf::actor>(self->current_sender());
}

}  // namespace switchyard
