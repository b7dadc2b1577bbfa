#include "examples/support/support_runner.hpp"

#include <algorithm>

#include "agents/support_ticket.hpp"

namespace switchyard::examples {

void routed_by(const run_result& r, std::string& route, std::string& agent) {
  for (const auto& s : r.steps) {
    if (s.agent != "router" || s.output.empty()) continue;
    std::string ignored;
    auto t = read_envelope(s.output, ignored);
    route = t.route;
    agent = t.agent;
  }
}

report_run to_report_run(const support_outcome& o) {
  report_run r;
  r.has_expected = o.ticket.has_expected;
  r.expected_route = o.ticket.expected_route;
  if (!o.ran) {
    r.status = run_status::failed;
    r.reason = "bad_ticket";
    r.rejected = true;
    return r;
  }
  r.status = o.result.status;
  r.reason = o.result.reason;
  r.latency_ms = o.result.latency_ms;
  r.calls = o.calls;
  r.route = o.route;
  r.agent = o.agent;
  r.rejected = o.rejected;
  return r;
}

std::vector<support_outcome> run_support_tickets(engine& eng, support_shared& shared,
                                                 const std::vector<support_ticket_line>& tickets,
                                                 const support_batch_options& options,
                                                 cost_report& report) {
  std::vector<support_outcome> out(tickets.size());
  std::vector<size_t> to_run;
  for (size_t i = 0; i < tickets.size(); ++i) {
    out[i].ticket = tickets[i];
    if (!tickets[i].error.empty())
      out[i].error = tickets[i].error;
    else
      to_run.push_back(i);
  }
  size_t done = tickets.size() - to_run.size();
  auto chunk = std::max<size_t>(1, options.chunk);
  for (size_t from = 0; from < to_run.size(); from += chunk) {
    size_t to = std::min(to_run.size(), from + chunk);
    std::vector<run_request> requests;
    for (size_t k = from; k < to; ++k) {
      const auto& t = tickets[to_run[k]];
      requests.push_back({"support",
                          ticket_run_input(t),
                          t.thread_id.empty() ? options.thread_id : t.thread_id,
                          {}});
    }
    auto results = eng.run_all(std::move(requests), chunk);
    for (size_t k = from; k < to; ++k) {
      auto& o = out[to_run[k]];
      o.ran = true;
      o.result = std::move(results[k - from]);
      o.calls = shared.end_run(o.result.run_id);
      routed_by(o.result, o.route, o.agent);
      o.rejected = o.result.status == run_status::failed && o.result.reason == "bad_input";
      if (o.rejected) o.error = o.result.detail;
    }
    done += to - from;
    if (options.progress) options.progress(done, tickets.size());
  }
  for (const auto& o : out) report.add(to_report_run(o));
  return out;
}

}  // namespace switchyard::examples
