#include "server/cli_support.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "agents/support_shared.hpp"
#include "agents/support_ticket.hpp"
#include "examples/builtin_workflows.hpp"
#include "examples/support/support_runner.hpp"
#include "router/request_audit.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/config.hpp"
#include "runtime/logging.hpp"
#include "runtime/run_result_json.hpp"
#include "server/cli_common.hpp"
#include "server/cli_runs.hpp"
#include "workflows/cost_report.hpp"
#include "workflows/engine.hpp"
#include "workflows/run_report.hpp"

namespace switchyard::cli {

namespace {

using examples::support_outcome;


// A one-line bar redrawn in place on stderr.
void draw_progress(size_t done, size_t total) {
  constexpr size_t width = 30;
  size_t filled = total == 0 ? width : done * width / total;
  std::cerr << '\r' << '[' << std::string(filled, '#') << std::string(width - filled, '.') << "] "
            << done << '/' << total << " tickets" << (done == total ? "\n" : "") << std::flush;
}

std::string indent(const std::string& text, const std::string& pad) {
  std::string out = pad;
  for (char c : text) {
    out += c;
    if (c == '\n') out += pad;
  }
  return out;
}

// One ticket for people: its outcome line, then the reply (or the error).
void print_outcome(const support_outcome& o, bool full) {
  const auto& id = o.ticket.id;
  if (!o.ran) {
    std::cout << fmt::format("[{}] error: {}\n", id, o.error);
    return;
  }
  const auto& r = o.result;
  if (o.rejected) {
    std::cout << fmt::format("[{}] rejected: {}\n", id, r.detail);
    return;
  }
  double cost = 0;
  for (const auto& c : o.calls) cost += c.cost_usd;
  std::cout << fmt::format("[{}] {}{}  route {} -> {}  {} model calls  ${:.6f}  {:.0f} ms\n", id,
                           to_string(r.status), r.reason.empty() ? "" : " (" + r.reason + ")",
                           o.route.empty() ? "-" : o.route, o.agent.empty() ? "-" : o.agent,
                           o.calls.size(), cost, r.latency_ms);
  if (full) {
    std::cout << describe_run(r);
  } else if (!r.output.empty()) {
    std::cout << indent(r.output, "    ") << '\n';
  } else if (r.has_handoff) {
    std::cout << fmt::format("    handed to a person: {}\n", r.detail);
  } else if (!r.detail.empty()) {
    std::cout << fmt::format("    {}\n", r.detail);
  }
}

nlohmann::json outcome_json(const support_outcome& o) {
  nlohmann::json j;
  if (o.ran) j = to_json(o.result);
  j["ticket"] = o.ticket.id;
  if (!o.ran) {
    j["status"] = "rejected";
    j["error"] = o.error;
  } else if (o.rejected) {
    j["error"] = o.error;
  }
  j["route"] = o.route;
  j["agent"] = o.agent;
  if (o.ticket.has_expected) j["expected_route"] = o.ticket.expected_route;
  auto& calls = j["calls"] = nlohmann::json::array();
  for (const auto& c : o.calls)
    calls.push_back({{"model", c.model_id},
                     {"tier", c.tier},
                     {"input_tokens", c.input_tokens},
                     {"output_tokens", c.output_tokens},
                     {"cost_usd", c.cost_usd}});
  return j;
}

void print_report(const cost_report& report, bool json) {
  if (json) {
    nlohmann::json j;
    j["report"] = report.to_json();
    std::cout << j.dump() << '\n';
  } else {
    std::cout << '\n' << report.text();
  }
}

// Turns of one thread from stdin; each line is the customer's next message.
int interactive(engine& eng, support_shared& shared, const run_options& opts, cost_report& report) {
  std::string thread = opts.thread_id;
  if (thread.empty()) {
    std::random_device rd;
    thread = fmt::format("chat-{:06x}", rd() & 0xffffff);
  }
  std::vector<chat_message> history;
  std::string line;
  int status = 0;
  if (isatty(STDIN_FILENO))
    std::cerr << "thread " << thread << ": type a message per line, Ctrl-D to end\n";
  while (std::getline(std::cin, line)) {
    support_ticket envelope;
    envelope.text = line;
    envelope.history = history;
    support_outcome o;
    o.ticket.id = fmt::format("turn {}", history.size() / 2 + 1);
    o.ran = true;
    o.result = eng.run({"support", to_envelope(envelope), thread, {}});
    o.calls = shared.end_run(o.result.run_id);
    examples::routed_by(o.result, o.route, o.agent);
    o.rejected = o.result.status == run_status::failed && o.result.reason == "bad_input";
    if (o.rejected) o.error = o.result.detail;
    if (opts.json)
      std::cout << outcome_json(o).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << '\n';
    else
      print_outcome(o, false);
    std::cout.flush();
    report.add(examples::to_report_run(o));
    if (o.result.status == run_status::failed && !o.rejected) status = 1;
    if (o.rejected) continue;  // nothing to remember from an empty line
    history.emplace_back("user", line);
    history.emplace_back("assistant", o.result.output.empty() ? o.result.detail : o.result.output);
  }
  return status;
}

}  // namespace

int support_command(const run_options& opts) {
  auto cfg = load_config_and_logging(opts.config_path, opts.log_level);
  if (!cfg) return 2;

  auto shared = std::make_shared<support_shared>();
  workflow_registry registry;
  if (auto problem = examples::register_builtin_workflows(registry, shared); !problem.empty()) {
    std::cerr << problem << '\n';
    return 2;
  }
  if (auto problems = engine::check(*cfg, registry); !problems.empty()) {
    for (const auto& p : problems) std::cerr << opts.config_path << ": " << p << '\n';
    return 2;
  }

  std::vector<examples::support_ticket_line> tickets;
  if (!opts.batch_path.empty()) {
    std::string text;
    if (!read_file(opts.batch_path, text)) {
      std::cerr << "run: cannot read batch file '" << opts.batch_path << "'\n";
      return 2;
    }
    tickets = examples::parse_ticket_lines(text, opts.batch_path);
  } else if (!opts.interactive) {
    examples::support_ticket_line one;
    one.id = "input";
    one.turns.push_back(opts.input);
    tickets.push_back(std::move(one));
  }

  std::shared_ptr<checkpoint_store> store;
  if (!opts.no_db) {
    auto opened = checkpoint_store::open({store_path(opts.db, cfg.get()), cfg->store.sync, false});
    if (!opened.ok()) {
      std::cerr << "run: " << opened.error << '\n';
      return 2;
    }
    store = std::move(opened.store);
  }
  std::shared_ptr<request_audit> audit;
  if (!opts.audit_path.empty()) {
    audit = std::make_shared<request_audit>(opts.audit_path);
    if (!audit->error().empty()) {
      std::cerr << "run: " << audit->error() << '\n';
      return 2;
    }
  }

  cost_report report{*cfg};
  int status = 0;
  try {
    actor_runtime runtime{cfg->runtime};
    engine eng{runtime.system(),
               cfg,
               registry,
               store,
               true,
               audit ? request_audit::observer(audit) : nullptr};
    if (opts.interactive) {
      status = interactive(eng, *shared, opts, report);
    } else {
      examples::support_batch_options batch;
      batch.thread_id = opts.thread_id;
      batch.chunk = std::min<size_t>(opts.max_in_flight, 64);
      bool bar = tickets.size() > 1 && (opts.progress || isatty(STDERR_FILENO));
      if (bar) batch.progress = draw_progress;
      auto outcomes = examples::run_support_tickets(eng, *shared, tickets, batch, report);
      bool single = tickets.size() == 1 && opts.batch_path.empty();
      for (const auto& o : outcomes) {
        if (opts.json)
          std::cout << outcome_json(o).dump(-1, ' ', false,
                                            nlohmann::json::error_handler_t::replace)
                    << '\n';
        else
          print_outcome(o, single);
        // With --json, stdout is for machines: say it on stderr too.
        if (!o.ran || o.rejected) {
          if (opts.json) std::cerr << fmt::format("ticket {}: {}\n", o.ticket.id, o.error);
        } else if (o.result.status == run_status::failed) {
          status = 1;
        }
      }
    }
  } catch (const std::runtime_error& e) {
    std::cerr << "switchyard run: " << e.what() << '\n';
    return 2;
  }
  print_report(report, opts.json);
  if (audit)
    std::cerr << fmt::format("audit: {} model requests written to {}\n", audit->lines(),
                             opts.audit_path);
  std::cout.flush();
  return status;
}

}  // namespace switchyard::cli
