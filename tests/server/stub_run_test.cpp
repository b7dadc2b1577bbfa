// The "done when": `switchyard run hello` against the stub provider, end to end
// through HTTP, as a user runs it (the binary as a child process, the stub in-process
// on an ephemeral port, the config from examples/configs/stub.json).

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "stub/stub_server.hpp"

namespace switchyard {

namespace {

using json = nlohmann::json;

std::string read_text(const std::string& path) {
  std::ifstream in{path};
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// Runs a shell command; returns its exit status and stdout+stderr.
int run(const std::string& command, std::string& output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) output.append(buf, n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("switchyard run hello completes against the stub provider over HTTP", "[http][cli]") {
  std::string error;
  auto stub = stub_server::start(0, {}, error);
  REQUIRE(stub);
  // The example config, pointed at this stub's port.
  auto cfg = json::parse(read_text(std::string(SWITCHYARD_SOURCE_DIR) + "/examples/configs/stub.json"));
  for (auto& p : cfg["providers"])
    p["base_url"] = stub->base_url() + (p["kind"] == "anthropic" ? "" : "/v1");
  std::string path = "/tmp/switchyard-stub-run-" + std::to_string(stub->port()) + ".json";
  std::ofstream{path} << cfg.dump(2);

  const std::string key = "sk-e2e-DO-NOT-PRINT-7731";
  std::string output;
  int status = run("SWITCHYARD_STUB_KEY=" + key + " " + SWITCHYARD_BINARY +
                       " run hello --json --no-db --log-level debug --config " + path +
                       " --input 'What are your opening hours?'",
                   output);
  std::remove(path.c_str());
  INFO(output);
  CHECK(status == 0);
  CHECK(output.find("\"status\":\"completed\"") != std::string::npos);
  // The answerer (mid tier) went to the Anthropic endpoint, the acknowledger (local) to
  // the OpenAI-compatible one: both replies came back through HTTP.
  auto seen = stub->requests();
  bool anthropic = false, openai = false;
  for (const auto& r : seen) {
    if (r.target == "/v1/messages") {
      anthropic = true;
      CHECK(r.header("x-api-key") == key);
    }
    if (r.target == "/v1/chat/completions") {
      openai = true;
      CHECK(r.header("authorization") == "Bearer " + key);
    }
  }
  CHECK((anthropic || openai));
  CHECK(output.find("[stub stub-") != std::string::npos);
  CHECK(output.find(key) == std::string::npos);
}

TEST_CASE("switchyard run against a stopped provider fails the run with a connection error",
          "[http][cli]") {
  std::string base_url;
  {
    std::string error;
    auto stub = stub_server::start(0, {}, error);
    REQUIRE(stub);
    base_url = stub->base_url();
  }
  auto cfg = json::parse(read_text(std::string(SWITCHYARD_SOURCE_DIR) + "/examples/configs/stub.json"));
  for (auto& p : cfg["providers"])
    p["base_url"] = base_url + (p["kind"] == "anthropic" ? "" : "/v1");
  std::string path = "/tmp/switchyard-stub-down-" + std::to_string(::getpid()) + ".json";
  std::ofstream{path} << cfg.dump(2);
  std::string output;
  int status = run(std::string("SWITCHYARD_STUB_KEY=k ") + SWITCHYARD_BINARY +
                       " run hello --json --no-db --config " + path + " --input 'What are your hours?'",
                   output);
  std::remove(path.c_str());
  INFO(output);
  CHECK(status == 1);
  CHECK(output.find("connection") != std::string::npos);
}

}  // namespace switchyard
