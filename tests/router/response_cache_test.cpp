#include "router/response_cache.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "router/tfidf_encoder.hpp"
#include "router/utterance_file.hpp"

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

namespace {

// The router's TF-IDF features, fitted on the test routes' examples, as the cache's
// vectors: what the model service uses when the router has a classifier.
std::shared_ptr<const text_encoder> router_features() {
  auto r = read_utterance_file(SWITCHYARD_SOURCE_DIR "/tests/data/intents_train.csv");
  REQUIRE(r.ok());
  std::vector<std::string> texts;
  for (const auto& e : r.rows) texts.push_back(e.text);
  return tfidf_encoder::fit(texts, tfidf_options{});
}

struct router_encoder_fixture {
  temp_dir dir;
  manual_clock clock{std::chrono::hours(24 * 365 * 50)};
  projected_text_encoder encoder{router_features()};
  response_cache_settings settings;
  std::unique_ptr<response_cache> cache;

  router_encoder_fixture() {
    settings.semantic_threshold = 0.8;
    std::string error;
    cache = response_cache::open(dir.path.string(), settings, clock, &encoder, error);
    INFO(error);
    REQUIRE(cache);
  }
};

}  // namespace

TEST_CASE("cache on the router's encoder: a paraphrase hits, an unrelated prompt misses",
          "[cache]") {
  router_encoder_fixture f;
  REQUIRE(f.cache->store(ask("How do I reset my password?"), "Use the reset link."));
  REQUIRE(f.cache->store(ask("I was charged twice for my subscription this month"),
                         "We refunded the second charge."));
  auto hit = f.cache->lookup(ask("how can I reset my password"));
  CHECK(hit.what == cache_lookup::semantic);
  CHECK(hit.response == "Use the reset link.");
  CHECK(hit.similarity >= 0.8);
  hit = f.cache->lookup(ask("I got charged twice for my subscription this month"));
  CHECK(hit.what == cache_lookup::semantic);
  CHECK(hit.response == "We refunded the second charge.");
  CHECK(f.cache->lookup(ask("How do I cancel my subscription?")).what == cache_lookup::miss);
  CHECK(f.cache->lookup(ask("Write a Java function that sorts an array")).what ==
        cache_lookup::miss);
  // A prompt of which the vocabulary knows nothing is never "similar" to another one.
  CHECK(f.cache->lookup(ask("zzz qqq")).what == cache_lookup::miss);
}

TEST_CASE("cache on the router's encoder: another tenant or agent state misses the paraphrase",
          "[cache]") {
  router_encoder_fixture f;
  REQUIRE(f.cache->store(ask("How do I reset my password?"), "Use the reset link."));
  const auto paraphrase = ask("how can I reset my password");
  CHECK(f.cache->lookup(paraphrase).what == cache_lookup::semantic);
  CHECK(f.cache->lookup(ask("how can I reset my password", "globex")).what == cache_lookup::miss);
  auto other_node = paraphrase;
  other_node.scope.node = "writer";
  CHECK(f.cache->lookup(other_node).what == cache_lookup::miss);
  auto other_tools = paraphrase;
  other_tools.scope.tool_state_hash = "cart:3-items";
  CHECK(f.cache->lookup(other_tools).what == cache_lookup::miss);
  auto other_workflow = paraphrase;
  other_workflow.scope.workflow = "sales";
  CHECK(f.cache->lookup(other_workflow).what == cache_lookup::miss);
}

TEST_CASE("cache: vectors brought by the caller match in their own space only", "[cache]") {
  temp_dir dir;
  manual_clock clock{std::chrono::hours(24 * 365 * 50)};
  response_cache_settings settings;
  precomputed_embeddings service("embeddings openai model e dim 4", 4);
  std::string error;
  auto cache = response_cache::open(dir.path.string(), settings, clock, &service, error);
  REQUIRE(cache);
  auto stored = ask("Where is my parcel?");
  stored.embedding = {1, 0, 0, 0};
  REQUIRE(cache->store(stored, "On its way."));
  auto near = ask("where's my parcel");
  near.embedding = {0.99f, 0.1f, 0, 0};  // not unit length: the cache normalises
  auto hit = cache->lookup(near);
  CHECK(hit.what == cache_lookup::semantic);
  CHECK(hit.similarity == Approx(0.995).epsilon(0.001));
  auto far = ask("where's my parcel");
  far.embedding = {0, 1, 0, 0};
  CHECK(cache->lookup(far).what == cache_lookup::miss);
  // No vector (the service was down): exact matches only.
  CHECK(cache->lookup(ask("where's my parcel")).what == cache_lookup::miss);
  CHECK(cache->lookup(ask("Where is my parcel?")).what == cache_lookup::exact);
  // A vector of another length belongs to another space.
  auto wrong = ask("where's my parcel");
  wrong.embedding = {1, 0, 0};
  CHECK(cache->lookup(wrong).what == cache_lookup::miss);

  // The same database behind another encoder: the stored vectors mean nothing there.
  cache.reset();
  precomputed_embeddings other("embeddings openai model f dim 4", 4);
  cache = response_cache::open(dir.path.string(), settings, clock, &other, error);
  REQUIRE(cache);
  CHECK(cache->lookup(near).what == cache_lookup::miss);
  CHECK(cache->lookup(ask("Where is my parcel?")).what == cache_lookup::exact);
}
