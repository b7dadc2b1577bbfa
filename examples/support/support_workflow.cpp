#include "examples/support/support_workflow.hpp"

#include "agents/closer_agent.hpp"
#include "agents/gatekeeper_agent.hpp"
#include "agents/reasoner_agent.hpp"
#include "agents/researcher_agent.hpp"
#include "agents/router_agent.hpp"
#include "agents/scripted_agent.hpp"
#include "agents/support_routing.hpp"

namespace switchyard::examples {

graph_builder support_graph(std::shared_ptr<support_shared> shared) {
  graph_builder g{"support"};
  g.agent("gatekeeper", gatekeeper_agent(shared))
      .agent("router", router_agent())
      .agent(support_scripted, scripted_agent())
      .agent(support_researcher, researcher_agent(shared))
      .agent(support_reasoner, reasoner_agent(shared))
      .agent("closer", closer_agent(shared))
      .edge("gatekeeper", "router")
      .branch_on_label("router", support_scripted, support_scripted)
      .branch_on_label("router", support_reasoner, support_reasoner)
      .edge("router", support_researcher)
      .calls(support_reasoner, support_researcher)
      .edge(support_scripted, "closer")
      .edge(support_researcher, "closer")
      .edge(support_reasoner, "closer");
  return g;
}

}  // namespace switchyard::examples
