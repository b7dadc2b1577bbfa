// bench_resilience: what the resilience core costs per call, and what it buys.
//
// 1. Bookkeeping: per call, one breaker admit + report, one rate-limiter acquire +
//    settle and one retry decision (classify + jittered backoff), against an empty loop that
//    reads the same clock, in the same run. Also a whole fallback_chain per call.
// 2. Simulation (simulated time, discrete events, one thread): calls arrive at a fixed
//    rate; the primary mid-tier model fails 30 % of calls at random and 100 % during a
//    2 s outage; a second mid provider fails 5 %, a local model 1 %. Each call walks
//    its fallback chain (breakers shared by all calls). Reports the share that
//    succeeded, came back downgraded, blocked, failed, and the calls lost (never
//    finished: must be 0), plus p50/p99 latency against a healthy run.
// 3. End to end through the router actor (real time, CAF, sim providers): the same
//    catalog served by the model service, the primary failing 30 % of calls at random
//    (sim faults) and 100 % during a 2 s outage window; calls paced at a fixed rate.
//    Success, downgraded, blocked, lost and the service-side p50/p99 against a healthy
//    service measured in the same process, with the service's own counters.
// Last stdout line: one JSON object.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "caf/all.hpp"
#include "router/circuit_breaker.hpp"
#include "router/fallback_chain.hpp"
#include "router/model_service.hpp"
#include "router/rate_limiter.hpp"
#include "router/retry_policy.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/budget_ledger.hpp"
#include "runtime/clock.hpp"
#include "runtime/config.hpp"
#include "runtime/messages.hpp"

using namespace switchyard;
using std::chrono::milliseconds;

namespace {

volatile uint64_t sink = 0;

double ns_per_iteration(const std::function<void(uint64_t)>& body, uint64_t n) {
  auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < n; ++i) body(i);
  auto end = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(end - start).count() / static_cast<double>(n);
}

const char* sim_config = R"({"runtime": {"log_level": "off"},
  "tiers": ["local", "mid"],
  "providers": [{"name": "p1", "kind": "sim"}, {"name": "p2", "kind": "sim"},
                {"name": "p3", "kind": "sim"}],
  "models": [
    {"id": "mid-primary", "provider": "p1", "tier": "mid", "price_in_per_mtok": 1,
     "price_out_per_mtok": 2, "context_window": 16384, "residency": "cloud"},
    {"id": "mid-second", "provider": "p2", "tier": "mid", "price_in_per_mtok": 1.5,
     "price_out_per_mtok": 3, "context_window": 16384, "residency": "cloud"},
    {"id": "local-a", "provider": "p3", "tier": "local", "price_in_per_mtok": 0,
     "price_out_per_mtok": 0, "context_window": 8192, "residency": "local"}
  ]})";

struct sim_figures {
  uint64_t calls = 0, success = 0, downgraded = 0, blocked = 0, failed = 0, lost = 0;
  uint64_t attempts = 0;
  uint64_t by_primary = 0;  // successes answered by the primary
  double p50_ms = 0, p99_ms = 0;
};

struct sim_options {
  uint64_t calls = 60000;
  double calls_per_s = 1000;
  bool faults = true;
  double primary_failure = 0.30;
  double outage_from_s = 5, outage_to_s = 7;
  uint64_t seed = 42;
};

// One endpoint's behaviour in the simulation.
struct sim_endpoint {
  double failure;  // random failure probability
  double latency_ms;
  bool has_outage;
};

sim_figures simulate(const config& cfg, const sim_options& o) {
  auto plan = plan_from_catalog(cfg, "mid-primary");
  std::vector<sim_endpoint> behaviour = {
      {o.faults ? o.primary_failure : 0, 200, o.faults},  // mid-primary
      {o.faults ? 0.05 : 0, 250, false},                  // mid-second
      {o.faults ? 0.01 : 0, 50, false},                   // local-a
  };
  breaker_registry breakers;
  retry_settings retry;
  jitter_rng rng(o.seed);

  struct call_state {
    std::unique_ptr<fallback_chain> chain;
    clock_time started{0};
    bool finished = false;
  };
  std::vector<call_state> calls(o.calls);
  // Event: (time, call index, kind) where kind 0 = step the chain, 1 = attempt returned.
  struct event {
    clock_time at;
    uint64_t call;
    int kind;
    size_t candidate;
    bool operator>(const event& e) const { return at > e.at; }
  };
  std::priority_queue<event, std::vector<event>, std::greater<event>> events;
  auto interval =
      std::chrono::duration_cast<clock_time>(std::chrono::duration<double>(1.0 / o.calls_per_s));
  for (uint64_t i = 0; i < o.calls; ++i) {
    calls[i].started = interval * static_cast<int64_t>(i);
    events.push({calls[i].started, i, 0, 0});
  }
  sim_figures f;
  f.calls = o.calls;
  std::vector<double> latencies;
  latencies.reserve(o.calls);
  auto outage_from =
      std::chrono::duration_cast<clock_time>(std::chrono::duration<double>(o.outage_from_s));
  auto outage_to =
      std::chrono::duration_cast<clock_time>(std::chrono::duration<double>(o.outage_to_s));

  while (!events.empty()) {
    event e = events.top();
    events.pop();
    call_state& c = calls[e.call];
    if (!c.chain) {
      c.chain = std::make_unique<fallback_chain>(plan.candidates, plan.requested_tier_rank,
                                                 &breakers, retry, e.at, o.seed + e.call);
    }
    if (e.kind == 1) {
      const sim_endpoint& b = behaviour[e.candidate];
      bool in_outage = b.has_outage && e.at >= outage_from && e.at < outage_to;
      model_error error;
      if (in_outage) {
        error = {"connection", "outage", 0, {}};
      } else if (rng.uniform() < b.failure) {
        error = {"server_error", "injected", 0, {}};
      }
      c.chain->report(error, e.at);
    }
    auto a = c.chain->next_attempt(e.at);
    if (a.what == chain_attempt::wait) {
      events.push({e.at + a.delay, e.call, 0, 0});
    } else if (a.what == chain_attempt::call) {
      auto latency = std::chrono::duration_cast<clock_time>(
          std::chrono::duration<double, std::milli>(behaviour[a.candidate].latency_ms));
      events.push({e.at + latency, e.call, 1, a.candidate});
    } else {
      c.finished = true;
      const chain_result& r = c.chain->result();
      f.attempts += r.attempts;
      if (r.what == chain_result::success) {
        ++f.success;
        if (r.downgraded) ++f.downgraded;
        if (r.candidate == 0) ++f.by_primary;
        latencies.push_back(std::chrono::duration<double, std::milli>(e.at - c.started).count());
      } else if (r.what == chain_result::blocked) {
        ++f.blocked;
      } else {
        ++f.failed;
      }
      c.chain.reset();
    }
  }
  for (const auto& c : calls) {
    if (!c.finished) ++f.lost;
  }
  std::sort(latencies.begin(), latencies.end());
  if (!latencies.empty()) {
    f.p50_ms = latencies[latencies.size() / 2];
    f.p99_ms = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
  }
  return f;
}

}  // namespace

// -- 3. end to end through the model service ---------------------------------------

struct e2e_options {
  uint64_t calls = 2000;
  double calls_per_s = 400;
  double outage_from_ms = 1000, outage_to_ms = 3000;
};

struct e2e_figures {
  uint64_t calls = 0, success = 0, downgraded = 0, blocked = 0, failed = 0, lost = 0;
  uint64_t by_primary = 0;
  double p50_ms = 0, p99_ms = 0, seconds = 0;
  std::string stats;  // the service's resilience_stats JSON
};

std::string e2e_config(bool faults, const e2e_options& o) {
  std::string primary_sim =
      faults ? R"({"latency_ms": 20, "faults": [{"kind": "server_error", "probability": 0.3}],
                   "outages": [{"from_ms": )" +
                   std::to_string(static_cast<uint64_t>(o.outage_from_ms)) + R"(, "to_ms": )" +
                   std::to_string(static_cast<uint64_t>(o.outage_to_ms)) + "}]}"
             : R"({"latency_ms": 20})";
  return R"({"runtime": {"workers": 2, "log_level": "off"},
    "tiers": ["local", "mid"],
    "providers": [{"name": "p1", "kind": "sim", "seed": 42}, {"name": "p2", "kind": "sim"},
                  {"name": "p3", "kind": "sim"}],
    "models": [
      {"id": "mid-primary", "provider": "p1", "tier": "mid", "price_in_per_mtok": 1,
       "price_out_per_mtok": 2, "context_window": 16384, "residency": "cloud",
       "sim": )" +
         primary_sim + R"(},
      {"id": "mid-second", "provider": "p2", "tier": "mid", "price_in_per_mtok": 1.5,
       "price_out_per_mtok": 3, "context_window": 16384, "residency": "cloud",
       "sim": {"latency_ms": 25}},
      {"id": "local-a", "provider": "p3", "tier": "local", "price_in_per_mtok": 0,
       "price_out_per_mtok": 0, "context_window": 8192, "residency": "local",
       "sim": {"latency_ms": 5}}
    ]})";
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

e2e_figures run_e2e(bool faults, const e2e_options& o) {
  e2e_figures out;
  auto loaded = parse_config_text(e2e_config(faults, o), "bench_resilience e2e");
  if (!loaded.ok()) {
    std::cerr << loaded.message() << '\n';
    std::exit(1);
  }
  auto cfg = std::make_shared<const config>(std::move(*loaded.value));
  budget_ledger ledger;
  ledger.open_thread("bench", {});
  actor_runtime runtime{cfg->runtime};
  auto service = spawn_model_service(runtime.system(), cfg, ledger);
  caf::scoped_actor self{runtime.system()};
  auto start = std::chrono::steady_clock::now();
  auto period = std::chrono::duration<double>(1.0 / o.calls_per_s);
  for (uint64_t i = 0; i < o.calls; ++i) {
    std::this_thread::sleep_until(start + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                              period * static_cast<double>(i)));
    model_request req;
    req.ctx.thread_id = "bench";
    req.call_id = "e2e-" + std::to_string(i);
    req.tier = "mid";
    req.max_tokens = 16;
    req.messages = {{"user", "where is my order " + std::to_string(i)}};
    self->send(service, std::move(req));
  }
  std::vector<double> latencies;
  latencies.reserve(o.calls);
  bool timed_out = false;
  for (uint64_t i = 0; i < o.calls && !timed_out; ++i) {
    self->receive(
        [&](model_response& r) {
          ++out.calls;
          latencies.push_back(r.usage.latency_ms);
          if (r.ok()) {
            ++out.success;
            if (r.usage.downgraded) ++out.downgraded;
            if (r.usage.model_id == "mid-primary") ++out.by_primary;
          } else if (r.error.kind == "blocked") {
            ++out.blocked;
          } else {
            ++out.failed;
          }
        },
        caf::after(std::chrono::seconds(70)) >> [&] { timed_out = true; });
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.lost = o.calls - out.calls;
  out.p50_ms = percentile(latencies, 0.50);
  out.p99_ms = percentile(latencies, 0.99);
  self->request(service, std::chrono::seconds(5), resilience_stats_atom::value)
      .receive([&](std::string& s) { out.stats = std::move(s); }, [&](caf::error&) {});
  self->send_exit(service, caf::exit_reason::user_shutdown);
  return out;
}

int main(int argc, char** argv) {
  CLI::App app{"bench_resilience: bookkeeping cost per call and a simulated outage"};
  uint64_t iterations = 2000000;
  sim_options sim;
  app.add_option("--iterations", iterations, "Calls in the bookkeeping loops (default 2000000)");
  app.add_option("--calls", sim.calls, "Simulated calls (default 60000)");
  app.add_option("--rate", sim.calls_per_s, "Simulated calls per second (default 1000)");
  app.add_option("--seed", sim.seed, "Seed of the simulated faults and jitter (default 42)");
  e2e_options e2e;
  app.add_option("--e2e-calls", e2e.calls, "Calls through the router actor (default 2000)");
  app.add_option("--e2e-rate", e2e.calls_per_s, "Their rate per second (default 400)");
  CLI11_PARSE(app, argc, argv);

  // -- 1. bookkeeping ---------------------------------------------------------------
  steady_clock_source clock;
  const clock_source& source = clock;  // through the interface, as the router will
  breaker_registry breakers;
  shared_breaker& breaker = breakers.get(endpoint_id{"mid-primary", "p1", "key-1"});
  // Limits high enough that the loop never waits: the figure is the bookkeeping cost.
  rate_limiter limiter(
      {{"key-1", 4000000000u, 4000000000000ull}, {"key-2", 4000000000u, 4000000000000ull}},
      source.now());
  retry_settings retry;

  // Warm up caches and the branch predictor.
  ns_per_iteration(
      [&](uint64_t i) { sink = sink + static_cast<uint64_t>(source.now().count()) + i; },
      iterations / 10);
  double baseline_ns = ns_per_iteration(
      [&](uint64_t i) { sink = sink + static_cast<uint64_t>(source.now().count()) + i; },
      iterations);
  double bookkeeping_ns = ns_per_iteration(
      [&](uint64_t i) {
        clock_time now = source.now();
        breaker_admission a = breaker.admit(now);
        rate_grant g = limiter.acquire(300, now);
        // A retry decision on every call (an upper bound: only failed calls need one);
        // the breaker sees one failure in 16 so it stays closed, as in normal traffic.
        retry_state r(retry, now, i);
        retry_decision d = r.on_error("server_error", 0, now);
        sink = sink + static_cast<uint64_t>(d.delay.count());
        bool failed = (i & 15) == 0;
        breaker.report(failed ? call_outcome::failure : call_outcome::success, now, a.probe);
        limiter.settle(g, 280, now);
        sink = sink + g.key_index + i;
      },
      iterations);
  double with_lookup_ns = ns_per_iteration(
      [&](uint64_t i) {
        clock_time now = source.now();
        shared_breaker& b = breakers.get(endpoint_id{"mid-primary", "p1", "key-1"});
        breaker_admission a = b.admit(now);
        rate_grant g = limiter.acquire(300, now);
        b.report(call_outcome::success, now, a.probe);
        limiter.settle(g, 280, now);
        sink = sink + g.key_index + i;
      },
      iterations / 4);
  auto loaded = parse_config_text(sim_config, "bench_resilience");
  if (!loaded.ok()) {
    std::cerr << loaded.message() << '\n';
    return 1;
  }
  const config& cfg = *loaded.value;
  auto plan = plan_from_catalog(cfg, "mid-primary");
  breaker_registry chain_breakers;
  double chain_ns = ns_per_iteration(
      [&](uint64_t i) {
        clock_time now = source.now();
        fallback_chain chain(plan.candidates, plan.requested_tier_rank, &chain_breakers, retry, now,
                             i);
        chain_attempt a = chain.next_attempt(now);
        chain.report(model_error{}, now);
        sink = sink + a.candidate + i;
      },
      iterations / 4);
  double added_ns = bookkeeping_ns - baseline_ns;

  std::printf("bookkeeping per call (breaker + limiter + retry decision): %.1f ns\n",
              bookkeeping_ns);
  std::printf("  empty baseline loop (clock read only):                   %.1f ns\n", baseline_ns);
  std::printf("  added by the bookkeeping:                                %.1f ns (%.1fx)\n",
              added_ns, bookkeeping_ns / baseline_ns);
  std::printf("  with a registry lookup by endpoint each call:            %.1f ns\n",
              with_lookup_ns);
  std::printf("  a whole fallback_chain per call (3 candidates):          %.1f ns\n", chain_ns);

  // -- 2. simulated outage ----------------------------------------------------------
  sim_options healthy = sim;
  healthy.faults = false;
  sim_figures h = simulate(cfg, healthy);
  sim_figures f = simulate(cfg, sim);
  auto share = [&](uint64_t n) { return 100.0 * static_cast<double>(n) / f.calls; };
  double ok_or_blocked = share(f.success + f.blocked);
  std::printf(
      "\nsimulated %llu calls at %.0f/s; primary fails %.0f %% and 100 %% in [%.0f s, %.0f s)\n",
      static_cast<unsigned long long>(f.calls), sim.calls_per_s, sim.primary_failure * 100,
      sim.outage_from_s, sim.outage_to_s);
  std::printf("  succeeded %.2f %%, downgraded %.2f %%, blocked %llu, failed %llu, lost %llu\n",
              share(f.success), share(f.downgraded), static_cast<unsigned long long>(f.blocked),
              static_cast<unsigned long long>(f.failed), static_cast<unsigned long long>(f.lost));
  std::printf("  succeeded or blocked: %.3f %% (goal >= 99.9 %%)\n", ok_or_blocked);
  std::printf("  attempts per call: %.3f; answered by the primary: %.2f %%\n",
              static_cast<double>(f.attempts) / f.calls, share(f.by_primary));
  std::printf(
      "  latency p50 / p99: %.0f / %.0f ms; healthy run %.0f / %.0f ms; added %.0f / %.0f ms\n",
      f.p50_ms, f.p99_ms, h.p50_ms, h.p99_ms, f.p50_ms - h.p50_ms, f.p99_ms - h.p99_ms);

  // -- 3. end to end through the router actor ---------------------------------------
  e2e_figures eh = run_e2e(false, e2e);
  e2e_figures ef = run_e2e(true, e2e);
  auto e2e_share = [&](uint64_t n) {
    return ef.calls ? 100.0 * static_cast<double>(n) / ef.calls : 0;
  };
  double e2e_ok_or_blocked = e2e_share(ef.success + ef.blocked);
  auto stats = nlohmann::json::parse(ef.stats.empty() ? "{}" : ef.stats);
  std::printf(
      "\nthrough the router actor: %llu calls at %.0f/s; primary fails 30 %% (sim fault) and "
      "100 %% in [%.0f ms, %.0f ms)\n",
      static_cast<unsigned long long>(e2e.calls), e2e.calls_per_s, e2e.outage_from_ms,
      e2e.outage_to_ms);
  std::printf("  succeeded %.2f %%, downgraded %.2f %%, blocked %llu, failed %llu, lost %llu\n",
              e2e_share(ef.success), e2e_share(ef.downgraded),
              static_cast<unsigned long long>(ef.blocked),
              static_cast<unsigned long long>(ef.failed), static_cast<unsigned long long>(ef.lost));
  std::printf("  answered by the primary %.2f %%; service counters: %s\n", e2e_share(ef.by_primary),
              ef.stats.c_str());
  std::printf(
      "  latency p50 / p99: %.1f / %.1f ms; healthy service %.1f / %.1f ms; added %.1f / %.1f ms\n",
      ef.p50_ms, ef.p99_ms, eh.p50_ms, eh.p99_ms, ef.p50_ms - eh.p50_ms, ef.p99_ms - eh.p99_ms);

  bool goals = ok_or_blocked >= 99.9 && f.lost == 0 && bookkeeping_ns <= 1000 &&
               e2e_ok_or_blocked >= 99.9 && ef.lost == 0;
  std::printf(
      "{\"bench\":\"bench_resilience\",\"iterations\":%llu,\"bookkeeping_ns_per_call\":%.1f,"
      "\"baseline_ns_per_call\":%.1f,\"added_ns_per_call\":%.1f,\"bookkeeping_ratio\":%.2f,"
      "\"with_lookup_ns_per_call\":%.1f,\"chain_ns_per_call\":%.1f,\"sim_calls\":%llu,"
      "\"success_pct\":%.3f,\"downgraded_pct\":%.3f,\"blocked\":%llu,\"failed\":%llu,"
      "\"lost\":%llu,\"success_or_blocked_pct\":%.3f,\"attempts_per_call\":%.3f,"
      "\"primary_pct\":%.2f,"
      "\"p50_ms\":%.1f,\"p99_ms\":%.1f,\"healthy_p50_ms\":%.1f,\"healthy_p99_ms\":%.1f,"
      "\"added_p50_ms\":%.1f,\"added_p99_ms\":%.1f,"
      "\"e2e_calls\":%llu,\"e2e_success_pct\":%.3f,\"e2e_downgraded_pct\":%.3f,"
      "\"e2e_blocked\":%llu,\"e2e_failed\":%llu,\"e2e_lost\":%llu,"
      "\"e2e_success_or_blocked_pct\":%.3f,\"e2e_primary_pct\":%.2f,\"e2e_retries\":%llu,"
      "\"e2e_fallbacks\":%llu,\"e2e_p50_ms\":%.2f,\"e2e_p99_ms\":%.2f,"
      "\"e2e_healthy_p50_ms\":%.2f,\"e2e_healthy_p99_ms\":%.2f,\"e2e_added_p50_ms\":%.2f,"
      "\"e2e_added_p99_ms\":%.2f,\"goals_met\":%s}\n",
      static_cast<unsigned long long>(iterations), bookkeeping_ns, baseline_ns, added_ns,
      bookkeeping_ns / baseline_ns, with_lookup_ns, chain_ns,
      static_cast<unsigned long long>(f.calls), share(f.success), share(f.downgraded),
      static_cast<unsigned long long>(f.blocked), static_cast<unsigned long long>(f.failed),
      static_cast<unsigned long long>(f.lost), ok_or_blocked,
      static_cast<double>(f.attempts) / f.calls, share(f.by_primary), f.p50_ms, f.p99_ms, h.p50_ms,
      h.p99_ms, f.p50_ms - h.p50_ms, f.p99_ms - h.p99_ms, static_cast<unsigned long long>(ef.calls),
      e2e_share(ef.success), e2e_share(ef.downgraded), static_cast<unsigned long long>(ef.blocked),
      static_cast<unsigned long long>(ef.failed), static_cast<unsigned long long>(ef.lost),
      e2e_ok_or_blocked, e2e_share(ef.by_primary),
      static_cast<unsigned long long>(stats.value("retries", 0ull)),
      static_cast<unsigned long long>(stats.value("fallbacks", 0ull)), ef.p50_ms, ef.p99_ms,
      eh.p50_ms, eh.p99_ms, ef.p50_ms - eh.p50_ms, ef.p99_ms - eh.p99_ms, goals ? "true" : "false");
  return f.lost == 0 && ef.lost == 0 ? 0 : 1;
}
