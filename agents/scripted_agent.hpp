#pragma once
// The support swarm's scripted agent: password recovery and order tracking as fixed
// flows over the order store (agents/scripted_flows.hpp). No model call, no tokens.

#include "agents/agent.hpp"

namespace switchyard {

/// Loads support.orders from env.cfg when spawned. Without it, or for a route with no
/// flow, steps fail with an error naming what is missing.
agent_factory scripted_agent();

}  // namespace switchyard
