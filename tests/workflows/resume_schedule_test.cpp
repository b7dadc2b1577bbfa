// When blocked runs are looked at again: the resumer's decisions, with a fake clock.

#include "workflows/resume_schedule.hpp"

#include <catch2/catch.hpp>

using namespace switchyard;
using ms = std::chrono::milliseconds;

TEST_CASE("resume schedule: a provider is probed after its hint, then with doubling backoff",
          "[resume]") {
  resume_schedule s{ms{100}, ms{1000}};
  resume_schedule::time_point t0{};
  s.park("r-1", "sim", t0, ms{250});
  s.park("r-2", "sim", t0, ms{0});
  CHECK(s.blocked_runs() == 2);
  CHECK(s.due(t0 + ms{249}).empty());
  auto due = s.due(t0 + ms{250});
  REQUIRE(due == std::vector<std::string>{"sim"});
  CHECK(s.due(t0 + ms{260}).empty());  // leased while the probe is out
  s.provider_down("sim", t0 + ms{260}, ms{0});
  CHECK(s.backoff_of("sim") == ms{200});
  CHECK(s.next_probe() == t0 + ms{460});
  for (int i = 0; i < 6; ++i) s.provider_down("sim", t0, ms{0});
  CHECK(s.backoff_of("sim") == ms{1000});  // capped
}

TEST_CASE("resume schedule: a provider back up releases every run waiting for it, only those",
          "[resume]") {
  resume_schedule s{ms{100}, ms{1000}};
  resume_schedule::time_point t0{};
  s.park("r-2", "sim", t0, ms{0});
  s.park("r-1", "sim", t0, ms{0});
  s.park("r-3", "other", t0, ms{0});
  s.park("r-1", "sim", t0, ms{0});  // twice: once
  CHECK(s.provider_up("sim") == std::vector<std::string>{"r-1", "r-2"});
  CHECK(s.blocked_runs() == 1);
  CHECK(s.is_waiting("r-3"));
  CHECK(s.provider_up("sim").empty());
}

TEST_CASE("resume schedule: a run resumed on command leaves the schedule", "[resume]") {
  resume_schedule s{ms{100}, ms{1000}};
  resume_schedule::time_point t0{};
  s.park("r-1", "sim", t0, ms{0});
  s.park("r-2", "sim", t0, ms{0});
  CHECK(s.take("r-1"));
  CHECK_FALSE(s.take("r-1"));
  CHECK(s.take_all() == std::vector<std::string>{"r-2"});
  CHECK(s.blocked_runs() == 0);
  CHECK(s.next_probe() == resume_schedule::time_point::max());
}
