// bench_swarm: how fast and how lean a Switchyard swarm runs, against bare CAF.
//
//   build/bin/bench_swarm [--runs N] [--inflight K] [--scheduler sharing|stealing] ...
//
// Phases (see bench/README.md):
//   1. throughput: N runs of a 4-agent linear graph (a -> b -> c -> d, each a
//      model_agent on the sim provider, tier "local", latency 0), K runs in flight,
//      driven by an event-based actor that launches the next run as each result
//      arrives. Reports runs/s (N / wall time) and p50/p99 run latency.
//   2. baseline: the same message pattern between plain CAF actors with int payloads
//      (a run actor spawned per run, 4 agent actors, 1 model actor), same window,
//      same actor system. Reports runs/s, messages/s and Switchyard/baseline.
//   Phases 1, 2 and the checkpointed throughput phases (4) take turns: --rounds R
//   rounds, each running 1/R of every phase's runs, the order rotated every round, so a
//   slow phase of the VM falls on all of them alike.
//   2b. diagnostic (--no-diagnostics skips it): the baseline again with a 60 s timeout
//      on every run -> agent request, as Switchyard's run actor sets (step_timeout_ms);
//      reported apart, never part of the ratio.
//   3. memory: M runs (default 10,000) started at once on a sim model with 200 ms
//      latency; RSS before vs. the peak while all are in flight, per run. The same
//      for the baseline, for scale.
// Human-readable lines go to stdout; the LAST line of stdout is one JSON object.
//
// Messages per run (counted from workflows/run_actor.cpp, agents/model_agent.cpp,
// agents/agent.cpp and router/model_service.cpp; the bench checks every run's
// transcript has 4 steps with one model call each, which pins the count):
//   driver -> run actor      run_request                      1
//   per step (4 steps):
//     run actor -> agent     step_request   (run_node)         1
//     agent -> model service model_request  (model_call_for_step: the step's request id,
//                                            the agent as next stage)  1
//     model service -> agent model_response (promise.deliver)  1   latency 0: no sim_done
//     agent -> run actor     step_reply     (returned: promise)  1
//   run actor -> driver      run_result     (finish)           1
//   total                                                   2 + 4 * 4 = 18
// Checked by instrumentation too: under callgrind, 3,500 runs made 63,000 calls to
// caf::scheduled_actor::enqueue (18.0 per run: 9 requests, 9 replies through
// response_promise::deliver_impl), the same as the baseline's pattern.
// Not counted: with latency_ms > 0 the model service also sends itself delayed
// sim_ready messages, one at a time for the soonest waiting answer (the memory phase); the run
// actor's request to an agent carries a step timeout (step_timeout_ms, default 60 s), which CAF
// 0.17.6 implements as events for its clock thread, not mailbox messages: one set_request_timeout
// per step (a reply does not cancel it) and one cancel_timeouts when the run actor exits.

#include <dlfcn.h>
#include <fmt/format.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "agents/model_agent.hpp"
#include "caf/all.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/checkpoint_store.hpp"
#include "runtime/config.hpp"
#include "runtime/logging.hpp"
#include "runtime/messages.hpp"
#include "workflows/engine.hpp"
#include "workflows/graph.hpp"
#include "workflows/workflow_registry.hpp"

namespace {

using namespace switchyard;
using bench_clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr size_t agents_per_run = 4;
constexpr size_t messages_per_run = 2 + 4 * agents_per_run;  // see the header comment
const std::string workflow_name = "swarm4";
const std::string bench_input = "Where is my order? It was due on Monday.";
const std::string no_problem;

// -- options ------------------------------------------------------------------------

struct options {
  size_t runs = 100000;
  size_t inflight = 1000;
  size_t warmup = 5000;
  std::string scheduler = "sharing";
  uint32_t workers = 2;
  size_t inflight_runs = 10000;
  uint32_t memory_latency_ms = 200;
  bool baseline = true;
  bool memory = true;
  bool diagnostics = true;
  bool durable = true;
  bool durable_batch = true;
  size_t durable_runs = 20000;
  size_t blocked_runs = 10000;
  size_t rounds = 5;
};

void usage() {
  std::cout
      << "bench_swarm [options]\n"
         "  --runs N               runs in the throughput phase (default 100000)\n"
         "  --inflight K           runs in flight during throughput (default 1000)\n"
         "  --warmup W             unmeasured runs before each throughput phase (default 5000)\n"
         "  --scheduler NAME       sharing | stealing (default sharing)\n"
         "  --workers N            scheduler threads (default 2)\n"
         "  --inflight-runs M      runs started at once in the memory phase (default 10000)\n"
         "  --memory-latency-ms L  sim latency of the memory phase (default 200)\n"
         "  --no-baseline          skip the bare-CAF baseline\n"
         "  --no-memory            skip the memory phase\n"
         "  --no-diagnostics       skip the baseline re-run with step timeouts\n"
         "  --no-durable           skip the checkpointed phases\n"
         "  --durable-runs N       runs in the checkpointed throughput phase (default 20000)\n"
         "  --no-durable-batch     skip them started as `run --batch` does\n"
         "  --blocked-runs B       runs parked as blocked in the memory phase (default 10000)\n"
         "  --rounds R             throughput phases take turns in R rounds (default 5)\n";
}

bool parse_options(int argc, char** argv, options& o) {
  auto number = [&](int& i, const char* name) -> unsigned long long {
    if (i + 1 >= argc) {
      std::cerr << name << " needs a value\n";
      std::exit(2);
    }
    char* end = nullptr;
    auto v = std::strtoull(argv[++i], &end, 10);
    if (end == argv[i] || *end != '\0') {
      std::cerr << name << ": not a number: " << argv[i] << '\n';
      std::exit(2);
    }
    return v;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs")
      o.runs = number(i, "--runs");
    else if (a == "--inflight")
      o.inflight = number(i, "--inflight");
    else if (a == "--warmup")
      o.warmup = number(i, "--warmup");
    else if (a == "--workers")
      o.workers = static_cast<uint32_t>(number(i, "--workers"));
    else if (a == "--inflight-runs")
      o.inflight_runs = number(i, "--inflight-runs");
    else if (a == "--memory-latency-ms")
      o.memory_latency_ms = static_cast<uint32_t>(number(i, "--memory-latency-ms"));
    else if (a == "--scheduler" && i + 1 < argc)
      o.scheduler = argv[++i];
    else if (a == "--no-baseline")
      o.baseline = false;
    else if (a == "--no-memory")
      o.memory = false;
    else if (a == "--no-diagnostics")
      o.diagnostics = false;
    else if (a == "--no-durable")
      o.durable = false;
    else if (a == "--no-durable-batch")
      o.durable_batch = false;
    else if (a == "--durable-runs")
      o.durable_runs = number(i, "--durable-runs");
    else if (a == "--blocked-runs")
      o.blocked_runs = number(i, "--blocked-runs");
    else if (a == "--rounds")
      o.rounds = number(i, "--rounds");
    else if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else {
      std::cerr << "unknown option: " << a << "\n";
      usage();
      return false;
    }
  }
  if (o.runs == 0 || o.inflight == 0 || o.inflight_runs == 0 || o.rounds == 0) {
    std::cerr << "--runs, --inflight, --inflight-runs and --rounds must be >= 1\n";
    return false;
  }
  if (o.scheduler != "sharing" && o.scheduler != "stealing") {
    std::cerr << "--scheduler must be sharing or stealing\n";
    return false;
  }
  return true;
}

// -- memory readings ------------------------------------------------------------------

/// Resident set size from /proc/self/statm (pages -> bytes).
size_t rss_bytes() {
  std::ifstream in{"/proc/self/statm"};
  size_t total = 0, resident = 0;
  in >> total >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

/// VmHWM (peak RSS) from /proc/self/status.
size_t peak_rss_bytes() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0)
      return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  return 0;
}

/// jemalloc's control function when the process allocates with jemalloc (built with
/// -DSWITCHYARD_JEMALLOC=ON, or LD_PRELOAD), else null: glibc malloc.
using mallctl_fn = int (*)(const char*, void*, size_t*, void*, size_t);
mallctl_fn jemalloc_ctl() {
  static auto fn = reinterpret_cast<mallctl_fn>(dlsym(RTLD_DEFAULT, "mallctl"));
  return fn;
}

const char* allocator_name() { return jemalloc_ctl() ? "jemalloc" : "glibc"; }

/// Returns free memory to the OS, so that RSS readings count live memory: glibc keeps
/// freed pages until malloc_trim, jemalloc until its decay timer or a purge.
void release_free_memory() {
  malloc_trim(0);  // no-op for the memory of a preloaded jemalloc
  if (auto ctl = jemalloc_ctl()) ctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);  // all
}

/// Bytes the allocator has handed out and not got back (less noisy than RSS).
size_t heap_bytes() {
  if (auto ctl = jemalloc_ctl()) {
    uint64_t epoch = 1;
    size_t len = sizeof(epoch);
    ctl("epoch", &epoch, &len, &epoch, len);  // refreshes the statistics
    size_t allocated = 0;
    len = sizeof(allocated);
    return ctl("stats.allocated", &allocated, &len, nullptr, 0) == 0 ? allocated : 0;
  }
  auto mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

// -- the load driver --------------------------------------------------------------------

/// Keeps `window` runs in flight until `total` have finished. `Launch` is called as
/// launch(self, index, done) and must call done(ok, why) exactly once per run.
template <class Launch>
class load_driver : public std::enable_shared_from_this<load_driver<Launch>> {
 public:
  load_driver(size_t total, size_t window, Launch launch)
      : total_(total), window_(std::min(window, total)), launch_(std::move(launch)) {
    latency_us_.resize(total);
  }

  void spawn(caf::actor_system& sys) {
    auto me = this->shared_from_this();
    sys.spawn([me](caf::event_based_actor* self) {
      me->begin_ = bench_clock::now();
      for (size_t i = 0; i < me->window_; ++i)
        me->launch_one(self);
    });
  }

  void wait() { finished_.get_future().get(); }

  size_t done() const { return done_.load(std::memory_order_relaxed); }
  size_t failures() const { return failures_; }
  const std::string& first_failure() const { return first_failure_; }
  double wall_s() const { return std::chrono::duration<double>(end_ - begin_).count(); }
  const std::vector<float>& latency_us() const { return latency_us_; }

 private:
  void launch_one(caf::event_based_actor* self) {
    auto index = next_++;
    auto t0 = bench_clock::now();
    auto me = this->shared_from_this();
    launch_(self, index, [me, self, index, t0](bool ok, const std::string& why) {
      me->on_result(self, index, t0, ok, why);
    });
  }

  void on_result(caf::event_based_actor* self, size_t index, bench_clock::time_point t0, bool ok,
                 const std::string& why) {
    auto now = bench_clock::now();
    latency_us_[index] = std::chrono::duration<float, std::micro>(now - t0).count();
    if (!ok && failures_++ == 0)
      first_failure_ = why;
    auto done = done_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (done == total_) {
      end_ = now;
      self->quit();
      finished_.set_value();
    } else if (next_ < total_) {
      launch_one(self);
    }
  }

  size_t total_;
  size_t window_;
  Launch launch_;
  size_t next_ = 0;
  std::atomic<size_t> done_{0};
  size_t failures_ = 0;
  std::string first_failure_;
  std::vector<float> latency_us_;
  bench_clock::time_point begin_;
  bench_clock::time_point end_;
  std::promise<void> finished_;
};

template <class Launch>
std::shared_ptr<load_driver<Launch>> make_driver(size_t total, size_t window, Launch launch) {
  return std::make_shared<load_driver<Launch>>(total, window, std::move(launch));
}

struct load_figures {
  size_t runs = 0;
  double wall_s = 0;
  double runs_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

double percentile_ms(std::vector<float> v, double q) {
  if (v.empty())
    return 0;
  auto k = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k] / 1000.0;
}

/// Runs gathered over several rounds of one phase.
struct load_samples {
  size_t runs = 0;
  double wall_s = 0;
  std::vector<float> latency_us;
};

/// Runs `total` runs with `window` in flight and adds them to `into`; exits the process on
/// any failed run.
template <class Launch>
void drive_into(load_samples& into, caf::actor_system& sys, const char* what, size_t total,
                size_t window, Launch launch) {
  if (total == 0) return;
  auto d = make_driver(total, window, launch);
  d->spawn(sys);
  d->wait();
  if (d->failures() > 0) {
    std::cout << fmt::format("FAILED: {}: {} of {} runs did not complete; first: {}\n", what,
                             d->failures(), total, d->first_failure());
    std::cout.flush();
    std::exit(1);
  }
  into.runs += total;
  into.wall_s += d->wall_s();
  into.latency_us.insert(into.latency_us.end(), d->latency_us().begin(), d->latency_us().end());
}

load_figures figures_of(const load_samples& s) {
  load_figures f;
  f.runs = s.runs;
  f.wall_s = s.wall_s;
  f.runs_per_s = s.wall_s > 0 ? static_cast<double>(s.runs) / s.wall_s : 0;
  f.p50_ms = percentile_ms(s.latency_us, 0.50);
  f.p99_ms = percentile_ms(s.latency_us, 0.99);
  f.max_ms = percentile_ms(s.latency_us, 1.0);
  return f;
}

/// Round `r`'s share of `total` runs split over `rounds` rounds.
size_t share(size_t total, size_t r, size_t rounds) {
  return total * (r + 1) / rounds - total * r / rounds;
}

/// Runs `total` runs with `window` in flight; exits the process on any failed run.
template <class Launch>
load_figures drive(caf::actor_system& sys, const char* what, size_t total, size_t window,
                   Launch launch) {
  load_samples s;
  drive_into(s, sys, what, total, window, std::move(launch));
  return figures_of(s);
}

struct memory_figures {
  size_t runs = 0;
  size_t rss_before = 0;
  size_t rss_peak_inflight = 0;  // max over samples taken while no run had finished
  size_t rss_peak_any = 0;       // max over all samples
  size_t rss_after = 0;          // after every run ended, actors gone, free memory released
  size_t heap_before = 0;
  size_t heap_peak_inflight = 0;
  size_t heap_after = 0;
  size_t samples_inflight = 0;
  double first_done_s = 0;  // when the first run finished, after launch
  double wall_s = 0;

  double per_run(size_t peak, size_t before) const {
    return peak > before ? static_cast<double>(peak - before) / static_cast<double>(runs) : 0.0;
  }
  double bytes_per_inflight_run() const { return per_run(rss_peak_inflight, rss_before); }
  double heap_per_inflight_run() const { return per_run(heap_peak_inflight, heap_before); }
  double retained_per_run() const { return per_run(rss_after, rss_before); }
  double heap_retained_per_run() const { return per_run(heap_after, heap_before); }
};

/// Starts `total` runs at once and samples RSS every few ms until all have finished.
template <class Launch>
memory_figures measure_memory(caf::actor_system& sys, const char* what, size_t total,
                              Launch launch) {
  auto d = make_driver(total, total, launch);  // allocations of the driver itself: before
  std::this_thread::sleep_for(100ms);          // actors of earlier phases wind down
  release_free_memory();
  memory_figures m;
  m.runs = total;
  m.rss_before = rss_bytes();
  m.heap_before = heap_bytes();
  auto t0 = bench_clock::now();
  d->spawn(sys);
  while (d->done() < total) {
    std::this_thread::sleep_for(5ms);
    auto rss = rss_bytes();
    auto heap = heap_bytes();
    m.rss_peak_any = std::max(m.rss_peak_any, rss);
    if (d->done() == 0) {
      m.rss_peak_inflight = std::max(m.rss_peak_inflight, rss);
      m.heap_peak_inflight = std::max(m.heap_peak_inflight, heap);
      ++m.samples_inflight;
    } else if (m.first_done_s == 0) {
      m.first_done_s = std::chrono::duration<double>(bench_clock::now() - t0).count();
    }
  }
  d->wait();
  m.wall_s = std::chrono::duration<double>(bench_clock::now() - t0).count();
  if (d->failures() > 0) {
    std::cout << fmt::format("FAILED: {}: {} of {} runs did not complete; first: {}\n", what,
                             d->failures(), total, d->first_failure());
    std::cout.flush();
    std::exit(1);
  }
  if (m.samples_inflight == 0) {
    std::cout << fmt::format("warning: {}: runs finished before any sample; raise "
                             "--memory-latency-ms. Using the peak over all samples.\n",
                             what);
    m.rss_peak_inflight = m.rss_peak_any;
  }
  std::this_thread::sleep_for(100ms);
  release_free_memory();
  m.rss_after = rss_bytes();
  m.heap_after = heap_bytes();
  return m;
}

// -- Switchyard side ------------------------------------------------------------------

std::string bench_config_text(const options& o, uint32_t latency_ms, bool down = false) {
  return fmt::format(R"({{
  "runtime": {{"scheduler": "{}", "workers": {}, "log_level": "warn"}},
  "tiers": ["local"],
  "providers": [{{"name": "sim", "kind": "sim", "seed": 42}}],
  "models": [{{
    "id": "sim-bench", "provider": "sim", "tier": "local",
    "price_in_per_mtok": 0.0, "price_out_per_mtok": 0.0, "context_window": 8192,
    "residency": "local", "sim": {{"latency_ms": {}, "outages": [{}]}}
  }}],
  "budgets": {{"per_thread": {{"max_tokens": 0, "max_cost_usd": 0}}}}
}})",
                     o.scheduler, o.workers, latency_ms,
                     down ? R"({"from_ms": 0, "to_ms": 3600000})" : "");
}

std::shared_ptr<const config> bench_config(const options& o, uint32_t latency_ms,
                                           bool down = false) {
  auto loaded = parse_config_text(bench_config_text(o, latency_ms, down), "bench_swarm");
  if (!loaded.ok()) {
    std::cerr << loaded.message() << '\n';
    std::exit(2);
  }
  return std::make_shared<const config>(std::move(*loaded.value));
}

workflow_registry bench_registry() {
  model_agent_spec spec;
  spec.tier = "local";
  graph_builder g{workflow_name};
  g.agent("a", model_agent(spec))
    .agent("b", model_agent(spec))
    .agent("c", model_agent(spec))
    .agent("d", model_agent(spec))
    .edge("a", "b")
    .edge("b", "c")
    .edge("c", "d")
    .edge("d", graph_end);
  workflow_registry registry;
  if (auto problem = registry.add(g, "4-agent linear swarm"); !problem.empty()) {
    std::cerr << problem << '\n';
    std::exit(2);
  }
  return registry;
}

/// One Switchyard run: spawn a run actor, request it, check the result.
auto switchyard_launch(engine& eng) {
  return [&eng](caf::event_based_actor* self, size_t, auto done) {
    self->request(eng.spawn_run(), caf::infinite, run_request{workflow_name, bench_input, {}, {}})
      .then(
        [done](run_result& r) {
          uint32_t calls = 0;
          for (const auto& s : r.steps)
            calls += s.model_calls;
          if (r.status == run_status::completed && r.steps.size() == agents_per_run &&
              calls == agents_per_run) {
            done(true, no_problem);
            return;
          }
          done(false, fmt::format("run {} ended {} ({}: {}) after {} steps and {} model calls",
                                  r.run_id, to_string(r.status), r.reason, r.detail,
                                  r.steps.size(), calls));
        },
        [done](caf::error& err) { done(false, "CAF error: " + caf::to_string(err)); });
  };
}

/// One run expected to park: its provider is down for the whole phase.
auto blocked_launch(engine& eng) {
  return [&eng](caf::event_based_actor* self, size_t, auto done) {
    self->request(eng.spawn_run(), caf::infinite, run_request{workflow_name, bench_input, {}, {}})
      .then(
        [done](run_result& r) {
          if (r.status == run_status::blocked) {
            done(true, no_problem);
            return;
          }
          done(false, fmt::format("run {} ended {} ({}: {}), expected blocked", r.run_id,
                                  to_string(r.status), r.reason, r.detail));
        },
        [done](caf::error& err) { done(false, "CAF error: " + caf::to_string(err)); });
  };
}

/// A checkpoint store in a fresh directory, deleted with the object.
struct bench_store {
  std::string dir;
  std::shared_ptr<checkpoint_store> store;
  std::atomic<uint64_t> writes{0};
  std::atomic<uint64_t> bytes{0};

  explicit bench_store(const char* tag) {
    std::string pattern = std::string{"/tmp/bench_swarm-"} + tag + "-XXXXXX";
    if (!mkdtemp(pattern.data())) {
      std::cerr << "cannot create a directory under /tmp\n";
      std::exit(2);
    }
    dir = pattern;
    auto opened = checkpoint_store::open({dir + "/db"});
    if (!opened.ok()) {
      std::cerr << opened.error << '\n';
      std::exit(2);
    }
    store = std::move(opened.store);
    store->set_write_hook([this](size_t n) {
      writes.fetch_add(1, std::memory_order_relaxed);
      bytes.fetch_add(n, std::memory_order_relaxed);
      return std::string{};
    });
  }
  ~bench_store() {
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// -- bare CAF baseline ----------------------------------------------------------------

using bl_start_atom = caf::atom_constant<caf::atom("bl_start")>;
using bl_step_atom = caf::atom_constant<caf::atom("bl_step")>;
using bl_model_atom = caf::atom_constant<caf::atom("bl_model")>;
using bl_wake_atom = caf::atom_constant<caf::atom("bl_wake")>;

// The model: replies x + 1, at once or (memory phase) after a delayed message to
// itself, the way the sim model service does.
struct bl_model_state {
  std::unordered_map<uint64_t, std::pair<caf::response_promise, int32_t>> pending;
  uint64_t next = 0;
};

caf::behavior bl_model(caf::stateful_actor<bl_model_state>* self, std::chrono::milliseconds delay) {
  return {
    [=](bl_model_atom, int32_t x) -> caf::result<int32_t> {
      if (delay.count() <= 0)
        return x + 1;
      auto rp = self->make_response_promise();
      auto key = self->state.next++;
      self->state.pending.emplace(key, std::make_pair(rp, x + 1));
      self->delayed_send(self, delay, bl_wake_atom::value, key);
      return rp;
    },
    [=](bl_wake_atom, uint64_t key) {
      auto it = self->state.pending.find(key);
      if (it == self->state.pending.end())
        return;
      it->second.first.deliver(it->second.second);
      self->state.pending.erase(it);
    },
  };
}

// An agent: one model request per step, answered through a response promise.
caf::behavior bl_agent(caf::event_based_actor* self, caf::actor model) {
  return {
    [=](bl_step_atom, int32_t x) -> caf::result<int32_t> {
      auto rp = self->make_response_promise<int32_t>();
      self->request(model, caf::infinite, bl_model_atom::value, x)
        .then([rp](int32_t y) mutable { rp.deliver(y + 1); });
      return rp;
    },
  };
}

// A run: spawned per run, asks the 4 agents in turn, answers and quits.
struct bl_run_state {
  std::shared_ptr<const std::vector<caf::actor>> agents;
  std::chrono::milliseconds step_timeout{0};  // 0: none (the plain baseline)
  caf::response_promise promise;
  int32_t value = 0;
  size_t step = 0;
};

using bl_run_actor = caf::stateful_actor<bl_run_state>;

void bl_next_step(bl_run_actor* self) {
  auto& st = self->state;
  if (st.step == st.agents->size()) {
    st.promise.deliver(st.value);
    self->quit();
    return;
  }
  auto on_reply = [self](int32_t y) {
    self->state.value = y;
    bl_next_step(self);
  };
  auto& agent = (*st.agents)[st.step++];
  if (st.step_timeout.count() > 0)
    self->request(agent, st.step_timeout, bl_step_atom::value, st.value).then(on_reply);
  else
    self->request(agent, caf::infinite, bl_step_atom::value, st.value).then(on_reply);
}

caf::behavior bl_run(bl_run_actor* self, std::shared_ptr<const std::vector<caf::actor>> agents,
                     std::chrono::milliseconds step_timeout) {
  self->state.agents = std::move(agents);
  self->state.step_timeout = step_timeout;
  return {
    [self](bl_start_atom, int32_t x) -> caf::result<int32_t> {
      self->state.promise = self->make_response_promise();
      self->state.value = x;
      bl_next_step(self);
      return self->state.promise;
    },
  };
}

struct baseline_swarm {
  caf::actor model;
  std::shared_ptr<const std::vector<caf::actor>> agents;

  baseline_swarm(caf::actor_system& sys, std::chrono::milliseconds model_delay) {
    model = sys.spawn(bl_model, model_delay);
    auto list = std::make_shared<std::vector<caf::actor>>();
    for (size_t i = 0; i < agents_per_run; ++i)
      list->push_back(sys.spawn(bl_agent, model));
    agents = std::move(list);
  }
  ~baseline_swarm() {
    for (const auto& a : *agents)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(model, caf::exit_reason::user_shutdown);
  }
  baseline_swarm(const baseline_swarm&) = delete;
  baseline_swarm& operator=(const baseline_swarm&) = delete;

  /// `step_timeout` > 0 gives every run -> agent request a timeout, as Switchyard's
  /// run actor does (step_timeout_ms); only the diagnostic phase uses it.
  auto launch(caf::actor_system& sys, std::chrono::milliseconds step_timeout = {}) {
    return [&sys, agents = agents, step_timeout](caf::event_based_actor* self, size_t index,
                                                 auto done) {
      auto x = static_cast<int32_t>(index % 1000000);
      self->request(sys.spawn(bl_run, agents, step_timeout), caf::infinite, bl_start_atom::value, x)
        .then(
          [done, x](int32_t y) {
            auto expected = x + static_cast<int32_t>(2 * agents_per_run);
            if (y == expected)
              done(true, no_problem);
            else
              done(false, fmt::format("baseline run got {}, expected {}", y, expected));
          },
          [done](caf::error& err) { done(false, "CAF error: " + caf::to_string(err)); });
    };
  }
};

// -- output -------------------------------------------------------------------------

void print_load(const char* what, const load_figures& f) {
  std::cout << fmt::format("{:<12} {:>8} runs in {:7.3f} s  {:>10.0f} runs/s  {:>11.0f} msgs/s  "
                           "p50 {:7.3f} ms  p99 {:7.3f} ms  max {:7.3f} ms\n",
                           what, f.runs, f.wall_s, f.runs_per_s,
                           f.runs_per_s * static_cast<double>(messages_per_run), f.p50_ms,
                           f.p99_ms, f.max_ms);
}

void print_memory(const char* what, const memory_figures& m) {
  std::cout << fmt::format(
    "{:<12} {:>8} runs in flight: RSS {:.1f} -> {:.1f} MiB = {:.0f} B/run (heap {:.0f} B/run); "
    "after all ended {:.0f} B/run retained (heap {:.0f}); {} samples in flight, first run "
    "done at {:.3f} s, all at {:.3f} s\n",
    what, m.runs, m.rss_before / 1048576.0, m.rss_peak_inflight / 1048576.0,
    m.bytes_per_inflight_run(), m.heap_per_inflight_run(), m.retained_per_run(),
    m.heap_retained_per_run(), m.samples_inflight, m.first_done_s, m.wall_s);
}

double round_to(double x, int digits) {
  double scale = 1;
  for (int i = 0; i < digits; ++i)
    scale *= 10;
  return std::round(x * scale) / scale;
}

}  // namespace

int main(int argc, char** argv) {
  options opt;
  if (!parse_options(argc, argv, opt))
    return 2;
  auto started = bench_clock::now();
  init_logging("warn");

  auto cfg = bench_config(opt, 0);
  auto registry = bench_registry();
  if (auto problems = engine::check(*cfg, registry); !problems.empty()) {
    for (const auto& p : problems)
      std::cerr << p << '\n';
    return 2;
  }
  actor_runtime runtime{cfg->runtime};
  auto& sys = runtime.system();

  std::cout << fmt::format("bench_swarm: {} agents per run, {} messages per run, scheduler {}, "
                           "{} workers, {} hardware threads, allocator {}\n",
                           agents_per_run, messages_per_run, opt.scheduler, opt.workers,
                           std::thread::hardware_concurrency(), allocator_name());
  std::cout << fmt::format("throughput: {} runs, {} in flight, {} warm-up runs, sim latency 0\n",
                           opt.runs, opt.inflight, opt.warmup);

  // Throughput in rounds: every round runs its share of each phase's runs (Switchyard,
  // the bare-CAF baseline, checkpointed, checkpointed as `run --batch`), the order rotated
  // every round. A slow phase of this VM (the baseline alone moved between 77,000 and
  // 141,000 runs/s from run to run) then falls on all of them alike instead of on
  // whichever ran during it, so the ratios keep their meaning.
  load_samples sy_s, bl_s, dur_s;
  load_figures sy, bl, bl_timeouts, dur;
  size_t rss_after_throughput = 0;
  double dur_ratio = 0, batch_bytes_per_step = 0, disk_bytes_per_step = 0, writes_per_batch = 0;
  double batch_runs_per_s = 0, batch_ratio = 0;
  {
    std::optional<baseline_swarm> swarm;
    std::optional<bench_store> tput_store, batch_store;
    std::optional<engine> durable_eng, batch_eng;
    engine eng{sys, cfg, registry};
    if (opt.baseline) swarm.emplace(sys, 0ms);
    if (opt.durable) {
      tput_store.emplace("tput");
      durable_eng.emplace(sys, cfg, registry, tput_store->store);
      if (opt.durable_batch) {
        batch_store.emplace("batch");
        batch_eng.emplace(sys, cfg, registry, batch_store->store);
      }
    }
    if (opt.warmup > 0) {
      drive(sys, "switchyard warm-up", opt.warmup, opt.inflight, switchyard_launch(eng));
      if (swarm) drive(sys, "baseline warm-up", opt.warmup, opt.inflight, swarm->launch(sys));
      if (durable_eng)
        drive(sys, "durable warm-up", std::min(opt.warmup, opt.durable_runs), opt.inflight,
              switchyard_launch(*durable_eng));
    }
    uint64_t writes0 = 0, batches0 = 0, bytes0 = 0, disk0 = 0;
    if (tput_store) {
      writes0 = tput_store->writes.load();
      batches0 = tput_store->store->batches_written();
      bytes0 = tput_store->bytes.load();
      disk0 = tput_store->store->disk_bytes();
    }
    double batch_wall_s = 0;
    // The batch phase starts runs the way `switchyard run --batch` does (engine::run_all:
    // every run's checkpoint 0 in one batch first, then at most `inflight` at a time). The
    // durable phase starts each run as the gateway and a single `switchyard run` do (a run
    // actor per run_request, which writes its own checkpoint 0).
    auto run_batch = [&](size_t n) {
      if (n == 0) return;
      std::vector<run_request> requests(n, run_request{workflow_name, bench_input, {}, {}});
      auto t0 = bench_clock::now();
      auto results = batch_eng->run_all(std::move(requests), opt.inflight);
      batch_wall_s += std::chrono::duration<double>(bench_clock::now() - t0).count();
      size_t completed = 0;
      for (const auto& r : results)
        if (r.status == run_status::completed && r.steps.size() == agents_per_run) ++completed;
      if (completed != results.size()) {
        std::cerr << "durable batch: " << results.size() - completed << " runs did not complete\n";
        std::exit(1);
      }
    };
    std::vector<std::function<void(size_t round)>> phases;
    phases.push_back([&](size_t r) {
      drive_into(sy_s, sys, "switchyard", share(opt.runs, r, opt.rounds), opt.inflight,
                 switchyard_launch(eng));
    });
    if (swarm)
      phases.push_back([&](size_t r) {
        drive_into(bl_s, sys, "baseline", share(opt.runs, r, opt.rounds), opt.inflight,
                   swarm->launch(sys));
      });
    if (durable_eng)
      phases.push_back([&](size_t r) {
        drive_into(dur_s, sys, "durable", share(opt.durable_runs, r, opt.rounds), opt.inflight,
                   switchyard_launch(*durable_eng));
      });
    if (batch_eng)
      phases.push_back([&](size_t r) { run_batch(share(opt.durable_runs, r, opt.rounds)); });
    for (size_t r = 0; r < opt.rounds; ++r)
      for (size_t k = 0; k < phases.size(); ++k) phases[(k + r) % phases.size()](r);

    sy = figures_of(sy_s);
    print_load("switchyard", sy);
    rss_after_throughput = rss_bytes();
    if (swarm) {
      bl = figures_of(bl_s);
      print_load("baseline", bl);
      std::cout << fmt::format("ratio        switchyard / baseline = {:.3f}\n",
                               sy.runs_per_s / bl.runs_per_s);
      if (opt.diagnostics) {
        // Diagnostic, not part of the ratio: the baseline again, with the per-step request
        // timeout Switchyard's run actor sets (step_timeout_ms), to show what it costs.
        std::chrono::milliseconds timeout{cfg->workflow(workflow_name).step_timeout_ms};
        if (opt.warmup > 0)
          drive(sys, "baseline+timeouts warm-up", opt.warmup, opt.inflight,
                swarm->launch(sys, timeout));
        bl_timeouts =
            drive(sys, "baseline+timeouts", opt.runs, opt.inflight, swarm->launch(sys, timeout));
        print_load("baseline+to", bl_timeouts);
        std::cout << fmt::format(
            "diagnostic   baseline with a {} ms timeout on each run -> agent "
            "request: {:.3f} of the plain baseline\n",
            timeout.count(), bl_timeouts.runs_per_s / bl.runs_per_s);
      }
    }
    if (tput_store) {
      std::cout << fmt::format(
          "durable: {} runs with a RocksDB checkpoint after every step "
          "(sync off), {} in flight\n",
          opt.durable_runs, opt.inflight);
      dur = figures_of(dur_s);
      print_load("durable", dur);
      auto& bs = *tput_store;
      auto steps = static_cast<double>(opt.durable_runs * agents_per_run);
      batch_bytes_per_step = static_cast<double>(bs.bytes.load() - bytes0) / steps;
      disk_bytes_per_step = static_cast<double>(bs.store->disk_bytes() - disk0) / steps;
      dur_ratio = dur.runs_per_s / sy.runs_per_s;
      auto writes = static_cast<double>(bs.writes.load() - writes0);
      auto batches = static_cast<double>(bs.store->batches_written() - batches0);
      writes_per_batch = batches > 0 ? writes / batches : 0;
      std::cout << fmt::format(
          "ratio        durable / in-memory = {:.3f}; {:.1f} writes per run "
          "in {:.3f} WriteBatches per run ({:.1f} runs' writes per group "
          "commit), {:.0f} B written per step, {:.0f} B on disk per step\n",
          dur_ratio, writes / static_cast<double>(opt.durable_runs),
          batches / static_cast<double>(opt.durable_runs), writes_per_batch, batch_bytes_per_step,
          disk_bytes_per_step);
    }
    if (batch_eng) {
      batch_runs_per_s = static_cast<double>(opt.durable_runs) / batch_wall_s;
      batch_ratio = batch_runs_per_s / sy.runs_per_s;
      std::cout << fmt::format(
          "durable batch {} runs through engine::run_all (`run --batch`): "
          "{:.0f} runs/s, durable batch / in-memory = {:.3f}\n",
          opt.durable_runs, batch_runs_per_s, batch_ratio);
    }
  }

  memory_figures sy_mem, bl_mem;
  if (opt.memory) {
    std::cout << fmt::format("memory: {} runs started at once, sim latency {} ms per call\n",
                             opt.inflight_runs, opt.memory_latency_ms);
    {
      auto mem_cfg = bench_config(opt, opt.memory_latency_ms);
      engine eng{sys, mem_cfg, registry};
      sy_mem = measure_memory(sys, "switchyard memory", opt.inflight_runs, switchyard_launch(eng));
      print_memory("switchyard", sy_mem);
    }
    if (opt.baseline) {
      baseline_swarm swarm{sys, std::chrono::milliseconds{opt.memory_latency_ms}};
      bl_mem = measure_memory(sys, "baseline memory", opt.inflight_runs, swarm.launch(sys));
      print_memory("baseline", bl_mem);
    }
  }

  // The memory a run costs while it is parked as blocked.
  double bytes_per_blocked_run = 0, heap_per_blocked_run = 0;
  size_t blocked_seen = 0;
  if (opt.durable) {
    {
      bench_store bs{"blocked"};
      auto down_cfg = bench_config(opt, 0, true);
      engine eng{sys, down_cfg, registry, bs.store};
      std::this_thread::sleep_for(100ms);
      release_free_memory();
      auto rss0 = rss_bytes();
      auto heap0 = heap_bytes();
      drive(sys, "blocked", opt.blocked_runs, opt.blocked_runs, blocked_launch(eng));
      std::this_thread::sleep_for(200ms);  // run actors gone
      release_free_memory();
      blocked_seen = eng.blocked_runs();
      auto rss1 = rss_bytes();
      auto heap1 = heap_bytes();
      auto n = static_cast<double>(opt.blocked_runs);
      bytes_per_blocked_run = rss1 > rss0 ? static_cast<double>(rss1 - rss0) / n : 0;
      heap_per_blocked_run = heap1 > heap0 ? static_cast<double>(heap1 - heap0) / n : 0;
      std::cout << fmt::format("blocked      {} runs parked ({} in the resumer's schedule): "
                               "{:.0f} B RSS, {:.0f} B heap per blocked run (RocksDB memtable "
                               "included)\n",
                               opt.blocked_runs, blocked_seen, bytes_per_blocked_run,
                               heap_per_blocked_run);
    }
  }

  auto total_s = std::chrono::duration<double>(bench_clock::now() - started).count();
  bool goal_rate = sy.runs_per_s >= 20000;
  bool goal_ratio = opt.baseline && sy.runs_per_s / bl.runs_per_s >= 0.5;
  bool goal_memory = opt.memory && sy_mem.bytes_per_inflight_run() <= 4096;
  std::cout << fmt::format("goals: runs/s >= 20000: {}; baseline ratio >= 0.5: {}; "
                           "<= 4096 B per in-flight run: {}\n",
                           goal_rate ? "met" : "NOT met",
                           opt.baseline ? (goal_ratio ? "met" : "NOT met") : "not measured",
                           opt.memory ? (goal_memory ? "met" : "NOT met") : "not measured");
  std::cout << fmt::format("total time {:.1f} s, peak RSS {:.1f} MiB\n", total_s,
                           peak_rss_bytes() / 1048576.0);

  nlohmann::ordered_json j;
  j["bench"] = "bench_swarm";
  j["runs"] = opt.runs;
  j["inflight"] = opt.inflight;
  j["agents"] = agents_per_run;
  j["messages_per_run"] = messages_per_run;
  j["scheduler"] = opt.scheduler;
  j["workers"] = opt.workers;
  j["allocator"] = allocator_name();
  j["runs_per_s"] = round_to(sy.runs_per_s, 1);
  j["msgs_per_s"] = round_to(sy.runs_per_s * messages_per_run, 1);
  j["p50_ms"] = round_to(sy.p50_ms, 3);
  j["p99_ms"] = round_to(sy.p99_ms, 3);
  j["max_ms"] = round_to(sy.max_ms, 3);
  j["wall_s"] = round_to(sy.wall_s, 3);
  if (opt.baseline) {
    j["baseline_runs_per_s"] = round_to(bl.runs_per_s, 1);
    j["baseline_msgs_per_s"] = round_to(bl.runs_per_s * messages_per_run, 1);
    j["baseline_p50_ms"] = round_to(bl.p50_ms, 3);
    j["baseline_p99_ms"] = round_to(bl.p99_ms, 3);
    j["baseline_ratio"] = round_to(sy.runs_per_s / bl.runs_per_s, 4);
    if (opt.diagnostics)
      j["baseline_step_timeouts_runs_per_s"] = round_to(bl_timeouts.runs_per_s, 1);
  } else {
    j["baseline_runs_per_s"] = nullptr;
    j["baseline_msgs_per_s"] = nullptr;
    j["baseline_ratio"] = nullptr;
  }
  if (opt.memory) {
    j["inflight_runs"] = opt.inflight_runs;
    j["memory_latency_ms"] = opt.memory_latency_ms;
    j["bytes_per_inflight_run"] = round_to(sy_mem.bytes_per_inflight_run(), 0);
    j["heap_bytes_per_inflight_run"] = round_to(sy_mem.heap_per_inflight_run(), 0);
    j["retained_bytes_per_finished_run"] = round_to(sy_mem.retained_per_run(), 0);
    j["heap_retained_bytes_per_finished_run"] = round_to(sy_mem.heap_retained_per_run(), 0);
    if (opt.baseline)
      j["baseline_bytes_per_inflight_run"] = round_to(bl_mem.bytes_per_inflight_run(), 0);
  } else {
    j["bytes_per_inflight_run"] = nullptr;
  }
  if (opt.durable) {
    j["durable_runs"] = opt.durable_runs;
    j["durable_runs_per_s"] = round_to(dur.runs_per_s, 1);
    j["durable_p99_ms"] = round_to(dur.p99_ms, 3);
    j["durable_ratio"] = round_to(dur_ratio, 4);
    if (opt.durable_batch) {
      j["durable_batch_runs_per_s"] = round_to(batch_runs_per_s, 1);
      j["durable_batch_ratio"] = round_to(batch_ratio, 4);
    }
    j["checkpoint_bytes_per_step"] = round_to(batch_bytes_per_step, 0);
    j["writes_per_group_commit"] = round_to(writes_per_batch, 1);
    j["disk_bytes_per_step"] = round_to(disk_bytes_per_step, 0);
    j["blocked_runs"] = opt.blocked_runs;
    j["bytes_per_blocked_run"] = round_to(bytes_per_blocked_run, 0);
    j["heap_bytes_per_blocked_run"] = round_to(heap_per_blocked_run, 0);
  }
  j["rss_after_throughput_bytes"] = rss_after_throughput;
  j["peak_rss_bytes"] = peak_rss_bytes();
  j["goals_met"] = {{"runs_per_s_ge_20000", goal_rate},
                    {"baseline_ratio_ge_0_5", goal_ratio},
                    {"bytes_per_inflight_run_le_4096", goal_memory},
                    {"durable_ratio_ge_0_7", opt.durable && dur_ratio >= 0.7},
                    {"bytes_per_blocked_run_le_2048",
                     opt.durable && bytes_per_blocked_run <= 2048}};
  j["total_s"] = round_to(total_s, 2);
  std::cout << j.dump() << std::endl;
  return 0;
}
