// Dense vectors for the cache from the router's TF-IDF features, and the external
// embeddings encoder against the stub provider's /v1/embeddings on 127.0.0.1.
#include "router/embedding_encoder.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "router/intent_classifier.hpp"
#include "router/route_training.hpp"
#include "router/tfidf_encoder.hpp"
#include "router/utterance_file.hpp"
#include "stub/stub_server.hpp"

namespace switchyard {

namespace {

using json = nlohmann::json;

const std::string data_dir = SWITCHYARD_SOURCE_DIR "/tests/data/";
const char* key_var = "SWITCHYARD_TEST_EMBED_KEY";

std::vector<labeled_utterance> training_examples() {
  auto r = read_utterance_file(data_dir + "intents_train.csv");
  INFO(r.error);
  REQUIRE(r.error.empty());
  return r.rows;
}

std::shared_ptr<const text_encoder> fitted_tfidf() {
  std::vector<std::string> texts;
  for (const auto& e : training_examples()) texts.push_back(e.text);
  return tfidf_encoder::fit(texts, tfidf_options{});
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0;
  for (size_t i = 0; i < a.size(); ++i) dot += static_cast<double>(a[i]) * b[i];
  return dot;
}

struct paraphrase {
  std::string stored, asked;
  bool same = false;
};

std::vector<paraphrase> paraphrases() {
  std::ifstream in(data_dir + "cache_paraphrases.jsonl");
  std::vector<paraphrase> out;
  std::string line;
  while (std::getline(in, line)) {
    auto j = json::parse(line);
    out.push_back({j["stored"], j["asked"], j["same"]});
  }
  REQUIRE(out.size() > 20);
  return out;
}

config config_for(const std::string& base_url, uint32_t dimension = stub_embedding_dimensions,
                  uint32_t batch_size = 64, const std::string& model_file = "") {
  std::string text =
      R"({"tiers": ["local"],
    "providers": [{"name": "oa", "kind": "openai", "base_url": ")" +
      base_url + R"(/v1", "api_key_env": ")" + key_var + R"(", "first_byte_timeout_ms": 2000}],
    "models": [{"id": "m", "provider": "oa", "tier": "local", "price_in_per_mtok": 0,
                "price_out_per_mtok": 0, "context_window": 8192, "residency": "cloud"}],
    "router": {"routes": [{"name": "a", "tier": "local", "examples": ["where is my parcel"]},
                          {"name": "b", "tier": "local", "examples": ["reset my password"]}],
               )" +
      (model_file.empty() ? std::string() : "\"classifier_model\": \"" + model_file + "\",") + R"(
               "embeddings": {"provider": "oa", "model": "embed-stub", "dimension": )" +
      std::to_string(dimension) + R"(, "batch_size": )" + std::to_string(batch_size) + R"(}}})";
  auto loaded = parse_config_text(text, "embed-test");
  INFO(loaded.message());
  REQUIRE(loaded.ok());
  return *loaded.value;
}

struct stub_fixture {
  std::unique_ptr<stub_server> stub;
  explicit stub_fixture(const std::string& script = "{}") {
    setenv(key_var, "sk-embed-SECRET", 1);
    std::string error;
    auto parsed = parse_stub_script(json::parse(script), error);
    REQUIRE(parsed);
    stub = stub_server::start(0, *parsed, error);
    INFO(error);
    REQUIRE(stub);
  }
};

}  // namespace

TEST_CASE("projected TF-IDF vectors: paraphrases score high, different questions lower",
          "[embedding_encoder]") {
  // Figures of the same pairs per threshold: bench_semantic_cache (README).
  projected_text_encoder encoder(fitted_tfidf());
  CHECK(encoder.dimension() == 512);
  size_t hits = 0, same = 0, false_hits = 0;
  for (const auto& p : paraphrases()) {
    double c = cosine(encoder.encode(p.stored), encoder.encode(p.asked));
    INFO(p.stored << " | " << p.asked << " -> " << c);
    if (p.same) {
      ++same;
      hits += c >= 0.8;
      CHECK(c >= 0.7);  // every paraphrase is close, even those below the threshold
    } else {
      false_hits += c >= 0.8;
      CHECK(c < 0.85);  // none reaches 0.85; "cancel" vs "upgrade my subscription" 0.84
    }
  }
  CHECK(static_cast<double>(hits) / static_cast<double>(same) >= 0.7);  // 13 of 18
  CHECK(false_hits <= 1);
}

TEST_CASE("projected vectors have unit length, and the vocabulary is part of their identity",
          "[embedding_encoder]") {
  auto tfidf = fitted_tfidf();
  projected_text_encoder encoder(tfidf);
  auto v = encoder.encode("How do I reset my password?");
  CHECK(cosine(v, v) == Approx(1.0));
  // Nothing the vocabulary knows: a zero vector (the cache then matches exactly only).
  auto unknown = encoder.encode("");
  CHECK(cosine(unknown, unknown) == 0.0);
  auto other = tfidf_encoder::fit({"a completely different vocabulary"}, tfidf_options{});
  CHECK(projected_text_encoder(other).identity() != encoder.identity());
  CHECK(projected_text_encoder(tfidf).identity() == encoder.identity());
  hashed_bag_of_words_encoder words(256);
  CHECK(words.identity() != encoder.identity());
}

TEST_CASE("remote embeddings: texts are embedded in batches into unit vectors",
          "[embedding_encoder]") {
  stub_fixture f;
  auto cfg = config_for(f.stub->base_url(), stub_embedding_dimensions, 2);
  std::string error;
  auto encoder = remote_embedding_encoder::create(cfg, error);
  INFO(error);
  REQUIRE(encoder);
  CHECK(encoder->identity() == "embeddings openai model embed-stub dim 64");
  std::vector<std::vector<float>> vectors;
  REQUIRE(encoder->embed({"where is my parcel", "where is my parcel now", "cancel my plan",
                          "reset my password", "a fifth text"},
                         vectors, error));
  REQUIRE(vectors.size() == 5);
  CHECK(f.stub->requests().size() == 3);  // batches of 2, 2 and 1
  auto sent = json::parse(f.stub->requests()[0].body);
  CHECK(sent["model"] == "embed-stub");
  CHECK(sent["input"] == json::array({"where is my parcel", "where is my parcel now"}));
  CHECK(f.stub->requests()[0].header("Authorization") == "Bearer sk-embed-SECRET");
  CHECK(cosine(vectors[0], vectors[0]) == Approx(1.0));
  CHECK(cosine(vectors[0], vectors[1]) > 0.8);
  CHECK(cosine(vectors[0], vectors[2]) < 0.5);
  auto one = encoder->encode("where is my parcel");
  CHECK(one.entries.size() == 64);
}

TEST_CASE("remote embeddings: failures name the service and never the key", "[embedding_encoder]") {
  SECTION("a dimension other than the configured one") {
    stub_fixture f;
    std::string error;
    auto encoder = remote_embedding_encoder::create(config_for(f.stub->base_url(), 32), error);
    REQUIRE(encoder);
    std::vector<std::vector<float>> vectors;
    CHECK_FALSE(encoder->embed({"hello"}, vectors, error));
    CHECK(error ==
          "embeddings service 'oa' (model embed-stub): vectors have 64 dimensions, "
          "router.embeddings.dimension is 32");
  }
  SECTION("the service answers 500") {
    stub_fixture f{R"({"models": {"*": {"sequence": [{"behaviour": "server_error"}]}}})"};
    std::string error;
    auto encoder = remote_embedding_encoder::create(config_for(f.stub->base_url()), error);
    REQUIRE(encoder);
    std::vector<std::vector<float>> vectors;
    CHECK_FALSE(encoder->embed({"hello"}, vectors, error));
    CHECK(error.find("embeddings service 'oa' (model embed-stub): server_error") == 0);
    CHECK(error.find("SECRET") == std::string::npos);
    // encode() cannot fail: no features, which the classifier reads as "no idea".
    CHECK(encoder->encode("hello").entries.empty());
  }
  SECTION("the key variable is not set") {
    stub_fixture f;
    unsetenv(key_var);
    std::string error;
    CHECK_FALSE(remote_embedding_encoder::create(config_for(f.stub->base_url()), error));
    CHECK(error ==
          "router.embeddings: provider 'oa': environment variable SWITCHYARD_TEST_EMBED_KEY "
          "(named by api_key_env) is not set or empty");
  }
}

TEST_CASE(
    "remote embeddings: a classifier trains on them, saves their identity and reloads "
    "without calling the service",
    "[embedding_encoder]") {
  stub_fixture f;
  auto cfg = config_for(f.stub->base_url(), stub_embedding_dimensions, 16);
  std::string error;
  auto encoder = remote_embedding_encoder::create(cfg, error);
  REQUIRE(encoder);
  const auto examples = training_examples();
  auto trained = linear_intent_classifier::train(examples, {}, encoder);
  INFO(trained.error);
  REQUIRE(trained.ok());
  const size_t batches = (examples.size() + 15) / 16;
  CHECK(f.stub->requests().size() == batches);

  // The stub's vectors are a bag of words: a question sharing words with a route's
  // examples lands on that route.
  std::vector<std::vector<float>> v;
  REQUIRE(encoder->embed({"I forgot my password and I cannot log in to my account"}, v, error));
  CHECK(trained.value->classify_encoded(dense_features(v[0])).best_route == "account_access");

  std::string path = "/tmp/switchyard_embed_model_" + std::to_string(::getpid());
  REQUIRE(trained.value->save(path).empty());
  auto loaded = linear_intent_classifier::load(path, {}, encoder);
  INFO(loaded.error);
  REQUIRE(loaded.ok());
  CHECK(loaded.value->encoder().identity() == "embeddings openai model embed-stub dim 64");
  CHECK(f.stub->requests().size() == batches + 1);  // loading embedded nothing
  auto missing = linear_intent_classifier::load(path, {});
  CHECK(missing.error == path +
                             ": model was trained behind the external encoder 'embeddings "
                             "openai model embed-stub dim 64'; pass that encoder to load it");
  ::unlink(path.c_str());
}

TEST_CASE("remote embeddings: training fails with the service's error", "[embedding_encoder]") {
  stub_fixture f{R"({"models": {"*": {"sequence": [{"behaviour": "unauthorized"}]}}})"};
  std::string error;
  auto encoder = remote_embedding_encoder::create(config_for(f.stub->base_url()), error);
  REQUIRE(encoder);
  auto trained = linear_intent_classifier::train(training_examples(), {}, encoder);
  CHECK_FALSE(trained.ok());
  CHECK(trained.error.find("cannot encode the examples: embeddings service 'oa' (model "
                           "embed-stub): auth") == 0);
}

TEST_CASE("route training: the embeddings model is saved and reused at the next start",
          "[embedding_encoder]") {
  stub_fixture f;
  const std::string path = "/tmp/switchyard_embed_routes_" + std::to_string(::getpid());
  auto cfg = config_for(f.stub->base_url(), stub_embedding_dimensions, 64, path);
  auto first = train_route_classifier(cfg);
  INFO(first.error);
  REQUIRE(first.classifier);
  CHECK_FALSE(first.loaded);
  CHECK(dynamic_cast<const embedding_route_classifier*>(first.classifier.get()) != nullptr);
  const size_t calls = f.stub->requests().size();
  CHECK(calls == 1);
  auto second = train_route_classifier(cfg);
  REQUIRE(second.classifier);
  CHECK(second.loaded);
  CHECK(f.stub->requests().size() == calls);  // nothing embedded again
  const auto* routed = dynamic_cast<const embedding_route_classifier*>(second.classifier.get());
  REQUIRE(routed);
  std::vector<std::vector<float>> v;
  std::string error;
  REQUIRE(routed->encoder().embed({"where is my parcel now"}, v, error));
  auto guess = routed->classify_embedding(v[0]);
  CHECK(guess.route == "a");
  CHECK(guess.encoder == "embeddings embed-stub");
  // Synchronous callers get the TF-IDF fallback, which says so.
  CHECK(routed->classify("reset my password please").encoder ==
        "tfidf (embeddings not used: synchronous call)");
  for (const char* suffix : {"", ".examples", ".tfidf", ".tfidf.examples"})
    ::unlink((path + suffix).c_str());
}

TEST_CASE("route training: an embeddings service down at start-up leaves TF-IDF routing",
          "[embedding_encoder]") {
  stub_fixture f{R"({"models": {"embed-stub": {"sequence": [{"behaviour": "server_error"}]}}})"};
  auto trained = train_route_classifier(config_for(f.stub->base_url()));
  INFO(trained.error);
  CHECK(trained.error.empty());
  REQUIRE(trained.classifier);
  CHECK(dynamic_cast<const intent_route_classifier*>(trained.classifier.get()) != nullptr);
  CHECK(trained.embeddings_unavailable.find("router: cannot train the intent classifier: cannot "
                                            "encode the examples: embeddings service 'oa'") == 0);
  CHECK(trained.classifier->classify("where is my parcel").route == "a");
}

}  // namespace switchyard
