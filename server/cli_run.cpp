#include "server/cli_run.hpp"

#include <fstream>
#include <iostream>
#include <stdexcept>
#include <sstream>

#include "examples/builtin_workflows.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/config.hpp"
#include "runtime/logging.hpp"
#include "runtime/run_result_json.hpp"
#include "server/cli_common.hpp"
#include "server/cli_runs.hpp"
#include "server/cli_support.hpp"
#include "router/request_audit.hpp"
#include "workflows/batch_input.hpp"
#include "workflows/engine.hpp"
#include "workflows/run_report.hpp"

namespace switchyard::cli {

int run_command(const run_options& opts) {
  if (opts.workflow == "support") return support_command(opts);
  if (opts.interactive) {
    std::cerr << "run: --interactive is for the support workflow\n";
    return 2;
  }
  auto cfg = load_config_and_logging(opts.config_path, opts.log_level);
  if (!cfg) return 2;

  workflow_registry registry;
  if (auto problem = examples::register_builtin_workflows(registry); !problem.empty()) {
    std::cerr << problem << '\n';
    return 2;
  }
  if (auto problems = engine::check(*cfg, registry); !problems.empty()) {
    for (const auto& p : problems) std::cerr << opts.config_path << ": " << p << '\n';
    return 2;
  }
  if (!registry.find(opts.workflow)) {
    std::cerr << "run: no workflow named '" << opts.workflow << "' (registered:";
    for (const auto& n : registry.names()) std::cerr << ' ' << n;
    std::cerr << ")\n";
    return 2;
  }

  std::vector<run_request> requests;
  if (!opts.batch_path.empty()) {
    std::string text;
    if (!read_file(opts.batch_path, text)) {
      std::cerr << "run: cannot read batch file '" << opts.batch_path << "'\n";
      return 2;
    }
    auto parsed = parse_batch(text, opts.batch_path, opts.workflow, opts.thread_id);
    if (!parsed.errors.empty()) {
      for (const auto& e : parsed.errors) std::cerr << e << '\n';
      std::cerr << "run: batch rejected, nothing was run\n";
      return 2;
    }
    requests = std::move(parsed.requests);
  } else {
    requests.push_back({opts.workflow, opts.input, opts.thread_id, {}});
  }

  std::shared_ptr<checkpoint_store> store;
  if (!opts.no_db) {
    auto path = store_path(opts.db, cfg.get());
    auto opened = checkpoint_store::open({path, cfg->store.sync, false});
    if (!opened.ok()) {
      std::cerr << "run: " << opened.error << '\n';
      return 2;
    }
    store = std::move(opened.store);
    if (cfg->store.completed_ttl_hours > 0) {
      // Retention: ended runs past their TTL go before new ones are added.
      std::string problem;
      store->erase_ended_before(
          unix_now_ms() - int64_t{cfg->store.completed_ttl_hours} * 3600 * 1000, &problem);
      if (!problem.empty()) std::cerr << "run: retention: " << problem << '\n';
    }
  }

  std::shared_ptr<request_audit> audit;
  if (!opts.audit_path.empty()) {
    audit = std::make_shared<request_audit>(opts.audit_path);
    if (!audit->error().empty()) {
      std::cerr << "run: " << audit->error() << '\n';
      return 2;
    }
  }
  std::vector<run_result> results;
  try {
    actor_runtime runtime{cfg->runtime};
    engine eng{runtime.system(), cfg, registry, store, true,
               audit ? request_audit::observer(audit) : nullptr};
    results = eng.run_all(std::move(requests), opts.max_in_flight);
  } catch (const std::runtime_error& e) {
    std::cerr << "switchyard run: " << e.what() << '\n';
    return 2;
  }
  int status = 0;
  for (const auto& r : results) {
    if (opts.json)
      std::cout << to_json(r).dump() << '\n';
    else
      std::cout << describe_run(r) << '\n';
    if (r.status == run_status::failed) status = 1;
  }
  std::cout.flush();
  return status;
}

}  // namespace switchyard::cli
