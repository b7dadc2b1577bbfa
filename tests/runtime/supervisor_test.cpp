#include "runtime/supervisor.hpp"

#include <catch2/catch.hpp>

using namespace switchyard;

TEST_CASE("supervisor: with max_hops N a run may make exactly N hops", "[supervisor]") {
  supervisor s{3};
  CHECK(s.admits_hop(0));
  CHECK(s.admits_hop(2));
  CHECK_FALSE(s.admits_hop(3));
  CHECK_FALSE(s.admits_hop(4));
}

TEST_CASE("supervisor: a refused budget escalates, other errors fail the run", "[supervisor]") {
  auto budget = supervisor::judge({"budget_exhausted", "no money", 0, {}});
  CHECK(budget.status == run_status::escalated);
  CHECK(budget.reason == "budget_exhausted");
  auto server = supervisor::judge({"server_error", "HTTP 500", 0, {}});
  CHECK(server.status == run_status::failed);
  CHECK(server.reason == "server_error");
}
