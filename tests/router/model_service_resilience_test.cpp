// Resilience through the router actor: breakers that open and make the policy skip the
// endpoint, retries that pay once, fallback order and the downgrade flag, `blocked`
// when every candidate is down, rate limits that wait then proceed, the stats query,
// and stream failover before and after deltas went out (stub provider over HTTP).

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "caf/all.hpp"
#include "router/model_service.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/messages.hpp"
#include "runtime/trace_codec.hpp"
#include "stub/stub_server.hpp"
#include "tests/support/model_service_calls.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_stub.hpp"

namespace switchyard {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

std::shared_ptr<const config> load(const std::string& text) {
  auto loaded = parse_config_text(text, "resilience-test");
  INFO(loaded.message());
  REQUIRE(loaded.ok());
  return std::make_shared<const config>(std::move(*loaded.value));
}

// Three sim providers so fallbacks have "another provider" to go to. `models` is the
// catalog, `resilience` the section's JSON text.
std::shared_ptr<const config> sim_config(const std::string& models, const std::string& resilience) {
  return load(R"({"runtime": {"workers": 2, "log_level": "off"},
    "tiers": ["local", "mid", "frontier"],
    "providers": [{"name": "s1", "kind": "sim", "seed": 1}, {"name": "s2", "kind": "sim", "seed": 2},
                  {"name": "s3", "kind": "sim", "seed": 3}],
    "models": )" +
              models + R"(, "resilience": )" + resilience + "}");
}

std::string model(const std::string& id, const std::string& provider, const std::string& tier,
                  double price, const std::string& sim = "{}") {
  return json{{"id", id},
              {"provider", provider},
              {"tier", tier},
              {"price_in_per_mtok", price},
              {"price_out_per_mtok", price},
              {"context_window", 8192},
              {"residency", "cloud"},
              {"sim", json::parse(sim)}}
      .dump();
}

const std::string always_fails = R"({"faults": [{"kind": "server_error", "every": 1}]})";

struct received {
  model_response response;
  std::vector<stream_delta> deltas;
  std::vector<stream_switch> switches;
};

struct service_fixture {
  std::shared_ptr<const config> cfg;
  budget_ledger ledger;
  actor_runtime runtime{runtime_settings{"sharing", 2, "off"}};
  caf::actor service;

  explicit service_fixture(std::shared_ptr<const config> c) : cfg(std::move(c)) {
    ledger.open_thread("t1", {1000000, 100.0});
    service = spawn_model_service(runtime.system(), cfg, ledger);
  }
  ~service_fixture() { caf::anon_send_exit(service, caf::exit_reason::user_shutdown); }

  static model_request request(const std::string& tier, const std::string& text = "hello") {
    model_request req;
    req.ctx.thread_id = "t1";
    req.call_id = "c-" + text;
    req.tier = tier;
    req.max_tokens = 40;
    req.messages = {{"user", text}};
    return req;
  }

  received ask(const model_request& req) {
    caf::scoped_actor self{runtime.system()};
    received out;
    self->request(service, 20s, req)
        .receive([&](model_response& r) { out.response = std::move(r); },
                 [&](caf::error& e) { FAIL("model service error: " << to_string(e)); });
    bool more = true;
    while (more)
      self->receive([&](stream_delta& d) { out.deltas.push_back(std::move(d)); },
                    [&](stream_switch& s) { out.switches.push_back(std::move(s)); },
                    caf::after(std::chrono::milliseconds(0)) >> [&] { more = false; });
    return out;
  }

  model_response call(const model_request& req) { return ask(req).response; }

  json stats() { return test::model_service_stats(runtime.system(), service); }

  std::string breaker_state(const std::string& model_id) {
    json all = stats();  // kept alive: a range-for over a temporary's member dangles
    for (const auto& b : all["breakers"])
      if (b["endpoint"].get<std::string>().rfind(model_id + "|", 0) == 0) return b["state"];
    return "none";
  }
};

using test::resilience_of;

}  // namespace

TEST_CASE(
    "resilience: a failing endpoint is failed over, its breaker opens, then the policy "
    "skips it",
    "[resilience][model_service]") {
  service_fixture f{
      sim_config("[" + model("mid-a", "s1", "mid", 1, always_fails) + "," +
                     model("mid-b", "s2", "mid", 2) + "]",
                 R"({"breaker": {"min_calls": 2, "failure_rate": 0.5, "open_ms": 60000},
          "retry": {"max_attempts": 1}})")};
  for (int i = 0; i < 2; ++i) {
    auto r = f.call(service_fixture::request("mid", "q" + std::to_string(i)));
    INFO(r.error.message);
    REQUIRE(r.ok());
    CHECK(r.usage.model_id == "mid-b");  // same tier, other provider
    CHECK_FALSE(r.usage.downgraded);
    CHECK(resilience_of(r)["answered_by"] == "mid-b");
  }
  CHECK(f.breaker_state("mid-a") == "open");
  CHECK(f.breaker_state("mid-b") == "closed");
  auto attempts_before = f.stats()["attempts"].get<int>();
  auto r = f.call(service_fixture::request("mid", "after the breaker opened"));
  REQUIRE(r.ok());
  CHECK(r.usage.model_id == "mid-b");
  // The policy chose mid-b itself (mid-a filtered by health): one attempt, no fallback.
  auto trace = json::parse(trace_json(r.usage.decision.bytes));
  CHECK(trace["model"] == "mid-b");
  CHECK(trace_json(r.usage.decision.bytes).find("\"health\"") != std::string::npos);
  CHECK_FALSE(trace.contains("resilience"));
  CHECK(f.stats()["attempts"].get<int>() == attempts_before + 1);
  CHECK(f.stats()["fallbacks"] == 2);
}

TEST_CASE("resilience: a retry after a server error succeeds and the call is paid once",
          "[resilience][model_service]") {
  // Calls 2, 4, ... fail: the first call answers, the second fails once then answers.
  service_fixture f{sim_config(
      "[" +
          model("mid-a", "s1", "mid", 1, R"({"faults": [{"kind": "server_error", "every": 2}]})") +
          "]",
      R"({"retry": {"base_delay_ms": 20, "max_attempts": 3}})")};
  auto first = f.call(service_fixture::request("mid", "one"));
  REQUIRE(first.ok());
  auto before = f.ledger.usage("t1");
  auto t0 = std::chrono::steady_clock::now();
  auto r = f.call(service_fixture::request("mid", "two"));
  auto took = std::chrono::steady_clock::now() - t0;
  INFO(r.error.message);
  REQUIRE(r.ok());
  CHECK(r.usage.model_id == "mid-a");
  CHECK(resilience_of(r)["retries"] == 1);
  CHECK(took >= 15ms);  // the backoff (20 ms +-25 %) was waited, as a delayed message
  auto after = f.ledger.usage("t1");
  CHECK(after.settled_calls == before.settled_calls + 1);
  CHECK(after.reserved_tokens == 0);
  CHECK(after.spent_usd - before.spent_usd == Approx(r.usage.cost_usd));
  CHECK(f.stats()["retries"] == 1);
}

TEST_CASE(
    "resilience: the fallback order is same tier other provider, then the lower tier, "
    "and a lower tier is flagged downgraded",
    "[resilience][model_service]") {
  service_fixture f{sim_config("[" + model("mid-a", "s1", "mid", 1, always_fails) + "," +
                                   model("mid-b", "s2", "mid", 2, always_fails) + "," +
                                   model("local-a", "s3", "local", 0) + "]",
                               R"({"retry": {"max_attempts": 1}})")};
  auto r = f.call(service_fixture::request("mid"));
  INFO(r.error.message);
  REQUIRE(r.ok());
  CHECK(r.usage.model_id == "local-a");
  CHECK(r.usage.tier == "local");
  CHECK(r.usage.downgraded);
  auto res = resilience_of(r);
  CHECK(res["downgraded"] == true);
  std::string reason = res["reason"];
  INFO(reason);
  CHECK(reason.find("mid-a") < reason.find("mid-b"));
  CHECK(res["events"].size() == 2);
  CHECK(f.stats()["downgraded"] == 1);
  CHECK(f.ledger.usage("t1").settled_calls == 1);
  CHECK(f.ledger.usage("t1").reserved_tokens == 0);
}

TEST_CASE("resilience: a route's configured fallback list sets the order",
          "[resilience][model_service]") {
  service_fixture f{sim_config(
      "[" + model("mid-a", "s1", "mid", 1, always_fails) + "," + model("mid-b", "s2", "mid", 2) +
          "," + model("local-a", "s3", "local", 0) + "]",
      R"({"retry": {"max_attempts": 1}, "fallback": {"support": ["local-a", "mid-b"]}})")};
  auto req = service_fixture::request("mid");
  req.route = "support";
  auto r = f.call(req);
  REQUIRE(r.ok());
  // The route says local-a before mid-b, although mid-b is the same tier.
  CHECK(r.usage.model_id == "local-a");
  CHECK(r.usage.downgraded);
  CHECK(r.usage.route == "support");
}

TEST_CASE("resilience: every candidate down is blocked, naming the provider and when to retry",
          "[resilience][model_service]") {
  const std::string outage = R"({"outages": [{"from_ms": 0, "to_ms": 600000}]})";
  service_fixture f{sim_config("[" + model("mid-a", "s1", "mid", 1, outage) + "," +
                                   model("local-a", "s2", "local", 0, outage) + "]",
                               "{}")};
  auto r = f.call(service_fixture::request("mid"));
  CHECK(r.error.kind == "blocked");
  CHECK(r.error.provider == "s1");  // the routed model's provider: the run waits for it
  CHECK(r.error.retry_after_ms > 590000);
  CHECK(r.error.retry_after_ms <= 600000);
  CHECK(r.error.message.find("mid-a") != std::string::npos);
  CHECK(r.error.message.find("local-a") != std::string::npos);
  CHECK(f.ledger.usage("t1").reserved_tokens == 0);
  CHECK(f.ledger.usage("t1").spent_tokens == 0);
  CHECK(f.stats()["blocked"] == 1);

  // Retriable errors until the retries run out are blocked too, not failed.
  service_fixture g{sim_config("[" + model("mid-a", "s1", "mid", 1, always_fails) + "]",
                               R"({"retry": {"base_delay_ms": 5, "max_attempts": 2}})")};
  auto e = g.call(service_fixture::request("mid"));
  CHECK(e.error.kind == "blocked");
  CHECK(e.error.provider == "s1");
  CHECK(resilience_of(e)["attempts"] == 2);
}

TEST_CASE("resilience: rate limits wait then proceed, or block a realtime call",
          "[resilience][model_service]") {
  service_fixture f{
      sim_config("[" + model("mid-a", "s1", "mid", 1, R"({"latency_ms": 300})") + "]",
                 R"({"rate_limits": {"s1": [{"key": "main", "requests_per_minute": 1000,
                                  "tokens_per_minute": 6000}]},
          "latency_deadlines_ms": {"realtime": 0, "interactive": 5000}})")};
  caf::scoped_actor self{f.runtime.system()};
  auto a = service_fixture::request("mid", "first");
  a.max_tokens = 3000;
  auto b = a;
  b.call_id = "c-second";
  auto t0 = std::chrono::steady_clock::now();
  self->send(f.service, a);
  self->send(f.service, b);
  std::vector<model_response> got;
  for (int i = 0; i < 2; ++i)
    self->receive([&](model_response& r) { got.push_back(std::move(r)); },
                  caf::after(10s) >> [&] { FAIL("no answer"); });
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE(got.size() == 2);
  for (const auto& r : got) {
    INFO(r.error.message);
    CHECK(r.ok());
  }
  CHECK(f.stats()["rate_limit_waits"].get<int>() >= 1);
  CHECK(took >= 300ms);

  // A realtime call may not wait at all: with the bucket drained it is blocked as
  // rate limited, and the retry hint says when a slot frees up.
  auto c = a;
  c.call_id = "c-third";
  auto d = a;
  d.call_id = "c-fourth";
  d.latency_class = "realtime";
  self->send(f.service, c);
  self->send(f.service, d);
  got.clear();
  for (int i = 0; i < 2; ++i)
    self->receive([&](model_response& r) { got.push_back(std::move(r)); },
                  caf::after(10s) >> [&] { FAIL("no answer"); });
  REQUIRE(got.size() == 2);
  const auto& realtime = got[0].call_id == "c-fourth" ? got[0] : got[1];
  CHECK(realtime.error.kind == "blocked");
  CHECK(realtime.error.message.find("rate_limited") != std::string::npos);
  CHECK(realtime.error.retry_after_ms > 0);
  CHECK(f.stats()["rate_limited"] == 1);
  CHECK(f.ledger.usage("t1").reserved_tokens == 0);
}

TEST_CASE("resilience: a bad latency class is a clear error", "[resilience][model_service]") {
  service_fixture f{sim_config("[" + model("mid-a", "s1", "mid", 1) + "]", "{}")};
  auto req = service_fixture::request("mid");
  req.latency_class = "soon";
  auto r = f.call(req);
  CHECK(r.error.kind == "bad_request");
  CHECK(r.error.message.find("soon") != std::string::npos);
}

// -- stream failover over HTTP ------------------------------------------------------

namespace {

const char* key_var = "SWITCHYARD_TEST_RESILIENCE_KEY";

struct stream_fixture {
  std::unique_ptr<stub_server> stub;
  std::unique_ptr<service_fixture> service;

  explicit stream_fixture(const std::string& script_text, uint32_t gpt_b_window = 8192) {
    setenv(key_var, "sk-test", 1);
    stub = testing::start_test_stub(script_text);
    auto base = stub->base_url();
    // Two OpenAI-compatible providers on the same stub: "another provider" for gpt-a.
    service =
        std::make_unique<service_fixture>(load(R"({"runtime": {"workers": 2, "log_level": "off"},
      "tiers": ["local", "mid", "frontier"],
      "providers": [
        {"name": "oa1", "kind": "openai", "base_url": ")" +
                                               base + R"(/v1",
         "api_key_env": ")" + key_var + R"(", "first_byte_timeout_ms": 2000},
        {"name": "oa2", "kind": "openai", "base_url": ")" +
                                               base + R"(/v1",
         "api_key_env": ")" + key_var + R"(", "first_byte_timeout_ms": 2000}],
      "models": [
        {"id": "gpt-a", "provider": "oa1", "tier": "mid", "price_in_per_mtok": 1,
         "price_out_per_mtok": 2, "context_window": 8192, "residency": "cloud",
         "capabilities": ["tools", "json_mode"]},
        {"id": "gpt-b", "provider": "oa2", "tier": "mid", "price_in_per_mtok": 2,
         "price_out_per_mtok": 3, "context_window": )" +
                                               std::to_string(gpt_b_window) + R"(,
         "residency": "cloud", "capabilities": ["tools", "json_mode"]}],
      "resilience": {"retry": {"max_attempts": 2, "base_delay_ms": 10}}})"));
  }

  received ask(const std::string& text, bool tools = false) {
    auto req = service_fixture::request("mid", text);
    req.stream = true;
    if (tools) req.tools = {{"lookup", "find an order", R"({"type":"object"})"}};
    return service->ask(req);
  }
};

std::string joined_text(const std::vector<stream_delta>& deltas) {
  std::string out;
  for (const auto& d : deltas)
    if (d.kind == stream_delta_kind::text) out += d.text;
  return out;
}

}  // namespace

TEST_CASE("resilience: a stream that fails before its first delta fails over silently",
          "[resilience][model_service][http]") {
  stream_fixture f{R"({"models": {"gpt-a": {"sequence": [{"behaviour": "server_error"}]},
                                   "*": {"chunk_delay_ms": 1}}})"};
  auto got = f.ask("one two three");
  INFO(got.response.error.message);
  REQUIRE(got.response.ok());
  CHECK(got.response.usage.model_id == "gpt-b");
  CHECK(got.switches.empty());
  CHECK(got.response.text == "[stub gpt-b] You said: one two three");
  CHECK(joined_text(got.deltas) == got.response.text);
}

TEST_CASE(
    "resilience: a stream cut after deltas continues on the fallback with a prefill and "
    "a switch event",
    "[resilience][model_service][http]") {
  stream_fixture f{R"({"models": {"gpt-a": {"chunk_delay_ms": 1,
                                             "sequence": [{"behaviour": "cut_stream"}]},
                                   "gpt-b": {"reply": "and the rest."}}})"};
  auto got = f.ask("one two three four five six seven eight");
  INFO(got.response.error.message);
  REQUIRE(got.response.ok());
  CHECK(got.response.usage.model_id == "gpt-b");
  REQUIRE(got.switches.size() == 1);
  const auto& sw = got.switches.front();
  CHECK(sw.from_model == "gpt-a");
  CHECK(sw.to_model == "gpt-b");
  CHECK(sw.call_id == "c-one two three four five six seven eight");
  REQUIRE(sw.kept_chars > 0);
  // What the requester saw before the switch is kept; the final text is the prefix
  // plus the fallback's continuation, and the deltas add up to it.
  std::string streamed = joined_text(got.deltas);
  std::string prefix = streamed.substr(0, sw.kept_chars);
  CHECK(std::string("[stub gpt-a] You said: one two three four five six seven eight")
            .rfind(prefix, 0) == 0);
  CHECK(got.response.text == prefix + "and the rest.");
  CHECK(streamed == got.response.text);
  // The fallback got the partial output as an assistant prefill.
  auto last = json::parse(f.stub->requests().back().body);
  CHECK(last["model"] == "gpt-b");
  CHECK(last["messages"].back()["role"] == "assistant");
  CHECK(last["messages"].back()["content"] == prefix);
  CHECK(f.service->stats()["stream_switches"] == 1);
  CHECK(f.service->ledger.usage("t1").settled_calls == 1);
  CHECK(f.service->ledger.usage("t1").reserved_tokens == 0);
}

TEST_CASE(
    "resilience: a stream cut after a tool call delta ends with an error, never a second "
    "model",
    "[resilience][model_service][http]") {
  stream_fixture f{R"({"models": {"gpt-a": {"chunk_delay_ms": 1, "tool_calls": true,
                                             "sequence": [{"behaviour": "cut_stream"}]}}})"};
  auto got = f.ask("where is my order 12345, please look it up for me", true);
  CHECK_FALSE(got.response.ok());
  CHECK(got.response.error.message.find("tool call") != std::string::npos);
  CHECK(got.switches.empty());
  bool tool_delta = false;
  for (const auto& d : got.deltas)
    tool_delta = tool_delta || d.kind == stream_delta_kind::tool_call;
  CHECK(tool_delta);
  for (const auto& r : f.stub->requests()) CHECK(r.model == "gpt-a");
  CHECK(f.service->ledger.usage("t1").reserved_tokens == 0);
  CHECK(f.service->ledger.usage("t1").spent_tokens == 0);
}

}  // namespace switchyard

namespace switchyard {

TEST_CASE("resilience: a cascading route escalates a low-confidence cheap answer and says so",
          "[resilience][model_service][cascade]") {
  // A 3-token limit cuts every sim reply (finish_reason "length"): the format check
  // scores the local answer 0, below its 0.5 threshold, so mid answers; mid has no
  // threshold, so its answer is final. Both calls were paid and the usage says so.
  service_fixture f{sim_config(
      "[" + model("local-a", "s1", "local", 1) + "," + model("mid-a", "s2", "mid", 2) + "]",
      R"({"cascade": {"support": {"thresholds": {"local": 0.5}}}})")};
  auto req = service_fixture::request("", "please explain the refund policy in detail");
  req.route = "support";
  req.max_tokens = 3;
  auto r = f.call(req);
  INFO(r.error.message);
  REQUIRE(r.ok());
  CHECK(r.usage.model_id == "mid-a");
  auto stages = resilience_of(r)["cascade"];
  REQUIRE(stages.size() == 2);
  CHECK(stages[0]["tier"] == "local");
  CHECK(stages[0]["accepted"] == false);
  CHECK(stages[0]["confidence"] == 0.0);
  CHECK(stages[0]["scored_by"] == "format");
  CHECK(stages[1]["tier"] == "mid");
  CHECK(stages[1]["accepted"] == true);
  auto usage = f.ledger.usage("t1");
  CHECK(usage.settled_calls == 2);
  CHECK(usage.spent_usd == Approx(r.usage.cost_usd));
  CHECK(usage.spent_tokens == r.usage.input_tokens + r.usage.output_tokens);

  // A good cheap answer is accepted at the first stage.
  req.max_tokens = 200;
  req.call_id = "c-second";
  auto cheap = f.call(req);
  REQUIRE(cheap.ok());
  CHECK(cheap.usage.model_id == "local-a");
  CHECK(resilience_of(cheap)["cascade"].size() == 1);
  CHECK(resilience_of(cheap)["cascade"][0]["accepted"] == true);
}

}  // namespace switchyard

namespace switchyard {

TEST_CASE("resilience: the response cache answers repeats for free, per tenant, until the TTL",
          "[resilience][model_service][cache]") {
  testing::temp_dir dir{"svc-cache"};
  service_fixture f{sim_config("[" + model("mid-a", "s1", "mid", 2) + "]",
                               R"({"cache": {"path": ")" + dir.sub("cache") +
                                   R"(", "ttl_ms": 400, "semantic_threshold": 0.75}})")};
  auto ask = [&](const std::string& text, const std::string& tenant, double temperature = -1) {
    auto req = service_fixture::request("mid", text);
    req.metadata = {{"tenant", tenant}, {"workflow", "support"}, {"node", "answer"}};
    req.temperature = temperature;
    return f.call(req);
  };
  auto first = ask("how do I reset my card pin", "acme");
  REQUIRE(first.ok());
  CHECK(first.usage.cost_usd > 0);
  auto again = ask("how do I reset my card pin", "acme");
  REQUIRE(again.ok());
  CHECK(again.text == first.text);
  CHECK(again.usage.cost_usd == 0);
  CHECK(again.usage.model_id == "mid-a");
  CHECK(resilience_of(again)["cache"] == "exact");
  // A similar question hits the semantic index.
  auto similar = ask("how do I reset my card pin please", "acme");
  REQUIRE(similar.ok());
  CHECK(resilience_of(similar)["cache"] == "semantic");
  CHECK(similar.text == first.text);
  // Another tenant never sees acme's answer.
  auto other = ask("how do I reset my card pin", "globex");
  REQUIRE(other.ok());
  CHECK(other.usage.cost_usd > 0);
  CHECK_FALSE(resilience_of(other).contains("cache"));
  // Sampling (temperature > 0) is not cached: the route did not opt in.
  auto hot1 = ask("tell me a story", "acme", 0.8);
  auto hot2 = ask("tell me a story", "acme", 0.8);
  CHECK(hot2.usage.cost_usd > 0);
  CHECK(f.ledger.usage("t1").settled_calls == 4);  // first, globex, two hot calls
  auto stats = f.stats();
  CHECK(stats["cache"]["hits"] == 2);
  CHECK(stats["cache"]["misses"] == 2);
  // After the TTL the entry is gone.
  std::this_thread::sleep_for(500ms);
  auto expired = ask("how do I reset my card pin", "acme");
  REQUIRE(expired.ok());
  CHECK(expired.usage.cost_usd > 0);
  CHECK(f.stats()["cache"]["misses"] == 3);
  (void)hot1;
}

}  // namespace switchyard

namespace switchyard {

TEST_CASE("resilience: unparseable JSON in json_mode and empty output are semantic failures",
          "[resilience][model_service][http]") {
  stream_fixture f{R"({"models": {"gpt-a": {"reply": "sure, here you go"},
                                   "gpt-b": {"reply": "{\"ok\": true}"}}})"};
  auto req = service_fixture::request("mid", "give me json");
  req.json_mode = true;
  auto r = f.service->call(req);
  INFO(r.error.message);
  REQUIRE(r.ok());
  CHECK(r.usage.model_id == "gpt-b");
  CHECK(r.text == R"({"ok": true})");
  // Two attempts on gpt-a (a retriable bad_response), then gpt-b; each counted.
  CHECK(f.service->stats()["semantic_failures"] == 2);
  CHECK(f.service->ledger.usage("t1").settled_calls == 1);
  CHECK(f.service->ledger.usage("t1").reserved_tokens == 0);
}

TEST_CASE("resilience: Retry-After is honoured, and context_length moves to a larger window",
          "[resilience][model_service][http]") {
  {
    stream_fixture f{R"({"models": {"gpt-a": {"sequence": [
        {"behaviour": "rate_limited", "times": 1, "retry_after_s": 1}]}}})"};
    auto t0 = std::chrono::steady_clock::now();
    auto r = f.service->call(service_fixture::request("mid", "retry me"));
    auto took = std::chrono::steady_clock::now() - t0;
    INFO(r.error.message);
    REQUIRE(r.ok());
    CHECK(r.usage.model_id == "gpt-a");  // the same endpoint, after the wait
    CHECK(took >= 1000ms);               // never before the server's Retry-After
    // The exact bound (the floor plus at most 25 % jitter) is checked on a fake clock in
    // retry_policy_test and fallback_chain_test; on the wall clock a loaded CI machine
    // adds scheduling delay, so this only catches a wait far past the floor.
    CHECK(took < 3000ms);
  }
  {
    stream_fixture f{R"({"models": {"gpt-a": {"sequence": [{"behaviour": "context_length"}]}}})",
                     32768};
    auto r = f.service->call(service_fixture::request("mid", "a long story"));
    INFO(r.error.message);
    REQUIRE(r.ok());
    CHECK(r.usage.model_id == "gpt-b");
    auto res = resilience_of(r);
    CHECK(res["retries"].is_null());  // not retried on the same window
    CHECK(res["events"][0] == "gpt-a: context_length");
  }
}

}  // namespace switchyard
