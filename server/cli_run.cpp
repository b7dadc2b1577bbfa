#include "server/cli_run.hpp"

#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "examples/builtin_workflows.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/config.hpp"
#include "runtime/logging.hpp"
#include "runtime/run_result_json.hpp"
#include "workflows/engine.hpp"
#include "workflows/run_report.hpp"

namespace switchyard::cli {

batch_parse_result parse_batch(const std::string& text, const std::string& path,
                               const std::string& workflow, const std::string& default_thread) {
  batch_parse_result out;
  std::istringstream lines{text};
  std::string line;
  size_t number = 0;
  auto bad = [&](const std::string& problem) {
    out.errors.push_back(path + ":" + std::to_string(number) + ": " + problem);
  };
  while (std::getline(lines, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    auto doc = nlohmann::json::parse(line, nullptr, false);
    if (doc.is_discarded()) {
      bad("not valid JSON");
      continue;
    }
    if (!doc.is_object()) {
      bad("must be a JSON object, got " + doc.dump());
      continue;
    }
    run_request req{workflow, {}, default_thread, {}};
    bool ok = true;
    for (const auto& [key, value] : doc.items()) {
      std::string* target = key == "input"       ? &req.input
                            : key == "thread_id" ? &req.thread_id
                            : key == "run_id"    ? &req.run_id
                                                 : nullptr;
      if (!target) {
        bad("unknown key '" + key + "' (allowed: input, thread_id, run_id)");
        ok = false;
      } else if (!value.is_string()) {
        bad("'" + key + "' must be a string, got " + value.dump());
        ok = false;
      } else {
        *target = value.get<std::string>();
      }
    }
    if (!doc.contains("input")) {
      bad("'input' is required");
      ok = false;
    }
    if (ok)
      out.requests.push_back(std::move(req));
  }
  if (!out.errors.empty())
    out.requests.clear();
  return out;
}

namespace {

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return false;
  std::ostringstream buf;
  buf << in.rdbuf();
  out = buf.str();
  return true;
}

}  // namespace

int run_command(const run_options& opts) {
  auto loaded = load_config_file(opts.config_path);
  if (!loaded.ok()) {
    std::cerr << loaded.message() << '\n';
    return 2;
  }
  auto cfg = std::make_shared<const config>(std::move(*loaded.value));
  init_logging(opts.log_level.empty() ? cfg->runtime.log_level : opts.log_level);

  workflow_registry registry;
  if (auto problem = examples::register_builtin_workflows(registry); !problem.empty()) {
    std::cerr << problem << '\n';
    return 2;
  }
  if (auto problems = engine::check(*cfg, registry); !problems.empty()) {
    for (const auto& p : problems)
      std::cerr << opts.config_path << ": " << p << '\n';
    return 2;
  }
  if (!registry.find(opts.workflow)) {
    std::cerr << "run: no workflow named '" << opts.workflow << "' (registered:";
    for (const auto& n : registry.names())
      std::cerr << ' ' << n;
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
      for (const auto& e : parsed.errors)
        std::cerr << e << '\n';
      std::cerr << "run: batch rejected, nothing was run\n";
      return 2;
    }
    requests = std::move(parsed.requests);
  } else {
    requests.push_back({opts.workflow, opts.input, opts.thread_id, {}});
  }

  std::vector<run_result> results;
  {
    actor_runtime runtime{cfg->runtime};
    engine eng{runtime.system(), cfg, registry};
    results = eng.run_all(std::move(requests));
  }
  int status = 0;
  for (const auto& r : results) {
    if (opts.json)
      std::cout << to_json(r).dump() << '\n';
    else
      std::cout << describe_run(r) << '\n';
    if (r.status == run_status::failed)
      status = 1;
  }
  std::cout.flush();
  return status;
}

}  // namespace switchyard::cli
