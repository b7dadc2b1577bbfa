#include "router/response_cache.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

using namespace switchyard;
using namespace std::chrono_literals;

namespace {

// A fresh RocksDB directory per test, removed afterwards.
struct temp_dir {
  temp_dir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("switchyard-cache-test-" + std::to_string(rd()) + std::to_string(rd()));
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::filesystem::path path;
};

cache_request ask(const std::string& question, const std::string& tenant = "acme") {
  cache_request r;
  r.scope = {tenant, "support", "researcher", ""};
  r.messages = {{"system", "You answer support questions."}, {"user", question}};
  r.params = {{"model", "mid-a"}, {"max_tokens", "256"}};
  return r;
}

struct fixture {
  temp_dir dir;
  manual_clock clock{std::chrono::hours(24 * 365 * 50)};  // a wall-clock-like start
  hashed_bag_of_words_encoder encoder;
  response_cache_settings settings;
  std::unique_ptr<response_cache> cache;

  fixture() { reopen(); }
  void reopen() {
    cache.reset();
    std::string error;
    cache = response_cache::open(dir.path.string(), settings, clock, &encoder, error);
    INFO(error);
    REQUIRE(cache);
  }
};

}  // namespace

TEST_CASE("cache: exact hit after a store, miss before, counted", "[cache]") {
  fixture f;
  auto q = ask("How do I reset my password?");
  CHECK(f.cache->lookup(q).what == cache_lookup::miss);
  REQUIRE(f.cache->store(q, "Use the reset link."));
  auto hit = f.cache->lookup(q);
  CHECK(hit.what == cache_lookup::exact);
  CHECK(hit.response == "Use the reset link.");
  auto other_params = q;
  other_params.params["max_tokens"] = "512";
  CHECK(f.cache->lookup(other_params).what != cache_lookup::exact);
  auto c = f.cache->counters();
  CHECK(c.exact_hits == 1);
  CHECK(c.misses == 2);
  CHECK(c.stores == 1);
}

TEST_CASE("cache: entries expire after the TTL on the injected clock", "[cache]") {
  fixture f;
  f.settings.ttl_ms = 60000;
  f.reopen();
  auto q = ask("How do I reset my password?");
  REQUIRE(f.cache->store(q, "Use the reset link."));
  f.clock.advance(59s);
  CHECK(f.cache->lookup(q).what == cache_lookup::exact);
  f.clock.advance(1s);
  CHECK(f.cache->lookup(q).what == cache_lookup::miss);
  CHECK(f.cache->counters().expired >= 1);
  // The semantic copy expired too.
  CHECK(f.cache->lookup(ask("how do I reset my password")).what == cache_lookup::miss);
}

TEST_CASE("cache: tenants never see each other's answers", "[cache]") {
  fixture f;
  REQUIRE(f.cache->store(ask("What is my account balance?", "acme"), "ACME: $10"));
  CHECK(f.cache->lookup(ask("What is my account balance?", "globex")).what == cache_lookup::miss);
  CHECK(f.cache->lookup(ask("what is my account balance", "globex")).what == cache_lookup::miss);
  CHECK(f.cache->lookup(ask("What is my account balance?", "acme")).response == "ACME: $10");
}

TEST_CASE("cache: answers are keyed by workflow node and tool state", "[cache]") {
  fixture f;
  auto q = ask("Is order 42 shipped?");
  q.scope.tool_state_hash = "orders-v1";
  REQUIRE(f.cache->store(q, "Not yet."));
  auto later = q;
  later.scope.tool_state_hash = "orders-v2";  // the tool state changed: stale answer
  CHECK(f.cache->lookup(later).what == cache_lookup::miss);
  auto other_node = q;
  other_node.scope.node = "closer";
  CHECK(f.cache->lookup(other_node).what == cache_lookup::miss);
  auto other_workflow = q;
  other_workflow.scope.workflow = "billing";
  CHECK(f.cache->lookup(other_workflow).what == cache_lookup::miss);
  CHECK(f.cache->lookup(q).what == cache_lookup::exact);
}

TEST_CASE("cache: sampled answers are not cached unless the route opts in", "[cache]") {
  fixture f;
  auto q = ask("Write a haiku about refunds.");
  q.temperature = 0.7;
  CHECK_FALSE(f.cache->store(q, "Money flows back home"));
  CHECK(f.cache->lookup(q).what == cache_lookup::not_cacheable);
  cache_policy opt_in;
  opt_in.allow_nonzero_temperature = true;
  REQUIRE(f.cache->store(q, "Money flows back home", opt_in));
  CHECK(f.cache->lookup(q, opt_in).what == cache_lookup::exact);
  CHECK(f.cache->lookup(q).what == cache_lookup::not_cacheable);
  CHECK(f.cache->counters().not_cacheable == 3);
}

TEST_CASE("cache: similar prompts hit semantically, different ones and contexts miss", "[cache]") {
  fixture f;
  REQUIRE(f.cache->store(ask("How do I reset my password?"), "Use the reset link."));
  auto similar = f.cache->lookup(ask("how do i reset my password"));
  CHECK(similar.what == cache_lookup::semantic);
  CHECK(similar.response == "Use the reset link.");
  CHECK(similar.similarity >= 0.92);
  CHECK(f.cache->lookup(ask("What is the refund policy for damaged items?")).what ==
        cache_lookup::miss);
  // Same question under another system prompt is another context.
  auto other_context = ask("how do i reset my password");
  other_context.messages[0].content = "You are a pirate.";
  CHECK(f.cache->lookup(other_context).what == cache_lookup::miss);
  cache_policy exact_only;
  exact_only.semantic = false;
  CHECK(f.cache->lookup(ask("how do i reset my password"), exact_only).what == cache_lookup::miss);
  CHECK(f.cache->counters().semantic_hits == 1);
}

TEST_CASE("cache: entries and the semantic index survive a reopen", "[cache]") {
  fixture f;
  for (int i = 0; i < 300; ++i) {  // more than the index's initial capacity
    REQUIRE(f.cache->store(ask("question number " + std::to_string(i) + " about invoices"),
                           "answer " + std::to_string(i)));
  }
  f.reopen();
  CHECK(f.cache->lookup(ask("question number 7 about invoices")).response == "answer 7");
  auto semantic = f.cache->lookup(ask("Question number 299 about invoices!"));
  CHECK(semantic.what == cache_lookup::semantic);
  CHECK(semantic.response == "answer 299");
}

TEST_CASE("cache: the canonical hash separates fields unambiguously", "[cache]") {
  cache_request a, b;
  a.messages = {{"user", "ab"}, {"user", "c"}};
  b.messages = {{"user", "a"}, {"user", "bc"}};
  CHECK(canonical_request_hash(a) != canonical_request_hash(b));
  cache_request c = a;
  CHECK(canonical_request_hash(a) == canonical_request_hash(c));
  c.tools = {"{\"name\":\"lookup\"}"};
  CHECK(canonical_request_hash(a) != canonical_request_hash(c));
  CHECK(canonical_request_hash(a).size() == 64);
}
