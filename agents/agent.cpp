#include "agents/agent.hpp"

#include "caf/all.hpp"

namespace switchyard {

std::string make_call_id(const step_context& ctx, const std::string& node, uint32_t n) {
  std::string id;
  id.reserve(ctx.run_id.size() + node.size() + 16);
  id += ctx.run_id;
  id += '/';
  id += std::to_string(ctx.step);
  id += '/';
  id += node;
  id += '/';
  id += std::to_string(n);
  return id;
}

void call_model(caf::event_based_actor* self, const caf::actor& models, model_request req,
                std::function<void(model_response&)> done) {
  auto call_id = req.call_id;
  self->request(models, caf::infinite, std::move(req))
      .then([done](model_response& resp) { done(resp); },
            [done, call_id](caf::error& err) {
              model_response resp;
              resp.call_id = call_id;
              resp.error.kind = err == caf::sec::request_timeout ? "timeout" : "connection";
              resp.error.message = "model service unreachable: " + caf::to_string(err);
              done(resp);
            });
}

void ask_agent(caf::event_based_actor* self, const caf::actor& run, const step_context& ctx,
               const std::string& from, const std::string& to, std::string input,
               std::function<void(step_reply&)> done) {
  self->request(run, caf::infinite, agent_call{ctx, from, to, std::move(input)})
      .then([done](step_reply& reply) { done(reply); },
            [done, to](caf::error& err) {
              step_reply reply;
              reply.error.kind = "run_ended";
              reply.error.message = "call to '" + to + "' got no answer: " + caf::to_string(err);
              done(reply);
            });
}

caf::actor current_run(caf::event_based_actor* self) {
  return caf::actor_cast<caf::actor>(self->current_sender());
}

}  // namespace switchyard
