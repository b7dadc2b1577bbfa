#include "agents/agent.hpp"

#include <charconv>

#include "caf/all.hpp"

namespace switchyard {

std::string make_call_id(const step_context& ctx, uint32_t n) {
  // Written once at its size: a copy of the run id and two appends reallocated it.
  char step[16];
  char call[16];
  auto step_end = std::to_chars(step, step + sizeof step, ctx.step).ptr;
  auto call_end = std::to_chars(call, call + sizeof call, n).ptr;
  std::string id;
  id.reserve(ctx.run_id.size() + 2 + static_cast<size_t>(step_end - step) +
             static_cast<size_t>(call_end - call));
  id += ctx.run_id;
  id += '/';
  id.append(step, step_end);
  id += '.';
  id.append(call, call_end);
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
