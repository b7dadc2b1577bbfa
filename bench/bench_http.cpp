// bench_http: the provider HTTP client against the in-process stub provider on
// 127.0.0.1. Figures, all in one run:
//   - sequential calls with keep-alive vs a new connection per call (calls/s, p50, p99);
//   - keep-alive with 8 calls in flight (calls/s);
//   - a bare blocking Beast client on one kept-alive connection: the floor set by the
//     stub and the loopback socket, so (our p50 - bare p50) is what the async client adds;
//   - the client's own time per call (handlers, serialisation, parsing: waits excluded).
// Usage: bench_http [--calls N]   (default 2000; the new-connection run does N/4)
// Last stdout line: one JSON object with every figure.

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <future>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "router/providers/http_client.hpp"
#include "stub/stub_server.hpp"

using namespace switchyard;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;

namespace {

struct run_figures {
  double calls_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  double client_us = 0;  // mean time in our code per call
};

double percentile(std::vector<double> xs, double p) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  auto idx = static_cast<size_t>(p * static_cast<double>(xs.size() - 1));
  return xs[idx];
}

http_request request_body() {
  http_request req;
  req.target = "/chat/completions";
  req.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer bench"}};
  req.body = json{{"model", "bench"},
                  {"max_tokens", 16},
                  {"messages", json::array({{{"role", "user"}, {"content", "ping the stub"}}})}}
                 .dump();
  return req;
}

// Calls one after another: each waits for the previous one's completion.
run_figures sequential(http_client& client, const http_endpoint& ep, int calls) {
  std::vector<double> lat;
  lat.reserve(calls);
  double client_ns = 0;
  auto begin = steady::now();
  for (int i = 0; i < calls; ++i) {
    std::promise<http_result> done;
    auto fut = done.get_future();
    auto t0 = steady::now();
    client.send(ep, request_body(), {}, [&done](http_result r) { done.set_value(std::move(r)); });
    auto r = fut.get();
    lat.push_back(std::chrono::duration<double, std::micro>(steady::now() - t0).count());
    if (!r.ok() || r.status != 200) {
      std::cerr << "bench_http: call failed: " << r.failure.message << " status " << r.status
                << '\n';
      std::exit(1);
    }
    client_ns += static_cast<double>(r.client_time.count());
  }
  double secs = std::chrono::duration<double>(steady::now() - begin).count();
  return {calls / secs, percentile(lat, 0.5), percentile(lat, 0.99), client_ns / calls / 1000.0};
}

// `in_flight` calls outstanding at all times.
double concurrent(http_client& client, const http_endpoint& ep, int calls, int in_flight) {
  std::mutex mu;
  std::condition_variable cv;
  int started = 0, finished = 0;
  std::function<void()> launch = [&] {
    client.send(ep, request_body(), {}, [&](http_result r) {
      if (!r.ok()) {
        std::cerr << "bench_http: call failed: " << r.failure.message << '\n';
        std::exit(1);
      }
      bool more = false;
      {
        std::lock_guard<std::mutex> lock{mu};
        ++finished;
        if (started < calls) {
          ++started;
          more = true;
        }
      }
      cv.notify_all();
      if (more) launch();
    });
  };
  auto begin = steady::now();
  {
    std::lock_guard<std::mutex> lock{mu};
    started = in_flight;
  }
  for (int i = 0; i < in_flight; ++i) launch();
  std::unique_lock<std::mutex> lock{mu};
  cv.wait(lock, [&] { return finished == calls; });
  return calls / std::chrono::duration<double>(steady::now() - begin).count();
}

// A blocking Beast client on one connection: no pool, no callbacks, no timers.
run_figures bare_beast(uint16_t port, int calls) {
  namespace net = boost::asio;
  namespace http = boost::beast::http;
  net::io_context ioc;
  net::ip::tcp::socket sock{ioc};
  sock.connect({net::ip::make_address("127.0.0.1"), port});
  sock.set_option(net::ip::tcp::no_delay(true));
  boost::beast::flat_buffer buffer;
  auto body = request_body();
  std::vector<double> lat;
  lat.reserve(calls);
  auto begin = steady::now();
  for (int i = 0; i < calls; ++i) {
    auto t0 = steady::now();
    http::request<http::string_body> req{http::verb::post, "/v1/chat/completions", 11};
    req.set(http::field::host, fmt::format("127.0.0.1:{}", port));
    for (const auto& [k, v] : body.headers) req.set(k, v);
    req.body() = body.body;
    req.prepare_payload();
    http::write(sock, req);
    http::response<http::string_body> res;
    http::read(sock, buffer, res);
    lat.push_back(std::chrono::duration<double, std::micro>(steady::now() - t0).count());
  }
  double secs = std::chrono::duration<double>(steady::now() - begin).count();
  return {calls / secs, percentile(lat, 0.5), percentile(lat, 0.99), 0};
}

}  // namespace

int main(int argc, char** argv) {
  int calls = 2000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--calls") == 0 && i + 1 < argc) {
      calls = std::max(100, std::atoi(argv[++i]));
    } else {
      std::cerr << "usage: bench_http [--calls N]\n";
      return 2;
    }
  }
  std::string error;
  auto stub = stub_server::start(0, {}, error);
  if (!stub) {
    std::cerr << error << '\n';
    return 1;
  }
  auto ep = *parse_endpoint(stub->base_url() + "/v1", error);

  http_client pooled;
  sequential(pooled, ep, calls / 10);  // warm-up
  auto keep = sequential(pooled, ep, calls);
  auto parallel = concurrent(pooled, ep, calls, 8);
  auto pooled_stats = pooled.stats();

  http_client_options fresh_opts;
  fresh_opts.keep_alive = false;
  http_client fresh{fresh_opts};
  auto fresh_run = sequential(fresh, ep, calls / 4);

  auto bare = bare_beast(stub->port(), calls);

  fmt::print("bench_http: {} sequential calls to the in-process stub on 127.0.0.1\n", calls);
  fmt::print("  keep-alive        {:8.0f} calls/s  p50 {:7.1f} us  p99 {:7.1f} us  (connections "
             "opened: {})\n",
             keep.calls_per_s, keep.p50_us, keep.p99_us, pooled_stats.connections_opened);
  fmt::print("  new connection    {:8.0f} calls/s  p50 {:7.1f} us  p99 {:7.1f} us  ({} calls)\n",
             fresh_run.calls_per_s, fresh_run.p50_us, fresh_run.p99_us, calls / 4);
  fmt::print("  keep-alive x8     {:8.0f} calls/s  (8 calls in flight)\n", parallel);
  fmt::print("  bare Beast (sync) {:8.0f} calls/s  p50 {:7.1f} us  p99 {:7.1f} us  (baseline)\n",
             bare.calls_per_s, bare.p50_us, bare.p99_us);
  fmt::print("  keep-alive is {:.2f}x the calls/s of a new connection per call\n",
             keep.calls_per_s / fresh_run.calls_per_s);
  fmt::print("  client overhead: {:.1f} us per call in our code ({:.1f}% of p50); p50 is "
             "{:.1f} us above bare Beast\n",
             keep.client_us, 100.0 * keep.client_us / keep.p50_us, keep.p50_us - bare.p50_us);

  json out = {{"bench", "http"},
              {"calls", calls},
              {"keepalive_calls_per_s", keep.calls_per_s},
              {"keepalive_p50_us", keep.p50_us},
              {"keepalive_p99_us", keep.p99_us},
              {"new_conn_calls_per_s", fresh_run.calls_per_s},
              {"new_conn_p50_us", fresh_run.p50_us},
              {"new_conn_p99_us", fresh_run.p99_us},
              {"keepalive_x8_calls_per_s", parallel},
              {"bare_beast_calls_per_s", bare.calls_per_s},
              {"bare_beast_p50_us", bare.p50_us},
              {"keepalive_vs_new_conn", keep.calls_per_s / fresh_run.calls_per_s},
              {"client_code_us_per_call", keep.client_us},
              {"client_code_us_per_call_new_conn", fresh_run.client_us},
              {"p50_above_bare_us", keep.p50_us - bare.p50_us},
              {"connections_opened_keepalive", pooled_stats.connections_opened}};
  std::cout << out.dump() << std::endl;
  return 0;
}
