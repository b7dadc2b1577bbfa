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

TEST_CASE("watchdog: runs leaving in any order leave the others watched", "[watchdog]") {
  step_watchdog dog;
  auto t0 = step_watchdog::clock_type::now();
  step_watchdog::watch w[5];
  for (auto& x : w) {
    dog.insert(x, {}, 100ms);
    x.set_oldest_open(t0);
  }
  dog.insert(w[2], {}, 100ms);  // again: still one entry (its clock starts over)
  w[2].set_oldest_open(t0);
  CHECK(dog.size() == 5);
  dog.remove(w[1]);  // from the middle
  dog.remove(w[1]);  // not in the table any more: nothing happens
  dog.remove(w[4]);  // the last one
  dog.remove(w[0]);  // the first one
  CHECK(dog.size() == 2);
  CHECK(dog.overdue(t0 + 150ms).size() == 2);  // w[2] and w[3] are still watched
  w[3].clear();
  CHECK(dog.overdue(t0 + 150ms).size() == 1);
  dog.remove(w[2]);
  dog.remove(w[3]);
  CHECK(dog.size() == 0);
  CHECK(dog.overdue(t0 + 150ms).empty());
  dog.insert(w[1], {}, 100ms);  // a watch that left can register again
  w[1].set_oldest_open(t0);
  CHECK(dog.overdue(t0 + 150ms).size() == 1);
}
