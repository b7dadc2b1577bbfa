// The real binary, killed with SIGKILL mid-batch and started again: nothing is lost,
// nothing is paid twice.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "runtime/checkpoint_store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace switchyard;
using switchyard::testing::temp_dir;

namespace {

// Starts the switchyard binary with `args`, stdout and stderr to `log`.
pid_t spawn_switchyard(const std::vector<std::string>& args, const std::string& log) {
  std::fflush(stdout);  // else the child's freopen writes our buffered output again
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    FILE* out = freopen(log.c_str(), "w", stdout);
    (void)out;
    dup2(fileno(stdout), fileno(stderr));
    std::vector<char*> argv;
    std::string bin = SWITCHYARD_BINARY;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

std::string slurp(const std::string& path) {
  std::ifstream in{path};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The default config with slower sim models, so a batch takes a while.
std::string write_config(const temp_dir& dir, int latency_ms) {
  auto j = nlohmann::json::parse(
      slurp(std::string{SWITCHYARD_SOURCE_DIR} + "/examples/configs/default.json"));
  for (auto& m : j["models"]) m["sim"]["latency_ms"] = latency_ms;
  j["runtime"]["log_level"] = "error";
  // Relative paths resolve against the config's folder, and the copy lives elsewhere.
  const std::string base = std::string{SWITCHYARD_SOURCE_DIR} + "/examples/configs/";
  if (j.contains("router"))
    for (auto& r : j["router"]["routes"])
      if (r.contains("examples_file")) r["examples_file"] = base + r["examples_file"].get<std::string>();
  if (j.contains("support"))
    for (const char* key : {"knowledge_base", "orders"})
      if (j["support"].contains(key)) j["support"][key] = base + j["support"][key].get<std::string>();
  auto path = dir.sub("config.json");
  std::ofstream{path} << j.dump(2);
  return path;
}

size_t count_status(const std::string& db, run_status wanted) {
  auto opened = checkpoint_store::open({db, false, true});
  if (!opened.ok()) return 0;
  size_t n = 0;
  for (const auto& r : opened.store->list())
    if (r.state && r.state->status == wanted) ++n;
  return n;
}

}  // namespace

TEST_CASE(
    "crash: a batch of 200 killed with SIGKILL mid-way completes after a restart, "
    "transcripts whole, ledger equal to the steps' costs",
    "[crash]") {
  temp_dir dir{"crash"};
  auto config = write_config(dir, 25);
  auto batch = dir.sub("batch.jsonl");
  {
    std::ofstream out{batch};
    for (int i = 0; i < 200; ++i)
      out << nlohmann::json{{"input", "Where is order " + std::to_string(i) + "?"},
                            {"run_id", "crash-" + std::to_string(i)}}
                 .dump()
          << '\n';
  }
  auto db = dir.sub("db");
  auto pid = spawn_switchyard({"run", "hello", "--config", config, "--batch", batch, "--db", db,
                               "--max-in-flight", "4", "--json"},
                              dir.sub("first.log"));
  REQUIRE(pid > 0);
  // Kill it once a few runs have completed (read-only opening takes no lock).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  while (count_status(db, run_status::completed) < 10 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  kill(pid, SIGKILL);
  CHECK(wait_exit(pid) == -SIGKILL);
  auto done_before = count_status(db, run_status::completed);
  INFO("completed before the kill: " << done_before);
  REQUIRE(done_before >= 10);
  REQUIRE(done_before < 200);  // it really was cut mid-way

  auto resumed = spawn_switchyard(
      {"runs", "resume", "--all-blocked", "--config", config, "--db", db}, dir.sub("second.log"));
  auto code = wait_exit(resumed);
  INFO(slurp(dir.sub("second.log")));
  REQUIRE(code == 0);

  auto opened = checkpoint_store::open({db});
  REQUIRE(opened.ok());
  auto& store = *opened.store;
  auto runs = store.list();
  REQUIRE(runs.size() == 200);
  int64_t ledger_total = 0;
  int64_t steps_total = 0;
  for (const auto& r : runs) {
    INFO(r.run_id);
    REQUIRE(r.state);
    CHECK(r.state->status == run_status::completed);
    auto steps = store.steps(r.run_id);
    REQUIRE(steps.size() == 2);  // intake, then answerer: whole, nothing twice
    CHECK(steps[0].step == 0);
    CHECK(steps[0].agent == "intake");
    CHECK(steps[1].agent == "answerer");
    CHECK(steps[1].error.empty());
    CHECK(r.state->steps == 2);
    auto ledger = store.ledger(r.run_id);
    REQUIRE(ledger.size() == 1);  // one paid call, counted once
    int64_t run_steps = 0;
    for (const auto& s : steps) run_steps += static_cast<int64_t>(std::llround(s.cost_usd * 1e9));
    CHECK(ledger[0].nano_usd == run_steps);
    CHECK(r.state->spent_nano_usd == run_steps);
    ledger_total += ledger[0].nano_usd;
    steps_total += run_steps;
  }
  CHECK(ledger_total == steps_total);
  CHECK(ledger_total > 0);
}

TEST_CASE("crash: a store locked by another process is a clear error at start, exit 2", "[crash]") {
  temp_dir dir{"locked"};
  auto db = dir.sub("db");
  auto holder = checkpoint_store::open({db});
  REQUIRE(holder.ok());
  auto pid =
      spawn_switchyard({"run", "hello", "--config",
                        std::string{SWITCHYARD_SOURCE_DIR} + "/examples/configs/default.json",
                        "--input", "hi", "--db", db},
                       dir.sub("out.log"));
  CHECK(wait_exit(pid) == 2);
  auto out = slurp(dir.sub("out.log"));
  CHECK(out.find(db) != std::string::npos);
  CHECK(out.find("locked by another process") != std::string::npos);
}
