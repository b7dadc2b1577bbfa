// `switchyard keys` against a key database another process holds: with no server to
// ask, or a server that is gone, a clear error and exit 2 (the e2e test covers the
// case that works: keys managed through a running `switchyard serve`).

#include <stdio.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "gateway/key_store.hpp"
#include "tests/support/temp_dir.hpp"

namespace switchyard {

namespace {

int run_cli(const std::string& args, std::string& output) {
  FILE* pipe = popen((std::string(SWITCHYARD_BINARY) + " " + args + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) output.append(buf, n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("keys cli: a database held by another process and no server announced is exit 2",
          "[gateway][cli]") {
  testing::temp_dir dir{"keys-locked"};
  auto db = dir.sub("keys");
  auto holder = gateway::key_store::open(db);
  REQUIRE(holder.ok());
  std::string out;
  CHECK(run_cli("keys list --db " + db, out) == 2);
  INFO(out);
  CHECK(out.find("locked by another process") != std::string::npos);
  CHECK(out.find(gateway::keys_admin_file(db)) != std::string::npos);
  CHECK(out.find("no running server announced") != std::string::npos);
}

TEST_CASE("keys cli: a server announced but gone is exit 2 naming the file to remove",
          "[gateway][cli]") {
  testing::temp_dir dir{"keys-stale"};
  auto db = dir.sub("keys");
  auto holder = gateway::key_store::open(db);
  REQUIRE(holder.ok());
  // Port 1 on loopback: nothing listens there.
  std::ofstream{gateway::keys_admin_file(db)} << R"({"url": "http://127.0.0.1:1", "token": "t"})";
  std::string out;
  CHECK(run_cli("keys create --name x --db " + db, out) == 2);
  INFO(out);
  CHECK(out.find("did not answer") != std::string::npos);
  CHECK(out.find(gateway::keys_admin_file(db)) != std::string::npos);
}

TEST_CASE("keys cli: a free database is managed directly even with a stale announcement",
          "[gateway][cli]") {
  testing::temp_dir dir{"keys-free"};
  auto db = dir.sub("keys");
  std::ofstream{gateway::keys_admin_file(db)} << R"({"url": "http://127.0.0.1:1", "token": "t"})";
  std::string out;
  CHECK(run_cli("keys create --name direct --json --db " + db, out) == 0);
  INFO(out);
  CHECK(out.find("\"name\":\"direct\"") != std::string::npos);
}

}  // namespace switchyard
