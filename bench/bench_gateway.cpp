// bench_gateway: what the gateway adds on top of the provider it calls. In one run:
//   1. load straight at the in-process stub provider (OpenAI chat completions), then the
//      same load through `switchyard serve`'s gateway (in-process: Beast server, CAF
//      model service, HTTP client to the same stub), at fixed request rates (open loop:
//      requests go out on schedule whatever the replies do, so queueing shows in the
//      latency instead of being hidden), keep-alive connections. Per rate: achieved
//      throughput, p50/p99 of each path, the added p50/p99 and the throughput ratio.
//   2. RSS of this process (the gateway; the stub runs in a child process, since it
//      records every request it gets) before and after N requests through the gateway
//      (closed loop, as fast as it goes): it must stay flat.
// Usage: bench_gateway [--rates 500,1000,2000] [--seconds 3] [--rss-requests 1000000]
//                      [--connections 8]
// Last stdout line: one JSON object with every figure.

#include <fmt/format.h>
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gateway/gateway_service.hpp"
#include "gateway/http_server.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/config.hpp"
#include "stub/stub_server.hpp"
#include "workflows/engine.hpp"
#include "workflows/workflow_registry.hpp"

using namespace switchyard;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

double percentile(std::vector<double> xs, double p) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  return xs[static_cast<size_t>(p * static_cast<double>(xs.size() - 1))];
}

size_t rss_bytes() {
  std::ifstream in{"/proc/self/statm"};
  size_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

const std::string body_for(const std::string& model) {
  return json{{"model", model},
              {"max_tokens", 16},
              {"messages", json::array({{{"role", "user"}, {"content", "ping the stub"}}})}}
      .dump();
}

// One kept-alive connection doing blocking request/response.
struct connection {
  net::io_context ioc;
  tcp::socket sock{ioc};
  beast::flat_buffer buf;
  http::request<http::string_body> req;

  connection(uint16_t port, const std::string& target, const std::string& body) {
    sock.connect({net::ip::make_address("127.0.0.1"), port});
    sock.set_option(tcp::no_delay(true));
    req = {http::verb::post, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
  }
  bool call() {
    beast::error_code ec;
    http::write(sock, req, ec);
    if (ec) return false;
    http::response<http::string_body> res;
    http::read(sock, buf, res, ec);
    return !ec && res.result_int() == 200;
  }
};

struct load_result {
  double rps = 0;
  double p50_us = 0, p99_us = 0;
  size_t errors = 0;
};

// `rate` requests/s spread over `conns` connections, each on its own thread sending on
// schedule; latency counts from the scheduled send time.
load_result fixed_rate(uint16_t port, const std::string& target, const std::string& body,
                       double rate, double seconds, int conns) {
  std::vector<std::vector<double>> lat(conns);
  std::atomic<size_t> errors{0};
  auto start = steady::now() + std::chrono::milliseconds(50);
  auto total = static_cast<size_t>(rate * seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < conns; ++c) {
    threads.emplace_back([&, c] {
      connection conn{port, target, body};
      auto interval = std::chrono::duration<double>(conns / rate);
      for (size_t i = c; i < total; i += conns) {
        auto due = start + std::chrono::duration_cast<steady::duration>(interval * (i / conns));
        std::this_thread::sleep_until(due);
        if (!conn.call()) ++errors;
        lat[c].push_back(std::chrono::duration<double, std::micro>(steady::now() - due).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(steady::now() - start).count();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  load_result r;
  r.rps = static_cast<double>(all.size()) / elapsed;
  r.p50_us = percentile(all, 0.5);
  r.p99_us = percentile(all, 0.99);
  r.errors = errors;
  return r;
}

// As fast as it goes, `n` requests over `conns` connections.
double closed_loop(uint16_t port, const std::string& target, const std::string& body, size_t n,
                   int conns, std::atomic<size_t>& errors) {
  std::atomic<size_t> next{0};
  auto start = steady::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < conns; ++c)
    threads.emplace_back([&] {
      connection conn{port, target, body};
      while (next.fetch_add(1) < n)
        if (!conn.call()) ++errors;
    });
  for (auto& t : threads) t.join();
  return static_cast<double>(n) / std::chrono::duration<double>(steady::now() - start).count();
}

std::vector<double> parse_rates(const std::string& text) {
  std::vector<double> out;
  std::stringstream in{text};
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::stod(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<double> rates = {500, 1000, 2000};
  double seconds = 3;
  size_t rss_requests = 1000000;
  int conns = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--rates")
      rates = parse_rates(argv[i + 1]);
    else if (a == "--seconds")
      seconds = std::stod(argv[i + 1]);
    else if (a == "--rss-requests")
      rss_requests = std::stoull(argv[i + 1]);
    else if (a == "--connections")
      conns = std::stoi(argv[i + 1]);
    else {
      std::cerr << "usage: bench_gateway [--rates 500,1000,2000] [--seconds 3] "
                   "[--rss-requests 1000000] [--connections 8]\n";
      return 2;
    }
  }

  // The stub runs in a child process: it records every request it gets (for tests),
  // which would swamp the gateway's own RSS, and it should not share our CPU account.
  // Forked before any thread exists.
  int port_pipe[2];
  if (pipe(port_pipe) != 0) return 1;
  pid_t stub_pid = fork();
  if (stub_pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(port_pipe[0]);
    std::string stub_error;
    auto stub = stub_server::start(0, {}, stub_error);
    uint16_t p = stub ? stub->port() : 0;
    if (write(port_pipe[1], &p, sizeof p) != sizeof p || !stub) _exit(1);
    for (;;) pause();
  }
  close(port_pipe[1]);
  uint16_t stub_port = 0;
  if (stub_pid < 0 || read(port_pipe[0], &stub_port, sizeof stub_port) != sizeof stub_port ||
      stub_port == 0) {
    std::cerr << "bench_gateway: the stub provider did not start\n";
    return 1;
  }
  std::string error;
  struct stub_info {
    uint16_t p;
    uint16_t port() const { return p; }
    std::string base_url() const { return fmt::format("http://127.0.0.1:{}", p); }
  } stub_holder{stub_port};
  auto* stub = &stub_holder;
  auto doc = json::parse(fmt::format(R"({{
    "runtime": {{"scheduler": "sharing", "workers": 2, "log_level": "warn"}},
    "tiers": ["local"],
    "providers": [{{"name": "stub", "kind": "openai", "base_url": "{}/v1",
                    "max_connections": 16}}],
    "models": [{{"id": "bench", "provider": "stub", "tier": "local", "price_in_per_mtok": 1,
                 "price_out_per_mtok": 2, "context_window": 32000, "residency": "local"}}],
    "gateway": {{"auth": "none", "max_connections": 4096}}
  }})",
                                     stub->base_url()));
  auto loaded = parse_config(doc, "bench");
  if (!loaded.ok()) {
    std::cerr << loaded.message() << '\n';
    return 1;
  }
  auto cfg = std::make_shared<const config>(std::move(*loaded.value));
  actor_runtime runtime{cfg->runtime};
  workflow_registry registry;
  engine eng{runtime.system(), cfg, registry};
  auto metrics = std::make_shared<gateway::metrics_registry>();
  gateway::gateway_parts parts;
  parts.cfg = cfg;
  parts.eng = &eng;
  parts.metrics = metrics;
  gateway::gateway_service service{std::move(parts)};
  gateway::http_server_options opts;
  opts.max_connections = 4096;
  auto server = gateway::http_server::start(
      opts,
      [&service](gateway::incoming_request r, std::shared_ptr<gateway::response_channel> ch) {
        service.handle(std::move(r), std::move(ch));
      },
      {}, error);
  if (!server) {
    std::cerr << error << '\n';
    return 1;
  }
  service.set_ready(true);
  const auto body = body_for("bench");
  const std::string target = "/v1/chat/completions";

  // Warm both paths (connection pools, allocator).
  std::atomic<size_t> warm_errors{0};
  closed_loop(stub->port(), target, body, 2000, conns, warm_errors);
  closed_loop(server->port(), target, body, 2000, conns, warm_errors);
  if (warm_errors > 0) {
    std::cerr << "bench_gateway: " << warm_errors << " warm-up requests failed\n";
    return 1;
  }

  fmt::print("bench_gateway: {} connections, keep-alive, {} s per rate, open loop\n", conns,
             seconds);
  fmt::print("{:>6}  {:>22}  {:>22}  {:>16}  {:>9}\n", "rps", "direct p50/p99 us",
             "gateway p50/p99 us", "added p50/p99", "tput x");
  json per_rate = json::array();
  double added_p99_at_top = 0, added_p50_at_top = 0;
  for (double rate : rates) {
    auto direct = fixed_rate(stub->port(), target, body, rate, seconds, conns);
    auto via = fixed_rate(server->port(), target, body, rate, seconds, conns);
    double ratio = direct.rps > 0 ? via.rps / direct.rps : 0;
    fmt::print(
        "{:>6.0f}  {:>10.0f} / {:>9.0f}  {:>10.0f} / {:>9.0f}  {:>7.0f} / {:>6.0f}  {:>9.3f}{}\n",
        rate, direct.p50_us, direct.p99_us, via.p50_us, via.p99_us, via.p50_us - direct.p50_us,
        via.p99_us - direct.p99_us, ratio,
        direct.errors + via.errors ? fmt::format("  ({} errors)", direct.errors + via.errors) : "");
    per_rate.push_back({{"rate", rate},
                        {"direct_rps", direct.rps},
                        {"gateway_rps", via.rps},
                        {"throughput_ratio", ratio},
                        {"direct_p50_us", direct.p50_us},
                        {"direct_p99_us", direct.p99_us},
                        {"gateway_p50_us", via.p50_us},
                        {"gateway_p99_us", via.p99_us},
                        {"added_p50_us", via.p50_us - direct.p50_us},
                        {"added_p99_us", via.p99_us - direct.p99_us},
                        {"errors", direct.errors + via.errors}});
    added_p99_at_top = via.p99_us - direct.p99_us;
    added_p50_at_top = via.p50_us - direct.p50_us;
  }

  malloc_trim(0);
  auto rss_before = rss_bytes();
  std::atomic<size_t> rss_errors{0};
  auto t0 = steady::now();
  double rss_rps = closed_loop(server->port(), target, body, rss_requests, conns, rss_errors);
  malloc_trim(0);
  auto rss_after = rss_bytes();
  fmt::print(
      "RSS: {:.1f} MB before, {:.1f} MB after {} requests through the gateway "
      "({:.0f} req/s closed loop, {:.0f} s, {} errors)\n",
      rss_before / 1e6, rss_after / 1e6, rss_requests, rss_rps,
      std::chrono::duration<double>(steady::now() - t0).count(), rss_errors.load());
  // A p99 difference between two runs is noisy on a shared machine (it can even come
  // out negative); the goal only counts as met when the added median is within it too.
  bool goal = added_p99_at_top <= 300 && added_p50_at_top <= 300;
  double load1 = 0;
  std::ifstream{"/proc/loadavg"} >> load1;
  fmt::print(
      "added at {:.0f} rps: p50 {:.0f} us, p99 {:.0f} us (goal: added p99 <= 300 us, "
      "with the added p50 within it too: {}); load average {:.2f}\n",
      rates.back(), added_p50_at_top, added_p99_at_top, goal ? "met" : "NOT met", load1);
  server->stop();
  kill(stub_pid, SIGKILL);
  waitpid(stub_pid, nullptr, 0);
  json out = {{"bench", "bench_gateway"},
              {"connections", conns},
              {"seconds_per_rate", seconds},
              {"rates", per_rate},
              {"rss_requests", rss_requests},
              {"rss_before_mb", rss_before / 1e6},
              {"rss_after_mb", rss_after / 1e6},
              {"rss_growth_mb", (static_cast<double>(rss_after) - rss_before) / 1e6},
              {"closed_loop_rps", rss_rps},
              {"errors", rss_errors.load()},
              {"load_average", load1},
              {"goals_met", {{"added_p99_le_300us_at_top_rate", goal}}}};
  std::cout << out.dump() << std::endl;
  return 0;
}
