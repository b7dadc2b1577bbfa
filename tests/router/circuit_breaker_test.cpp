#include "router/circuit_breaker.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <vector>

using namespace switchyard;
using namespace std::chrono_literals;

namespace {

// Drives a breaker through `n` calls with the given outcome at time `now`.
void feed(circuit_breaker& b, int n, call_outcome o, clock_time now) {
  for (int i = 0; i < n; ++i) {
    auto a = b.admit(now);
    REQUIRE(a.allowed);
    b.report(o, now, a.probe);
  }
}

}  // namespace

TEST_CASE("breaker stays closed below the minimum number of calls", "[breaker]") {
  circuit_breaker b;  // min_calls 10, rate 0.5
  feed(b, 9, call_outcome::failure, 1s);
  CHECK(b.state(1s) == breaker_state::closed);
  feed(b, 1, call_outcome::failure, 1s);
  CHECK(b.state(1s) == breaker_state::open);
}

TEST_CASE("breaker opens at the failure rate over the window, not below it", "[breaker]") {
  circuit_breaker b;
  feed(b, 6, call_outcome::success, 1s);
  feed(b, 5, call_outcome::failure, 1s);  // 5 of 11 < 50 %
  CHECK(b.state(1s) == breaker_state::closed);
  feed(b, 1, call_outcome::semantic_failure, 1s);  // 6 of 12 = 50 %: semantic counts
  CHECK(b.state(1s) == breaker_state::open);
  auto refused = b.admit(2s);
  CHECK_FALSE(refused.allowed);
  CHECK(refused.retry_in == 29s);
}

TEST_CASE("breaker forgets failures that slid out of the window", "[breaker]") {
  circuit_breaker b;  // 30 s window
  feed(b, 9, call_outcome::failure, 0s);
  // 40 s later those 9 are gone: 9 fresh successes and 1 failure stay closed.
  feed(b, 9, call_outcome::success, 40s);
  feed(b, 1, call_outcome::failure, 40s);
  CHECK(b.state(40s) == breaker_state::closed);
  CHECK(b.window_calls(40s) == 10);
  CHECK(b.window_failures(40s) == 1);
}

TEST_CASE("breaker stays open 30 s, lets exactly one probe through, doubles to a 5 min cap",
          "[breaker]") {
  circuit_breaker b;
  feed(b, 10, call_outcome::failure, 0s);
  REQUIRE(b.state(0s) == breaker_state::open);
  CHECK_FALSE(b.admit(29s).allowed);

  clock_time t = 30s;
  std::vector<clock_time> expected_open = {60s, 120s, 240s, 300s, 300s};
  for (clock_time open_for : expected_open) {
    CHECK(b.state(t) == breaker_state::half_open);
    auto probe = b.admit(t);
    REQUIRE(probe.allowed);
    CHECK(probe.probe);
    // While the probe is out, nobody else gets through.
    CHECK_FALSE(b.admit(t).allowed);
    CHECK_FALSE(b.admit(t + 1s).allowed);
    b.report(call_outcome::failure, t, true);
    CHECK(b.state(t) == breaker_state::open);
    CHECK_FALSE(b.admit(t + open_for - 1ms).allowed);
    t += open_for;
    CHECK(b.admit(t - 1ms).retry_in == 1ms);
  }
  // A successful probe closes it and resets the open time to 30 s.
  auto probe = b.admit(t);
  REQUIRE(probe.probe);
  b.report(call_outcome::success, t, true);
  CHECK(b.state(t) == breaker_state::closed);
  CHECK(b.current_open_duration() == 30s);
  CHECK(b.window_calls(t) == 0);
  CHECK(b.admit(t).allowed);
}

TEST_CASE("breaker ignores late outcomes of calls admitted before it opened", "[breaker]") {
  circuit_breaker b;
  feed(b, 10, call_outcome::failure, 0s);
  b.report(call_outcome::success, 1s, false);  // a straggler
  CHECK(b.state(1s) == breaker_state::open);
  auto probe = b.admit(30s);
  REQUIRE(probe.probe);
  b.report(call_outcome::success, 30s, false);  // not the probe: ignored
  CHECK(b.state(30s) == breaker_state::half_open);
}

TEST_CASE("breaker frees a probe slot that never reported after the probe timeout", "[breaker]") {
  circuit_breaker b;
  feed(b, 10, call_outcome::failure, 0s);
  REQUIRE(b.admit(30s).probe);
  CHECK_FALSE(b.admit(89s).allowed);
  CHECK(b.admit(90s).probe);
}

TEST_CASE("breaker outcome mapping counts endpoint faults, not caller faults", "[breaker]") {
  call_outcome o;
  CHECK((breaker_outcome_for("", o) && o == call_outcome::success));
  CHECK((breaker_outcome_for("server_error", o) && o == call_outcome::failure));
  CHECK((breaker_outcome_for("timeout", o) && o == call_outcome::failure));
  CHECK((breaker_outcome_for("bad_response", o) && o == call_outcome::semantic_failure));
  CHECK_FALSE(breaker_outcome_for("bad_request", o));
  CHECK_FALSE(breaker_outcome_for("rate_limited", o));
  CHECK_FALSE(breaker_outcome_for("context_length", o));
}

TEST_CASE("breaker registry keeps one breaker per endpoint across threads", "[breaker]") {
  breaker_registry registry;
  endpoint_id a{"m", "p", "k1"}, b{"m", "p", "k2"};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        auto& br = registry.get(i % 2 == 0 ? a : b);
        auto adm = br.admit(1s);
        if (adm.allowed) br.report(call_outcome::failure, 1s, adm.probe);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(&registry.get(a) == &registry.get(endpoint_id{"m", "p", "k1"}));
  auto snap = registry.snapshot(1s);
  REQUIRE(snap.size() == 2);
  CHECK(snap[0].first == "m|p|k1");
  CHECK(snap[0].second == breaker_state::open);
  CHECK(snap[1].second == breaker_state::open);
}

TEST_CASE("breaker open_now opens at once and a failed probe still doubles the open time",
          "[breaker][keys]") {
  breaker_settings s;
  s.min_calls = 10;
  s.open_ms = 1000;
  s.max_open_ms = 8000;
  circuit_breaker b{s};
  b.open_now(0s, false);  // one rejected key is enough, whatever min_calls says
  CHECK(b.state(0s) == breaker_state::open);
  CHECK(b.open_remaining(0s) == 1s);
  b.open_now(500ms, false);  // already open: unchanged
  CHECK(b.open_remaining(500ms) == 500ms);
  auto probe = b.admit(1s);
  REQUIRE(probe.allowed);
  REQUIRE(probe.probe);
  b.open_now(1s, true);  // the probe's key is still rejected
  CHECK(b.state(1s) == breaker_state::open);
  CHECK(b.open_remaining(1s) == 2s);
}

TEST_CASE("shared breaker: open, probe and close read the same with and without its lock",
          "[breaker]") {
  // A closed shared breaker answers admit() and state() without its lock; every change
  // must show at once in both.
  shared_breaker b{breaker_settings{}};  // min_calls 10, rate 0.5, open 30 s
  CHECK(b.state(0s) == breaker_state::closed);
  CHECK(b.open_remaining(0s) == 0s);
  for (int i = 0; i < 10; ++i) {
    auto a = b.admit(0s);
    REQUIRE(a.allowed);
    CHECK_FALSE(a.probe);
    b.report(call_outcome::failure, 0s, a.probe);
  }
  CHECK(b.state(1s) == breaker_state::open);
  CHECK(b.open_remaining(1s) == 29s);
  auto refused = b.admit(1s);
  CHECK_FALSE(refused.allowed);
  CHECK(refused.retry_in == 29s);
  CHECK(b.state(30s) == breaker_state::half_open);
  auto probe = b.admit(30s);
  REQUIRE(probe.allowed);
  CHECK(probe.probe);
  CHECK_FALSE(b.admit(30s).allowed);  // one probe at a time
  b.report(call_outcome::success, 30s, true);
  CHECK(b.state(31s) == breaker_state::closed);
  auto again = b.admit(31s);
  CHECK(again.allowed);
  CHECK_FALSE(again.probe);
  b.open_now(32s, false);  // a rejected key opens it at once
  CHECK(b.state(32s) == breaker_state::open);
  CHECK_FALSE(b.admit(32s).allowed);
}
