#include "router/retry_policy.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <vector>

using namespace switchyard;
using namespace std::chrono_literals;

TEST_CASE("retry classification: caller errors are not retried", "[retry]") {
  CHECK(classify_error("rate_limited") == error_action::retry);
  CHECK(classify_error("overloaded") == error_action::retry);
  CHECK(classify_error("server_error") == error_action::retry);
  CHECK(classify_error("timeout") == error_action::retry);
  CHECK(classify_error("connection") == error_action::retry);
  CHECK(classify_error("bad_request") == error_action::fail);
  CHECK(classify_error("auth") == error_action::next_candidate);
  CHECK(classify_error("context_length") == error_action::larger_window);
  CHECK(classify_error("something_new") == error_action::fail);

  retry_state r(retry_settings{}, 0s, 1);
  CHECK(r.on_error("bad_request", 0, 0s).what == retry_decision::fail);
  CHECK(r.on_error("context_length", 0, 0s).what == retry_decision::larger_window);
  CHECK(r.on_error("auth", 0, 0s).what == retry_decision::next_candidate);
}

TEST_CASE("retry backoff doubles with at most 25 percent jitter and a cap", "[retry]") {
  retry_settings s;  // base 500 ms, cap 30 s, jitter 0.25
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    retry_state r(s, 0s, seed);
    for (uint32_t n = 1; n <= 10; ++n) {
      double nominal = std::min(500.0 * std::pow(2.0, n - 1), 30000.0);
      double got = std::chrono::duration<double, std::milli>(r.backoff(n)).count();
      CHECK(got >= nominal * 0.75 - 1e-6);
      CHECK(got <= nominal * 1.25 + 1e-6);
    }
  }
}

TEST_CASE("retry honours Retry-After as a floor and stops at the attempt budget", "[retry]") {
  retry_settings s;
  s.max_attempts = 3;
  retry_state r(s, 0s, 7);
  auto first = r.on_error("rate_limited", 5000, 0s);
  REQUIRE(first.what == retry_decision::retry_same);
  CHECK(first.delay >= 5000ms);  // never earlier than asked
  CHECK(first.delay <= 6250ms);  // spread at most 25 % above it
  auto second = r.on_error("server_error", 0, 6s);
  REQUIRE(second.what == retry_decision::retry_same);
  CHECK(second.delay >= 750ms);
  CHECK(second.delay <= 1250ms);
  CHECK(r.on_error("server_error", 0, 8s).what == retry_decision::exhausted);
  r.next_endpoint();
  CHECK(r.on_error("server_error", 0, 8s).what == retry_decision::retry_same);
}

TEST_CASE("retry stops when the next wait would overrun the time budget", "[retry]") {
  retry_settings s;
  s.max_total_ms = 10000;
  s.max_attempts = 100;
  retry_state r(s, 0s, 3);
  CHECK(r.on_error("rate_limited", 7000, 0s).what == retry_decision::retry_same);  // <= 8.75 s
  CHECK(r.on_error("rate_limited", 2000, 9s).what == retry_decision::exhausted);
  CHECK_FALSE(r.within_time_budget(10001ms));
}

TEST_CASE("100 clients retrying after the same 429 do not come back in lockstep", "[retry]") {
  // Every client hears "429, Retry-After: 1 s" at the same instant. Measure when each
  // would return: the spread must cover a good part of the jitter range and no
  // 10 ms slot may hold more than a few clients.
  std::vector<double> return_ms;
  for (uint64_t client = 0; client < 100; ++client) {
    retry_state r(retry_settings{}, 0s, 0x5eed0000 + client);
    auto d = r.on_error("rate_limited", 1000, 0s);
    REQUIRE(d.what == retry_decision::retry_same);
    return_ms.push_back(std::chrono::duration<double, std::milli>(d.delay).count());
  }
  auto [lo, hi] = std::minmax_element(return_ms.begin(), return_ms.end());
  double mean = 0;
  for (double x : return_ms) mean += x / return_ms.size();
  double var = 0;
  for (double x : return_ms) var += (x - mean) * (x - mean) / return_ms.size();
  INFO("min " << *lo << " ms, max " << *hi << " ms, stddev " << std::sqrt(var) << " ms");
  CHECK(*lo >= 1000);           // nobody comes back before Retry-After
  CHECK(*hi <= 1250);           // nor later than 25 % above it
  CHECK(*hi - *lo >= 200);      // spread over most of the 250 ms jitter range
  CHECK(std::sqrt(var) >= 50);  // uniform over 250 ms has a stddev of ~72 ms
  std::vector<int> slots(26, 0);
  for (double x : return_ms) ++slots[static_cast<size_t>((x - 1000) / 10)];
  CHECK(*std::max_element(slots.begin(), slots.end()) <= 12);  // 4 expected per slot
}
