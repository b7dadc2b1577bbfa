#pragma once
// The loop workflow: `ping` asks `pong`, which asks `ping`, which asks `pong`... It
// never ends by itself; it exists to show (and test) that the supervisor stops it
// at max_hops with status escalated / hop_limit.

#include "workflows/graph.hpp"

namespace switchyard::examples {

/// An agent that answers every step by asking `target` and returning its answer.
agent_factory relay_agent(std::string target);

graph_builder loop_graph();

}  // namespace switchyard::examples
