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
