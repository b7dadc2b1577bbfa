#pragma once
// An agent that answers each step with one model call: an optional system prompt,
// then the step's input (or a prompt built from it) as the user message.

#include <cstdint>
#include <functional>
#include <string>

#include "agents/agent.hpp"

namespace switchyard {

struct model_agent_spec {
  std::string system_prompt;
  std::string tier;   // which tier to ask for; empty: the model service's default
  std::string model;  // pin a model id instead of a tier
  uint32_t max_tokens = 256;
  /// Builds the user message from the step; default: the step's input as is.
  std::function<std::string(const step_request&)> prompt;
};

/// A factory for a model-calling agent. Non-empty fields of the config's
/// workflows.<workflow>.agents.<node> override the spec (model, tier, max_tokens,
/// system_prompt), so deployments re-tier agents without recompiling.
agent_factory model_agent(model_agent_spec spec);

}  // namespace switchyard
