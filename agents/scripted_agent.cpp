#include "agents/scripted_agent.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "agents/scripted_flows.hpp"
#include "agents/support_data.hpp"
#include "agents/support_ticket.hpp"
#include "caf/all.hpp"

namespace switchyard {

agent_factory scripted_agent() {
  return [](caf::actor_system& sys, const agent_env& env) {
    std::string missing;
    std::shared_ptr<const order_store> orders;
    if (env.cfg) orders = load_support_orders(*env.cfg, missing);
    if (!orders && env.cfg && !env.cfg->support.orders.empty())
      spdlog::error("scripted agent: {}", missing);
    return sys.spawn([orders, missing](caf::event_based_actor*) -> caf::behavior {
      return {[=](const step_request& req) -> step_reply {
        step_reply reply;
        if (!orders) {
          reply.error.kind = "not_configured";
          reply.error.message = missing;
          return reply;
        }
        std::string problem;
        auto ticket = read_envelope(req.input, problem);
        scripted_flows flows{*orders};
        auto flow = flows.reply(ticket.route, ticket.text);
        if (!flow) {
          reply.error.kind = "bad_request";
          reply.error.message =
              fmt::format("the scripted agent has no flow for route '{}'", ticket.route);
          return reply;
        }
        ticket.draft = std::move(flow->text);
        ticket.source = "scripted";
        reply.output = to_envelope(ticket);
        reply.label = flow->flow;
        return reply;
      }};
    });
  };
}

}  // namespace switchyard
