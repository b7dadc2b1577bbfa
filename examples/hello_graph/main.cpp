// Embedding Switchyard: define a graph in C++, load a config, run it, read the result.
//
//   build/bin/hello_graph [config.json] [message]

#include <iostream>
#include <memory>

#include "examples/hello_graph/hello_workflow.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/config.hpp"
#include "runtime/logging.hpp"
#include "workflows/engine.hpp"
#include "workflows/run_report.hpp"

int main(int argc, char** argv) {
  using namespace switchyard;
  std::string config_path = argc > 1 ? argv[1] : "examples/configs/default.json";
  std::string message = argc > 2 ? argv[2] : "Can I change the delivery address of my order?";

  auto loaded = load_config_file(config_path);
  if (!loaded.ok()) {
    std::cerr << loaded.message() << '\n';
    return 2;
  }
  auto cfg = std::make_shared<const config>(std::move(*loaded.value));
  init_logging(cfg->runtime.log_level);

  workflow_registry registry;
  if (auto problem = registry.add(examples::hello_graph(), "hello"); !problem.empty()) {
    std::cerr << problem << '\n';
    return 2;
  }
  actor_runtime runtime{cfg->runtime};
  engine eng{runtime.system(), cfg, registry};
  auto result = eng.run({"hello", message, {}, {}});
  std::cout << describe_run(result);
  return result.status == run_status::completed ? 0 : 1;
}
