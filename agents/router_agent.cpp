#include "agents/router_agent.hpp"

#include <fmt/format.h>

#include "agents/support_routing.hpp"
#include "agents/support_ticket.hpp"
#include "caf/all.hpp"
#include "router/routing_policy.hpp"
#include "runtime/supervisor.hpp"

namespace switchyard {

route_pick pick_route(const route_classifier& classifier, const std::string& latest,
                      const std::vector<std::string>& earlier_customer_turns, double threshold,
                      const std::string& default_route) {
  route_pick pick;
  auto guess = classifier.classify(latest);
  pick.route = guess.route;
  pick.confidence = guess.confidence;
  if (guess.confidence < threshold && !earlier_customer_turns.empty()) {
    std::string thread;
    for (const auto& t : earlier_customer_turns) thread += t + "\n";
    thread += latest;
    auto whole = classifier.classify(thread);
    if (whole.confidence > guess.confidence) {
      pick.route = whole.route;
      pick.confidence = whole.confidence;
      pick.from_thread = true;
    }
  }
  if ((pick.route.empty() || pick.confidence < threshold) && !default_route.empty())
    pick.route = default_route;
  return pick;
}

agent_factory router_agent() {
  return [](caf::actor_system& sys, const agent_env& env) {
    auto classifier = env.classifier;
    auto cfg = env.cfg;
    return sys.spawn([classifier, cfg](caf::event_based_actor*) -> caf::behavior {
      return {[=](const step_request& req) -> step_reply {
        step_reply reply;
        if (!classifier || !cfg) {
          reply.error.kind = "no_route";
          reply.error.message =
              "the router agent needs an intent classifier: set router.routes in the config";
          return reply;
        }
        std::string problem;
        auto ticket = read_envelope(req.input, problem);
        if (!problem.empty()) {
          reply.error.kind = "bad_input";
          reply.error.message = problem;
          return reply;
        }
        std::vector<std::string> earlier;
        for (const auto& m : ticket.history)
          if (m.role == "user") earlier.push_back(m.content);
        auto pick = pick_route(*classifier, ticket.text, earlier, cfg->router.threshold,
                               cfg->router.default_route);
        ticket.route = pick.route;
        ticket.confidence = pick.confidence;
        ticket.agent = support_worker(pick.route, ticket.text);
        reply.output = to_envelope(ticket);
        reply.label = ticket.agent;
        if (ticket.agent == support_human) {
          reply.error.kind = reason_human_requested;
          reply.error.message =
              fmt::format("the customer asked for a person (route {}, confidence {:.2f})",
                          pick.route, pick.confidence);
        }
        return reply;
      }};
    });
  };
}

}  // namespace switchyard
