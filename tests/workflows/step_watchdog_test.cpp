#include "workflows/step_watchdog.hpp"

#include <catch2/catch.hpp>

using namespace switchyard;
using namespace std::chrono_literals;

TEST_CASE("watchdog: only runs whose oldest open step is past its timeout are overdue",
          "[watchdog]") {
  step_watchdog dog;
  auto t0 = step_watchdog::clock_type::now();
  step_watchdog::watch a, b, c;
  auto quick = dog.add(a, {}, 100ms);
  auto slow = dog.add(b, {}, 10s);
  auto idle = dog.add(c, {}, 100ms);
  quick->set_oldest_open(t0);
  slow->set_oldest_open(t0);
  CHECK(dog.overdue(t0 + 50ms).empty());
  CHECK(dog.overdue(t0 + 150ms).size() == 1);  // quick only; idle has no open step
  quick->clear();
  CHECK(dog.overdue(t0 + 150ms).empty());
  CHECK(dog.size() == 3);
}

TEST_CASE("watchdog: a registration leaves the table when it is destroyed", "[watchdog]") {
  step_watchdog dog;
  step_watchdog::watch w;
  {
    auto r = dog.add(w, {}, 1s);
    CHECK(dog.size() == 1);
    auto moved = std::move(r);
    CHECK(dog.size() == 1);
  }
  CHECK(dog.size() == 0);
}
