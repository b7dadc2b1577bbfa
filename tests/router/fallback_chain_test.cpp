#include "router/fallback_chain.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tests/support/test_config.hpp"

using namespace switchyard;
using namespace std::chrono_literals;

namespace {

// Two providers in the mid tier, two local models; the catalog order is deliberately
// not the fallback order.
std::shared_ptr<const config> catalog() {
  std::string text = R"({"runtime": {"log_level": "off"},
    "tiers": ["local", "mid", "frontier"],
    "providers": [{"name": "p1", "kind": "sim"}, {"name": "p2", "kind": "sim"}],
    "models": [
      {"id": "local-pricey", "provider": "p1", "tier": "local", "price_in_per_mtok": 0.2,
       "price_out_per_mtok": 0.2, "context_window": 8192, "residency": "local"},
      {"id": "mid-p1-b", "provider": "p1", "tier": "mid", "price_in_per_mtok": 1,
       "price_out_per_mtok": 1, "context_window": 16384, "residency": "cloud"},
      {"id": "mid-p1", "provider": "p1", "tier": "mid", "price_in_per_mtok": 1,
       "price_out_per_mtok": 2, "context_window": 16384, "residency": "cloud"},
      {"id": "mid-p2", "provider": "p2", "tier": "mid", "price_in_per_mtok": 2,
       "price_out_per_mtok": 2, "context_window": 32768, "residency": "cloud"},
      {"id": "local-cheap", "provider": "p2", "tier": "local", "price_in_per_mtok": 0,
       "price_out_per_mtok": 0, "context_window": 4096, "residency": "local"},
      {"id": "front", "provider": "p2", "tier": "frontier", "price_in_per_mtok": 3,
       "price_out_per_mtok": 15, "context_window": 200000, "residency": "cloud"}
    ]})";
  auto loaded = parse_config_text(text, "fallback-test");
  INFO(loaded.message());
  REQUIRE(loaded.ok());
  return std::make_shared<const config>(std::move(*loaded.value));
}

std::vector<std::string> order_of(const candidate_plan& plan) {
  std::vector<std::string> ids;
  for (const auto& c : plan.candidates) ids.push_back(c.endpoint.model);
  return ids;
}

// Drives a chain the way the router actor will, with a scripted endpoint: `answer`
// maps a model id to the error it returns (empty kind = success). Returns the models
// called, in order.
std::vector<std::string> drive(fallback_chain& chain, manual_clock& clock,
                               const std::function<model_error(const std::string&)>& answer) {
  std::vector<std::string> called;
  for (int guard = 0; guard < 1000; ++guard) {
    auto a = chain.next_attempt(clock.now());
    if (a.what == chain_attempt::done) return called;
    if (a.what == chain_attempt::wait) {
      clock.advance(a.delay);
      continue;
    }
    const std::string& model = chain.candidates()[a.candidate].endpoint.model;
    called.push_back(model);
    chain.report(answer(model), clock.now());
  }
  FAIL("chain did not finish");
  return called;
}

model_error err(const std::string& kind, uint32_t retry_after_ms = 0) {
  return model_error{kind, "injected", retry_after_ms, {}};
}

}  // namespace

TEST_CASE("fallback plan from the catalog: other provider first, then the lower tier",
          "[fallback]") {
  auto cfg = catalog();
  auto plan = plan_from_catalog(*cfg, "mid-p1");
  REQUIRE(plan.error.empty());
  CHECK(order_of(plan) ==
        std::vector<std::string>{"mid-p1", "mid-p2", "mid-p1-b", "local-cheap", "local-pricey"});
  CHECK(plan.requested_tier_rank == 1);
  CHECK(plan_from_catalog(*cfg, "gpt-9").error == "no model 'gpt-9' in the catalog");

  auto route = plan_route(*cfg, {"front", "mid-p2", "local-cheap"});
  CHECK(order_of(route) == std::vector<std::string>{"front", "mid-p2", "local-cheap"});
  CHECK(route.requested_tier_rank == 2);
  CHECK(plan_route(*cfg, {"front", "nope"}).error ==
        "route names model 'nope', which is not in the catalog");
}

TEST_CASE("fallback walks the order and flags a lower-tier answer as downgraded", "[fallback]") {
  auto cfg = catalog();
  manual_clock clock;
  breaker_registry breakers;
  auto plan = plan_from_catalog(*cfg, "mid-p1");
  fallback_chain chain(plan.candidates, plan.requested_tier_rank, &breakers, retry_settings{},
                       clock.now(), 1);
  auto called = drive(chain, clock, [](const std::string& model) {
    return model.rfind("mid", 0) == 0 ? err("server_error") : model_error{};
  });
  // Each mid model gets its 3 attempts, then the cheapest local model answers.
  CHECK(called == std::vector<std::string>{"mid-p1", "mid-p1", "mid-p1", "mid-p2", "mid-p2",
                                           "mid-p2", "mid-p1-b", "mid-p1-b", "mid-p1-b",
                                           "local-cheap"});
  const auto& r = chain.result();
  CHECK(r.what == chain_result::success);
  CHECK(chain.candidates()[r.candidate].endpoint.model == "local-cheap");
  CHECK(r.downgraded);
  CHECK_THAT(r.reason, Catch::StartsWith("answered by tier local because mid-p1: server_error "
                                         "after 3 attempt(s)"));
}

TEST_CASE("fallback answer from the same tier is not a downgrade", "[fallback]") {
  auto cfg = catalog();
  manual_clock clock;
  auto plan = plan_from_catalog(*cfg, "mid-p1");
  fallback_chain chain(plan.candidates, plan.requested_tier_rank, nullptr, retry_settings{},
                       clock.now(), 2);
  auto called = drive(chain, clock, [](const std::string& model) {
    return model == "mid-p1" ? err("auth") : model_error{};
  });
  CHECK(called == std::vector<std::string>{"mid-p1", "mid-p2"});  // auth: no retry
  CHECK(chain.result().what == chain_result::success);
  CHECK_FALSE(chain.result().downgraded);
}

TEST_CASE("fallback is blocked, not failed, when every candidate is down", "[fallback]") {
  auto cfg = catalog();
  manual_clock clock;
  breaker_registry breakers;
  auto plan = plan_from_catalog(*cfg, "mid-p1");
  // Open the breakers of every candidate but the last one.
  for (size_t i = 0; i + 1 < plan.candidates.size(); ++i) {
    auto& b = breakers.get(plan.candidates[i].endpoint);
    for (int n = 0; n < 10; ++n) b.report(call_outcome::failure, clock.now(), false);
  }
  fallback_chain chain(plan.candidates, plan.requested_tier_rank, &breakers, retry_settings{},
                       clock.now(), 3);
  auto called = drive(chain, clock, [](const std::string&) { return err("connection"); });
  CHECK(called == std::vector<std::string>{"local-pricey", "local-pricey", "local-pricey"});
  const auto& r = chain.result();
  CHECK(r.what == chain_result::blocked);
  CHECK(r.retry_in == 30s);
  CHECK_THAT(r.reason, Catch::Contains("mid-p1: breaker open") &&
                           Catch::Contains("local-pricey: connection after 3 attempt(s)"));
}

TEST_CASE("fallback fails at once on a non-retriable error", "[fallback]") {
  auto cfg = catalog();
  manual_clock clock;
  auto plan = plan_from_catalog(*cfg, "mid-p1");
  fallback_chain chain(plan.candidates, plan.requested_tier_rank, nullptr, retry_settings{},
                       clock.now(), 4);
  auto called = drive(chain, clock, [](const std::string&) { return err("bad_request"); });
  CHECK(called == std::vector<std::string>{"mid-p1"});
  CHECK(chain.result().what == chain_result::failed);
  CHECK(chain.result().error_kind == "bad_request");
}

TEST_CASE("fallback moves to a larger window after a context_length error", "[fallback]") {
  auto cfg = catalog();
  manual_clock clock;
  auto plan = plan_from_catalog(*cfg, "mid-p1");  // windows 16k, 32k, 16k, 4k, 8k
  fallback_chain chain(plan.candidates, plan.requested_tier_rank, nullptr, retry_settings{},
                       clock.now(), 5);
  auto called = drive(chain, clock, [](const std::string& model) {
    return model == "mid-p2" ? model_error{} : err("context_length");
  });
  CHECK(called == std::vector<std::string>{"mid-p1", "mid-p2"});
  CHECK(chain.result().what == chain_result::success);

  // When no larger window exists, that is a failure (waiting does not help).
  fallback_chain none(plan.candidates, plan.requested_tier_rank, nullptr, retry_settings{},
                      clock.now(), 6);
  called = drive(none, clock, [](const std::string&) { return err("context_length"); });
  CHECK(called == std::vector<std::string>{"mid-p1", "mid-p2"});
  CHECK(none.result().what == chain_result::failed);
  CHECK(none.result().error_kind == "context_length");
}

TEST_CASE("fallback waits out Retry-After and counts semantic failures on the breaker",
          "[fallback]") {
  auto cfg = catalog();
  manual_clock clock;
  breaker_registry breakers;
  auto plan = plan_route(*cfg, {"front"});
  fallback_chain chain(plan.candidates, plan.requested_tier_rank, &breakers, retry_settings{},
                       clock.now(), 7);
  auto a = chain.next_attempt(clock.now());
  REQUIRE(a.what == chain_attempt::call);
  chain.report(err("rate_limited", 2000), clock.now());
  a = chain.next_attempt(clock.now());
  REQUIRE(a.what == chain_attempt::wait);
  CHECK(a.delay >= 2s);
  clock.advance(a.delay);
  a = chain.next_attempt(clock.now());
  REQUIRE(a.what == chain_attempt::call);
  chain.report(model_error{}, clock.now(), /*semantic_failure=*/true);  // empty output
  CHECK(breakers.get(plan.candidates[0].endpoint).state(clock.now()) == breaker_state::closed);
  a = chain.next_attempt(clock.now());
  REQUIRE(a.what == chain_attempt::wait);
  clock.advance(a.delay);
  a = chain.next_attempt(clock.now());
  REQUIRE(a.what == chain_attempt::call);
  chain.report(model_error{}, clock.now());
  CHECK(chain.result().what == chain_result::success);
  CHECK(chain.result().attempts == 3);
}

TEST_CASE("fallback with every breaker open makes no call and says when to come back",
          "[fallback]") {
  auto cfg = catalog();
  manual_clock clock;
  breaker_registry breakers;
  auto plan = plan_from_catalog(*cfg, "front");  // front, then the mid tier
  for (size_t i = 0; i < plan.candidates.size(); ++i) {
    auto& b = breakers.get(plan.candidates[i].endpoint);
    for (int n = 0; n < 10; ++n) b.report(call_outcome::failure, clock.now() + i * 1s, false);
  }
  clock.advance(10s);
  fallback_chain chain(plan.candidates, plan.requested_tier_rank, &breakers, retry_settings{},
                       clock.now(), 8);
  auto called = drive(chain, clock, [](const std::string&) { return model_error{}; });
  CHECK(called.empty());
  CHECK(chain.result().what == chain_result::blocked);
  CHECK(chain.result().attempts == 0);
  CHECK(chain.result().retry_in == 20s);  // the first breaker opened at 0 s for 30 s
}

TEST_CASE("fallback chain built after its first attempt went out judges it like its own",
          "[fallback]") {
  // The model service makes a call's first attempt without a chain and builds one only
  // when that attempt fails: the chain's calls, retries and outcome must be the same.
  auto cfg = catalog();
  auto plan = plan_from_catalog(*cfg, "mid-p1");
  auto answer = [](const std::string& model) {
    return model == "mid-p1" ? err("server_error") : model_error{};
  };
  manual_clock own_clock;
  fallback_chain own(plan.candidates, plan.requested_tier_rank, nullptr, retry_settings{},
                     own_clock.now(), 7);
  auto own_called = drive(own, own_clock, answer);

  manual_clock clock;
  fallback_chain adopted(plan.candidates, plan.requested_tier_rank, nullptr, retry_settings{},
                         clock.now(), 7);
  adopted.adopt_first_attempt(false);
  adopted.report(answer("mid-p1"), clock.now());
  auto called = drive(adopted, clock, answer);
  called.insert(called.begin(), "mid-p1");

  CHECK(called == own_called);
  CHECK(called == std::vector<std::string>{"mid-p1", "mid-p1", "mid-p1", "mid-p2"});
  CHECK(adopted.result().what == own.result().what);
  CHECK(adopted.result().attempts == own.result().attempts);
  CHECK(adopted.result().candidate == own.result().candidate);
  CHECK(clock.now() == own_clock.now());  // the same retry delays, from the same seed
  // Adopting is only for the first attempt: a chain that already made one ignores it.
  adopted.adopt_first_attempt(false);
  CHECK(adopted.result().attempts == 4);
}

TEST_CASE("fallback chain that adopted a half-open probe reports it on the breaker", "[fallback]") {
  auto cfg = catalog();
  manual_clock clock;
  breaker_registry breakers;
  auto plan = plan_from_catalog(*cfg, "mid-p1");
  auto& b = breakers.get(plan.candidates[0].endpoint);
  for (int n = 0; n < 10; ++n) b.report(call_outcome::failure, clock.now(), false);
  REQUIRE(b.state(clock.now()) == breaker_state::open);
  clock.advance(31s);
  auto admission = b.admit(clock.now());  // what the model service does itself
  REQUIRE(admission.allowed);
  REQUIRE(admission.probe);
  fallback_chain chain(plan.candidates, plan.requested_tier_rank, &breakers, retry_settings{},
                       clock.now(), 8);
  chain.adopt_first_attempt(admission.probe);
  chain.report(err("connection"), clock.now());
  CHECK(b.state(clock.now()) == breaker_state::open);  // the failed probe opened it again
  auto next = chain.next_attempt(clock.now());
  if (next.what == chain_attempt::wait) {  // a retry delay first: connection is retriable
    clock.advance(next.delay);
    next = chain.next_attempt(clock.now());
  }
  // The breaker is open again, so the retry goes to the next candidate.
  REQUIRE(next.what == chain_attempt::call);
  CHECK(chain.candidates()[next.candidate].endpoint.model == "mid-p2");
}
