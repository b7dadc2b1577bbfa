#include "server/cli_stub_provider.hpp"

#include <csignal>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "stub/stub_server.hpp"

namespace switchyard::cli {

int stub_provider_command(const stub_provider_options& opts) {
  stub_script script;
  if (!opts.script_path.empty()) {
    std::ifstream in{opts.script_path};
    if (!in) {
      std::cerr << "stub-provider: cannot read script '" << opts.script_path << "'\n";
      return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    auto doc = nlohmann::json::parse(text.str(), nullptr, false);
    if (doc.is_discarded()) {
      std::cerr << opts.script_path << ": not valid JSON\n";
      return 2;
    }
    std::string error;
    auto parsed = parse_stub_script(doc, error);
    if (!parsed) {
      std::cerr << opts.script_path << ": " << error << '\n';
      return 2;
    }
    script = std::move(*parsed);
  }

  // Block the stop signals before any thread starts, then wait for one synchronously.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::string error;
  auto server = stub_server::start(opts.port, std::move(script), error);
  if (!server) {
    std::cerr << error << '\n';
    return 2;
  }
  std::cout << "stub-provider listening on " << server->base_url() << std::endl;

  if (opts.max_seconds > 0) {
    timespec limit{static_cast<time_t>(opts.max_seconds), 0};
    sigtimedwait(&stop_signals, nullptr, &limit);
  } else {
    int sig = 0;
    sigwait(&stop_signals, &sig);
  }
  auto received = server->requests().size();
  auto connections = server->connections();
  server->stop();
  std::cout << "stub-provider stopped after " << received << " requests on " << connections
            << " connections" << std::endl;
  return 0;
}

}  // namespace switchyard::cli
