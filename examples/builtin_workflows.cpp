#include "examples/builtin_workflows.hpp"

#include "examples/hello_graph/hello_workflow.hpp"
#include "examples/loop/loop_workflow.hpp"
#include "examples/support/support_workflow.hpp"

namespace switchyard::examples {

std::string register_builtin_workflows(workflow_registry& registry,
                                      std::shared_ptr<support_shared> support) {
  std::string errors;
  auto add = [&](const graph_builder& g, const char* description) {
    auto problem = registry.add(g, description);
    if (!problem.empty()) errors += (errors.empty() ? "" : "\n") + problem;
  };
  add(hello_graph(),
      "three agents, one branch: questions go to a mid-tier model, the rest to a local one");
  add(loop_graph(), "two agents that keep asking each other; the supervisor stops them");
  if (!support) support = std::make_shared<support_shared>();
  add(support_graph(std::move(support)),
      "customer support: gatekeeper (PII scrub), router, scripted / researcher / reasoner, "
      "closer");
  return errors;
}

}  // namespace switchyard::examples
