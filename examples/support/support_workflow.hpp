#pragma once
// The customer-support swarm as a graph (workflow "support"):
//
//   gatekeeper -> router --scripted--> scripted   --+
//                        --reasoner--> reasoner   --+--> closer -> end
//                        --(default)-> researcher --+
//   reasoner may call researcher (one hop); a request for a person ends at the router
//   with a handoff record (error kind human_requested), as do hop and budget limits.
//
// Agents live in agents/ (one file pair each); the decisions are plain classes there.
// `shared` holds the process-local vaults and call log; whoever runs the workflow
// calls shared->end_run(run_id) when a run ends.

#include <memory>

#include "agents/support_shared.hpp"
#include "workflows/graph.hpp"

namespace switchyard::examples {

graph_builder support_graph(std::shared_ptr<support_shared> shared);

}  // namespace switchyard::examples
