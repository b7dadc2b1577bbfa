#include "agents/agent.hpp"

#include <charconv>
#include <cstring>

#include "caf/all.hpp"

namespace switchyard {

std::string make_call_id(const step_context& ctx, uint32_t n) {
  // Written once at its size: a copy of the run id and two appends reallocated it.
  char step[16];
  char call[16];
  auto step_end = std::to_chars(step, step + sizeof step, ctx.step).ptr;
  auto call_end = std::to_chars(call, call + sizeof call, n).ptr;
  // Sized once, then the parts copied in: an append per part was a library call each.
  const size_t run_size = ctx.run_id.size();
  const auto step_size = static_cast<size_t>(step_end - step);
  const auto call_size = static_cast<size_t>(call_end - call);
  std::string id;
  id.resize(run_size + 2 + step_size + call_size);
  char* at = id.data();
  std::memcpy(at, ctx.run_id.data(), run_size);
  at += run_size;
  *at++ = '/';
  std::memcpy(at, step, step_size);
  at += step_size;
  *at++ = '.';
  std::memcpy(at, call, call_size);
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
