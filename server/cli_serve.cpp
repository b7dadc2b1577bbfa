#include "server/cli_serve.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/rand.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "agents/support_shared.hpp"
#include "examples/builtin_workflows.hpp"
#include "gateway/gateway_service.hpp"
#include "gateway/http_server.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/config.hpp"
#include "runtime/logging.hpp"
#include "server/cli_common.hpp"
#include "server/cli_runs.hpp"
#include "workflows/engine.hpp"

namespace switchyard::cli {

std::string keys_db_path(const std::string& flag, const std::string& configured,
                         const std::string& store_dir) {
  if (!flag.empty()) return flag;
  if (!configured.empty()) return configured;
  return store_dir + "-keys";
}

namespace {

// 32 random bytes, hex.
std::string random_token() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("OpenSSL RAND_bytes failed");
  std::string out;
  for (auto b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

// Writes the announcement readable by the owner only; false (with `error`) on failure.
bool write_private_file(const std::string& path, const std::string& text, std::string& error) {
  ::unlink(path.c_str());  // a file left by a crashed server may have other permissions
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = fmt::format("cannot write {}: {}", path, std::strerror(errno));
    return false;
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) error = fmt::format("cannot write {}: short write", path);
  return ok;
}

// "host:port" -> parts; false when malformed.
bool split_listen(const std::string& listen, std::string& host, uint16_t& port) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= listen.size()) return false;
  auto digits = listen.substr(colon + 1);
  if (digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  auto n = std::stoul(digits);
  if (n > 65535) return false;
  host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  port = static_cast<uint16_t>(n);
  return true;
}

}  // namespace

int serve_command(const serve_options& opts) {
  auto cfg = load_config_and_logging(opts.config_path, opts.log_level);
  if (!cfg) return 2;
  const auto& gw = cfg->gateway;

  std::string host;
  uint16_t port = 0;
  auto listen = opts.listen.empty() ? gw.listen : opts.listen;
  if (!split_listen(listen, host, port)) {
    std::cerr << "serve: --listen must be HOST:PORT, got '" << listen << "'\n";
    return 2;
  }

  workflow_registry registry;
  // The support swarm's vaults and call logs are per run: dropped when a run ends.
  auto support = std::make_shared<support_shared>();
  if (auto problem = examples::register_builtin_workflows(registry, support); !problem.empty()) {
    std::cerr << problem << '\n';
    return 2;
  }
  if (auto problems = engine::check(*cfg, registry); !problems.empty()) {
    for (const auto& p : problems) std::cerr << opts.config_path << ": " << p << '\n';
    return 2;
  }

  auto store_dir = store_path(opts.db, cfg.get());
  std::shared_ptr<checkpoint_store> store;
  if (!opts.no_db) {
    auto opened = checkpoint_store::open({store_dir, cfg->store.sync, false});
    if (!opened.ok()) {
      std::cerr << "serve: " << opened.error << '\n';
      return 2;
    }
    store = std::move(opened.store);
  }

  auto metrics = std::make_shared<gateway::metrics_registry>();
  std::shared_ptr<gateway::key_store> keys;
  std::string keys_path;
  if (gw.auth == "keys") {
    auto path = keys_db_path(opts.keys_db, gw.keys_path, store_dir);
    keys_path = path;
    auto opened = gateway::key_store::open(path);
    if (!opened.ok()) {
      std::cerr << "serve: " << opened.error << '\n';
      return 2;
    }
    keys = std::move(opened.store);
    if (keys->size() == 0)
      std::cerr << "serve: warning: the key database " << path
                << " holds no keys; every /v1 request will get 401 (create one with "
                   "`switchyard keys create --name NAME --db "
                << path << "`)\n";
  }
  std::shared_ptr<gateway::audit_log> audit;
  if (!gw.audit_path.empty()) {
    audit = std::make_shared<gateway::audit_log>(gw.audit_path, gw.audit_max_bytes,
                                                 gw.audit_keep_files);
    if (!audit->ok()) {
      std::cerr << "serve: " << audit->error() << '\n';
      return 2;
    }
  }

  // Stop signals are taken synchronously by this thread; block them before any
  // other thread starts so none of those gets them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  try {
    actor_runtime runtime{cfg->runtime};
    engine eng{runtime.system(), cfg, registry, store};
    gateway::gateway_parts parts;
    parts.cfg = cfg;
    parts.eng = &eng;
    parts.workflows = registry.names();
    parts.keys = keys;
    if (keys) parts.admin_token = random_token();
    const std::string admin_token = parts.admin_token;
    parts.audit = audit;
    parts.metrics = metrics;
    parts.on_run_end = [support](const std::string& run_id) { support->end_run(run_id); };
    gateway::gateway_service service{std::move(parts)};

    gateway::http_server_options http;
    http.host = host;
    http.port = port;
    http.io_threads = gw.io_threads;
    http.max_body_bytes = gw.max_body_bytes;
    http.max_header_bytes = gw.max_header_bytes;
    http.idle_timeout_ms = gw.idle_timeout_ms;
    http.read_timeout_ms = gw.read_timeout_ms;
    http.max_connections = gw.max_connections;
    gateway::http_server_hooks hooks{[metrics] { metrics->connection_opened(); },
                                     [metrics] { metrics->connection_closed(); },
                                     [metrics] { metrics->connection_refused(); }};
    std::string error;
    auto server = gateway::http_server::start(
        http,
        [&service](gateway::incoming_request req, std::shared_ptr<gateway::response_channel> ch) {
          service.handle(std::move(req), std::move(ch));
        },
        std::move(hooks), error);
    if (!server) {
      std::cerr << error << '\n';
      return 2;
    }
    service.run_calls_on(*server);
    // `switchyard keys` cannot open the key database while we hold it: tell it where
    // to ask instead.
    std::string admin_file;
    if (keys) {
      auto local = host == "0.0.0.0" ? std::string("127.0.0.1")
                   : host == "::"    ? std::string("[::1]")
                   : host.find(':') != std::string::npos ? "[" + host + "]"
                                                         : host;
      nlohmann::json announce = {{"url", fmt::format("http://{}:{}", local, server->port())},
                                 {"token", admin_token},
                                 {"pid", static_cast<int64_t>(::getpid())}};
      std::string write_error;
      if (write_private_file(gateway::keys_admin_file(keys_path), announce.dump() + "\n", write_error))
        admin_file = gateway::keys_admin_file(keys_path);
      else
        std::cerr << "serve: warning: " << write_error
                  << "; `switchyard keys` cannot reach this server\n";
    }
    service.set_ready(true);
    std::cout << "switchyard serve: listening on http://" << host << ":" << server->port()
              << std::endl;

    if (opts.exit_after_s > 0) {
      auto whole = std::floor(opts.exit_after_s);
      timespec limit{static_cast<time_t>(whole),
                     static_cast<long>((opts.exit_after_s - whole) * 1e9)};
      sigtimedwait(&stop_signals, nullptr, &limit);
    } else {
      int sig = 0;
      sigwait(&stop_signals, &sig);
    }
    service.set_ready(false);
    if (!admin_file.empty()) ::unlink(admin_file.c_str());
    server->stop();
    std::cout << "switchyard serve: stopped after "
              << static_cast<uint64_t>(metrics->total("switchyard_http_requests_total"))
              << " requests" << std::endl;
  } catch (const std::runtime_error& e) {
    std::cerr << "switchyard serve: " << e.what() << '\n';
    return 2;
  }
  return 0;
}

}  // namespace switchyard::cli
