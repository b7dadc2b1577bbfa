#pragma once
// The support swarm's router agent (no model call): classifies the ticket's intent
// with the router's own classifier (agent_env::classifier, trained from
// router.routes), records the route in the envelope and labels the step with the
// worker that serves it (agents/support_routing.hpp). A customer who asks for a
// person ends the run with a handoff record (error kind human_requested).

#include <string>
#include <vector>

#include "agents/agent.hpp"

namespace switchyard {

/// Which text the route is read from: the latest turn, unless the classifier is
/// unsure of it (below router.threshold) and earlier customer turns exist; then the
/// customer's turns together, latest last. Pure; exposed for tests.
struct route_pick {
  std::string route;
  double confidence = 0;
  bool from_thread = false;  // the whole thread decided, not the latest turn
};
class route_classifier;
route_pick pick_route(const route_classifier& classifier, const std::string& latest,
                      const std::vector<std::string>& earlier_customer_turns, double threshold,
                      const std::string& default_route);

agent_factory router_agent();

}  // namespace switchyard
