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

}  // namespace

agent_factory model_agent(model_agent_spec spec) {
  return [spec = std::move(spec)](caf::actor_system& sys, const agent_env& env) {
    auto effective = apply_settings(spec, env.settings);
    return sys.spawn([effective, env](caf::event_based_actor* self) -> caf::behavior {
      // The request by non-const reference: the run actor's message is not shared, so
      // the step's input moves into the prompt instead of being copied.
      return {
          [=](step_request& req) {
            model_request call;
            call.ctx = req.ctx;
            call.call_id = make_call_id(req.ctx, 0);
            call.messages.reserve(effective.system_prompt.empty() ? 1 : 2);
            if (!effective.system_prompt.empty())
              call.messages.push_back({"system", effective.system_prompt});
            call.messages.push_back(
                {"user", effective.prompt ? effective.prompt(req) : std::move(req.input)});
            call.max_tokens = effective.max_tokens;
            call.model = effective.model;
            call.tier = effective.tier;
            return model_call_for_step(self, env.models, std::move(call));
          },
          // The model service's answer, carrying the step's request (model_call_for_step):
          // the step_reply returned here answers the run actor.
          [](model_response& resp) {
            step_reply reply;
            reply.output = std::move(resp.text);
            if (!resp.usage.model_id.empty()) reply.calls.push_back(std::move(resp.usage));
            reply.error = std::move(resp.error);
            return reply;
          },
      };
    });
  };
}

}  // namespace switchyard
