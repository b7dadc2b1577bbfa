#include "agents/function_agent.hpp"

#include "caf/all.hpp"

namespace switchyard {

agent_factory function_agent(step_function fn) {
  return [fn = std::move(fn)](caf::actor_system& sys, const agent_env&) {
    return sys.spawn([fn](caf::event_based_actor*) -> caf::behavior {
      return {[fn](const step_request& req) { return fn(req); }};
    });
  };
}

}  // namespace switchyard
