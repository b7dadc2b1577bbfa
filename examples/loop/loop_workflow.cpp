#include "examples/loop/loop_workflow.hpp"

#include "caf/all.hpp"

namespace switchyard::examples {

agent_factory relay_agent(std::string target) {
  return [target](caf::actor_system& sys, const agent_env& env) {
    return sys.spawn([target, node = env.node](caf::event_based_actor* self) -> caf::behavior {
      return {[=](const step_request& req) {
        auto run = current_run(self);  // before make_response_promise, which takes the sender
        auto promise = self->make_response_promise<step_reply>();
        ask_agent(self, run, req.ctx, node, target, node + " asks " + target,
                  [promise](step_reply& answer) mutable { promise.deliver(std::move(answer)); });
        return promise;
      }};
    });
  };
}

graph_builder loop_graph() {
  graph_builder g{"loop"};
  g.agent("ping", relay_agent("pong"))
      .agent("pong", relay_agent("ping"))
      .calls("ping", "pong")
      .calls("pong", "ping");
  return g;
}

}  // namespace switchyard::examples
