#pragma once
// Runs support tickets through an engine's `support` workflow and feeds the cost
// report: what `switchyard run support` does, as a library so tests drive it too.

#include <functional>
#include <string>
#include <vector>

#include "agents/support_shared.hpp"
#include "examples/support/ticket_file.hpp"
#include "workflows/cost_report.hpp"
#include "workflows/engine.hpp"

namespace switchyard::examples {

/// One ticket's outcome. `ran` is false when the ticket line itself was bad (then
/// `error` says why and there is no run).
struct support_outcome {
  support_ticket_line ticket;
  bool ran = false;
  std::string error;
  run_result result;
  std::string route;      // picked by the router agent ("" when the run ended before it)
  std::string agent;      // the worker it picked
  bool rejected = false;  // the gatekeeper refused the ticket (bad_input)
  std::vector<model_usage> calls;
};

struct support_batch_options {
  std::string thread_id;  // for tickets without their own; empty: a thread per ticket
  size_t chunk = 32;      // runs in flight at once
  /// Called after each chunk with (tickets done, tickets in all).
  std::function<void(size_t, size_t)> progress;
};

/// Runs every good ticket (its turns as one thread: earlier ones as history), ends
/// each run in `shared` (vault erased, calls taken) and adds it to `report`.
std::vector<support_outcome> run_support_tickets(engine& eng, support_shared& shared,
                                                 const std::vector<support_ticket_line>& tickets,
                                                 const support_batch_options& options,
                                                 cost_report& report);

/// The route and worker the router agent recorded in a run's transcript.
void routed_by(const run_result& r, std::string& route, std::string& agent);

/// The report's view of one outcome.
report_run to_report_run(const support_outcome& outcome);

}  // namespace switchyard::examples
