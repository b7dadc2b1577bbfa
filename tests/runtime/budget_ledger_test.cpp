#include "runtime/budget_ledger.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

using namespace switchyard;

TEST_CASE("ledger: a reservation that fits is granted and settles to the actual usage",
          "[ledger]") {
  budget_ledger ledger;
  REQUIRE(ledger.open_thread("t", {1000, 1.0}));
  auto r = ledger.reserve("t", 300, 0.30);
  REQUIRE(r.granted);
  CHECK(ledger.usage("t").reserved_tokens == 300);
  CHECK(ledger.usage("t").reserved_usd == Approx(0.30));
  REQUIRE(ledger.settle(r.id, 120, 0.12));
  auto u = ledger.usage("t");
  CHECK(u.reserved_tokens == 0);
  CHECK(u.reserved_usd == Approx(0.0));
  CHECK(u.spent_tokens == 120);
  CHECK(u.spent_usd == Approx(0.12));
  CHECK(u.settled_calls == 1);
}

TEST_CASE("ledger: reservations count against the limit before they settle", "[ledger]") {
  budget_ledger ledger;
  ledger.open_thread("t", {1000, 0});
  REQUIRE(ledger.reserve("t", 600, 0).granted);
  auto refused = ledger.reserve("t", 500, 0);
  CHECK_FALSE(refused.granted);
  CHECK_THAT(refused.reason, Catch::Contains("token budget of thread 't'") &&
                                 Catch::Contains("600 reserved") && Catch::Contains("limit 1000"));
  CHECK(ledger.reserve("t", 400, 0).granted);  // exactly up to the limit is fine
}

TEST_CASE("ledger: the cost limit refuses a reservation that would pass it", "[ledger]") {
  budget_ledger ledger;
  ledger.open_thread("t", {0, 0.01});
  auto a = ledger.reserve("t", 10, 0.006);
  REQUIRE(a.granted);
  ledger.settle(a.id, 10, 0.006);
  auto b = ledger.reserve("t", 10, 0.005);
  CHECK_FALSE(b.granted);
  CHECK_THAT(b.reason, Catch::Contains("cost budget"));
  CHECK(ledger.reserve("t", 10, 0.004).granted);
}

TEST_CASE("ledger: a released reservation gives its room back and spends nothing", "[ledger]") {
  budget_ledger ledger;
  ledger.open_thread("t", {100, 0});
  auto r = ledger.reserve("t", 100, 0);
  REQUIRE(r.granted);
  CHECK_FALSE(ledger.reserve("t", 1, 0).granted);
  REQUIRE(ledger.release(r.id));
  CHECK(ledger.usage("t").spent_tokens == 0);
  CHECK(ledger.reserve("t", 100, 0).granted);
}

TEST_CASE("ledger: each reservation settles or releases exactly once", "[ledger]") {
  budget_ledger ledger;
  ledger.open_thread("t", {0, 0});
  auto r = ledger.reserve("t", 10, 0.1);
  REQUIRE(ledger.settle(r.id, 5, 0.05));
  CHECK_FALSE(ledger.settle(r.id, 5, 0.05));
  CHECK_FALSE(ledger.release(r.id));
  CHECK(ledger.usage("t").spent_tokens == 5);
  CHECK(ledger.pending_reservations() == 0);
}

TEST_CASE("ledger: an unknown thread cannot reserve, and the first opening sets the limits",
          "[ledger]") {
  budget_ledger ledger;
  auto r = ledger.reserve("nobody", 1, 0);
  CHECK_FALSE(r.granted);
  CHECK_THAT(r.reason, Catch::Contains("no budget account"));
  CHECK(ledger.open_thread("t", {50, 0}));
  CHECK_FALSE(ledger.open_thread("t", {5000, 0}));
  CHECK(ledger.usage("t").limits.max_tokens == 50);
}

TEST_CASE("ledger: zero limits mean unlimited", "[ledger]") {
  budget_ledger ledger;
  ledger.open_thread("t", {0, 0});
  for (int i = 0; i < 100; ++i) REQUIRE(ledger.reserve("t", 1'000'000, 1000.0).granted);
}

TEST_CASE("ledger: thousands of small charges add up without drift", "[ledger]") {
  budget_ledger ledger;
  ledger.open_thread("t", {0, 0});
  for (int i = 0; i < 10000; ++i) {
    auto r = ledger.reserve("t", 1, 0.0000001);
    ledger.settle(r.id, 1, 0.0000001);
  }
  CHECK(ledger.usage("t").spent_usd == Approx(0.001).epsilon(1e-9));
}

TEST_CASE("ledger: concurrent reservations from many threads never pass the limit", "[ledger]") {
  budget_ledger ledger;
  ledger.open_thread("shared", {0, 1.0});
  std::vector<std::thread> workers;
  std::atomic<int> granted{0};
  for (int w = 0; w < 8; ++w)
    workers.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        auto r = ledger.reserve("shared", 100, 0.001);
        if (!r.granted) continue;
        ++granted;
        // Settle for less than reserved half of the time, release otherwise.
        if (i % 2 == 0)
          ledger.settle(r.id, 60, 0.0006);
        else
          ledger.release(r.id);
      }
    });
  for (auto& t : workers) t.join();
  auto u = ledger.usage("shared");
  CHECK(u.spent_usd <= 1.0);
  CHECK(u.reserved_usd == 0);
  CHECK(granted.load() > 0);
  CHECK(ledger.pending_reservations() == 0);
}

TEST_CASE("ledger: a closed thread is forgotten once its last reservation settles", "[ledger]") {
  budget_ledger ledger;
  ledger.open_thread("once", {0, 0});
  auto r = ledger.reserve("once", 10, 0.01);
  REQUIRE(r.granted);
  ledger.close_thread("once");
  CHECK(ledger.open_threads() == 1);  // the pending call still needs its account
  CHECK_FALSE(ledger.reserve("once", 1, 0).granted);
  REQUIRE(ledger.settle(r.id, 5, 0.005));
  CHECK(ledger.open_threads() == 0);
  ledger.open_thread("idle", {0, 0});
  ledger.close_thread("idle");
  CHECK(ledger.open_threads() == 0);
}

TEST_CASE("ledger: an account ref answers like a lookup by thread id, across closing and reopening",
          "[ledger]") {
  budget_ledger ledger;
  budget_ledger::account_ref ref;
  // Unknown thread: refused with the same reason, and the ref stays empty.
  auto unknown = ledger.reserve("t", ref, 10, 0);
  CHECK_FALSE(unknown.granted);
  CHECK(unknown.reason == "thread 't' has no budget account");
  CHECK(ledger.usage("t", ref).limits.max_tokens == 0);

  // Opened since: found, and then reused.
  ledger.open_thread("t", {100, 0});
  auto a = ledger.reserve("t", ref, 60, 0);
  REQUIRE(a.granted);
  CHECK(ledger.usage("t", ref).reserved_tokens == 60);
  auto over = ledger.reserve("t", ref, 41, 0);
  CHECK_FALSE(over.granted);
  CHECK_THAT(over.reason, Catch::Contains("60 reserved + 41 asked > limit 100"));

  // Closing while a reservation is pending: refused as "closed", like by id.
  ledger.close_thread("t");
  auto closed = ledger.reserve("t", ref, 1, 0);
  CHECK_FALSE(closed.granted);
  CHECK(closed.reason == ledger.reserve("t", 1, 0).reason);
  REQUIRE(ledger.settle(a.id, 50, 0));
  CHECK(ledger.open_threads() == 0);

  // Reopened with other limits: the ref follows the new account, not the forgotten one.
  ledger.open_thread("t", {10, 0});
  CHECK(ledger.usage("t", ref).limits.max_tokens == 10);
  CHECK(ledger.usage("t", ref).spent_tokens == 0);
  CHECK_FALSE(ledger.reserve("t", ref, 11, 0).granted);
  CHECK(ledger.reserve("t", ref, 10, 0).granted);
}

TEST_CASE(
    "ledger: a thread opened after others closed starts with nothing spent and its own limits",
    "[ledger]") {
  budget_ledger ledger;
  // Closed threads' accounts are kept for reuse: what they spent must not carry over.
  for (int i = 0; i < 3; ++i) {
    const std::string id = "run-" + std::to_string(i);
    REQUIRE(ledger.open_thread(id, {100, 1.0}));
    auto r = ledger.reserve(id, 80, 0.5);
    REQUIRE(r.granted);
    REQUIRE(ledger.settle(r.id, 70, 0.4));
    ledger.close_thread(id);
  }
  CHECK(ledger.open_threads() == 0);
  REQUIRE(ledger.open_thread("fresh-thread-with-a-long-name", {50, 0}));
  auto u = ledger.usage("fresh-thread-with-a-long-name");
  CHECK(u.limits.max_tokens == 50);
  CHECK(u.limits.max_cost_usd == 0);
  CHECK(u.spent_tokens == 0);
  CHECK(u.spent_usd == 0);
  CHECK(u.reserved_tokens == 0);
  CHECK(u.settled_calls == 0);
  CHECK(ledger.usage("run-2").limits.max_tokens == 0);  // the closed one stays unknown
  CHECK_FALSE(ledger.reserve("fresh-thread-with-a-long-name", 51, 0).granted);
  CHECK(ledger.reserve("fresh-thread-with-a-long-name", 50, 0).granted);

  // A ref still held by a caller keeps its account out of reuse: it sees the thread
  // closed, not another thread's numbers.
  budget_ledger::account_ref held;
  REQUIRE(ledger.open_thread("held", {10, 0}));
  REQUIRE(ledger.usage("held", held).limits.max_tokens == 10);
  ledger.close_thread("held");
  REQUIRE(ledger.open_thread("other", {99, 0}));
  CHECK(ledger.usage("held", held).limits.max_tokens == 0);
  CHECK(ledger.usage("other").limits.max_tokens == 99);
}

TEST_CASE("ledger: a settled reservation's id stays dead when its slot is reused", "[ledger]") {
  budget_ledger ledger;
  ledger.open_thread("t", {0, 0});
  auto a = ledger.reserve("t", 10, 0);
  REQUIRE(ledger.settle(a.id, 10, 0));
  auto b = ledger.reserve("t", 20, 0);  // takes the slot `a` had
  REQUIRE(b.granted);
  CHECK(b.id != a.id);
  CHECK_FALSE(ledger.settle(a.id, 10, 0));
  CHECK_FALSE(ledger.release(a.id));
  CHECK_FALSE(ledger.settle(0, 1, 0));
  CHECK(ledger.usage("t").reserved_tokens == 20);
  CHECK(ledger.pending_reservations() == 1);
  REQUIRE(ledger.release(b.id));
  CHECK(ledger.pending_reservations() == 0);
  CHECK(ledger.usage("t").spent_tokens == 10);
}

TEST_CASE("ledger: ids of a burst stay dead after every reservation of it ended", "[ledger]") {
  budget_ledger ledger;
  ledger.open_thread("t", {0, 0});
  std::vector<uint64_t> burst;
  for (int i = 0; i < 3000; ++i) burst.push_back(ledger.reserve("t", 1, 0).id);
  for (auto id : burst) REQUIRE(ledger.release(id));
  CHECK(ledger.pending_reservations() == 0);
  auto next = ledger.reserve("t", 1, 0);
  REQUIRE(next.granted);
  for (auto id : burst) {
    CHECK(id != next.id);
    CHECK_FALSE(ledger.settle(id, 1, 0));
  }
  CHECK(ledger.usage("t").reserved_tokens == 1);
  CHECK(ledger.settle(next.id, 1, 0));
}
