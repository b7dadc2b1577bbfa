#pragma once
// An agent whose step is a plain function: no model call, no hop. Deterministic
// steps (a rule-based classifier, a formatter, a scripted answer) are written as these.

#include <functional>

#include "agents/agent.hpp"

namespace switchyard {

using step_function = std::function<step_reply(const step_request&)>;

/// A factory for an agent that answers each step with `fn(request)`. `fn` runs on
/// the agent's actor and must not block; it is shared by every run.
agent_factory function_agent(step_function fn);

}  // namespace switchyard
