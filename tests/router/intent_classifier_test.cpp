// Specification of the intent classifier (router/intent_classifier.hpp), trained on the
// team's own utterances in tests/data/intents_train.csv (5 routes, 8 examples each) and
// scored on different phrasings in tests/data/intents_heldout.jsonl.

#include "router/intent_classifier.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <thread>

#include "router/utterance_file.hpp"

using namespace switchyard;

namespace {

const std::string data_dir = SWITCHYARD_SOURCE_DIR "/tests/data/";

std::vector<labeled_utterance> load(const std::string& name) {
  auto r = read_utterance_file(data_dir + name);
  INFO(r.error);
  REQUIRE(r.ok());
  return r.rows;
}

std::shared_ptr<const linear_intent_classifier> trained(linear_classifier_options opts = {}) {
  auto r = linear_intent_classifier::train(load("intents_train.csv"), opts);
  INFO(r.error);
  REQUIRE(r.ok());
  return r.value;
}

std::string temp_path(const std::string& name) {
  return "/tmp/switchyard_test_" + std::to_string(::getpid()) + "_" + name;
}

// Stands in for an embedding service: a dense hashed bag of words (FNV-1a, so the
// vectors are the same on every platform).
class toy_embedding_encoder final : public text_encoder {
 public:
  explicit toy_embedding_encoder(std::string model) : model_(std::move(model)) {}
  static constexpr uint32_t dim = 256;
  uint32_t dimension() const override { return dim; }
  sparse_vector encode(std::string_view text) const override {
    std::vector<float> dense(dim, 0.0f);
    for (const auto& word : tokenize_utterance(text)) {
      uint32_t h = 2166136261u;
      for (unsigned char c : word) h = (h ^ c) * 16777619u;
      dense[h % dim] += 1;
    }
    float norm = 0;
    for (float v : dense) norm += v * v;
    sparse_vector out;
    for (uint32_t i = 0; i < dim; ++i)
      out.entries.emplace_back(i, norm > 0 ? dense[i] / std::sqrt(norm) : 0);
    return out;
  }
  std::string identity() const override { return "toy-embeddings " + model_ + " dim 256"; }
  void save(std::ostream&) const override {}

 private:
  std::string model_;
};

}  // namespace

TEST_CASE("intent classifier: held-out phrasings land on their route", "[intent_classifier]") {
  const auto clf = trained();
  CHECK(clf->routes() == std::vector<std::string>{"account_access", "billing", "cancellation",
                                                  "coding", "shipping"});
  int correct = 0;
  for (const auto& example : load("intents_heldout.jsonl")) {
    const auto c = clf->classify(example.text);
    INFO(example.text << " -> " << c.best_route << " " << c.confidence);
    correct += c.route == example.route;
  }
  CHECK(correct >= 9);  // of 10 phrasings the classifier never saw
}

TEST_CASE("intent classifier: confidence is a probability and the runner-up is reported",
          "[intent_classifier]") {
  const auto clf = trained();
  const auto c = clf->classify("I was charged twice, please refund me");
  CHECK(c.route == "billing");
  CHECK(c.best_route == "billing");
  CHECK(c.confidence > 0.2);
  CHECK(c.confidence <= 1.0);
  CHECK_FALSE(c.runner_up.empty());
  CHECK(c.runner_up != c.best_route);
  CHECK(c.runner_up_confidence <= c.confidence);
  REQUIRE(c.top.size() == 5);
  CHECK(c.top[0].route == c.best_route);
  CHECK(c.top[1].route == c.runner_up);
  double sum = 0;
  for (size_t i = 0; i < c.top.size(); ++i) {
    sum += c.top[i].probability;
    if (i > 0) CHECK(c.top[i].probability <= c.top[i - 1].probability);
  }
  CHECK(sum == Approx(1.0));  // top-5 of 5 routes covers everything
}

TEST_CASE("intent classifier: top_k bounds the scores kept for a trace", "[intent_classifier]") {
  linear_classifier_options opts;
  opts.top_k = 2;
  const auto c = trained(opts)->classify("where is my parcel");
  CHECK(c.top.size() == 2);
  CHECK(c.best_route == "shipping");
}

TEST_CASE("intent classifier: below the threshold the answer is no route", "[intent_classifier]") {
  const auto clf = trained();
  // Off-topic text spreads probability across routes; a high threshold refuses it.
  const auto strict = clf->with_threshold(0.99);
  const auto c = strict->classify("what is the weather like on mars");
  CHECK_FALSE(c.has_route());
  CHECK(c.route.empty());
  CHECK_FALSE(c.best_route.empty());  // still there for the decision trace
  CHECK(c.confidence < 0.99);
  // The same model with threshold 0 always answers.
  CHECK(clf->classify("what is the weather like on mars").has_route());
  CHECK(strict->threshold() == 0.99);
}

TEST_CASE("intent classifier: the in-domain answer is more confident than off-topic text",
          "[intent_classifier]") {
  const auto clf = trained();
  const double in_domain = clf->classify("I forgot my password").confidence;
  const double off_topic = clf->classify("recommend a good pizza topping").confidence;
  CHECK(in_domain > off_topic);
}

TEST_CASE("intent classifier: a saved model loads and classifies identically",
          "[intent_classifier]") {
  for (auto solver :
       {linear_solver::svm, linear_solver::crammer_singer, linear_solver::logistic_regression}) {
    linear_classifier_options opts;
    opts.solver = solver;
    const auto clf = trained(opts);
    const auto path = temp_path("model.bin");
    REQUIRE(clf->save(path).empty());
    const auto loaded = linear_intent_classifier::load(path, opts);
    std::remove(path.c_str());
    INFO(loaded.error);
    REQUIRE(loaded.ok());
    CHECK(loaded.value->routes() == clf->routes());
    CHECK(loaded.value->calibration_scale() == clf->calibration_scale());
    for (const auto& example : load("intents_heldout.jsonl")) {
      CHECK(loaded.value->probabilities(example.text) == clf->probabilities(example.text));
      CHECK(loaded.value->classify(example.text).best_route ==
            clf->classify(example.text).best_route);
    }
  }
}

TEST_CASE("intent classifier: a damaged model file is refused naming the path",
          "[intent_classifier]") {
  const auto clf = trained();
  const auto path = temp_path("damaged.bin");
  REQUIRE(clf->save(path).empty());
  std::string bytes;
  {
    std::ifstream in{path, std::ios::binary};
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  {
    std::ofstream out{path, std::ios::binary | std::ios::trunc};
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 10));
  }
  const auto truncated = linear_intent_classifier::load(path, {});
  CHECK_FALSE(truncated.ok());
  CHECK(truncated.error == path + ": weights are truncated");
  {
    std::ofstream out{path, std::ios::binary | std::ios::trunc};
    out << "text,label\nhello,greet\n";
  }
  CHECK(linear_intent_classifier::load(path, {}).error ==
        path + ": not a switchyard intent classifier model (bad magic)");
  std::remove(path.c_str());
  CHECK(linear_intent_classifier::load(path, {}).error == path + ": cannot open for reading");
}

TEST_CASE("intent classifier: training input is validated", "[intent_classifier]") {
  CHECK(linear_intent_classifier::train({{"hi", "a"}, {"yo", "a"}}, {}).error ==
        "need examples of at least two routes, got 1");
  CHECK(linear_intent_classifier::train({{"hi", "a"}, {"", "b"}}, {}).error ==
        "example 1 has empty text");
  linear_classifier_options bad;
  bad.c = -1;
  CHECK(linear_intent_classifier::train({{"hi", "a"}, {"yo", "b"}}, bad).error ==
        "classifier options: C must be a finite number > 0, got -1");
  bad = {};
  bad.threshold = 1.5;
  CHECK(linear_intent_classifier::train({{"hi", "a"}, {"yo", "b"}}, bad).error ==
        "classifier options: threshold must be in [0, 1], got 1.5");
  bad = {};
  bad.features.skip_pair_window = 40;
  CHECK(linear_intent_classifier::train({{"hi", "a"}, {"yo", "b"}}, bad).error ==
        "classifier options: skip pair window must be in [0, 16], got 40");
}

TEST_CASE("intent classifier: two routes work (liblinear keeps one weight vector)",
          "[intent_classifier]") {
  const auto r = linear_intent_classifier::train({{"reset my password", "access"},
                                                  {"I cannot log in", "access"},
                                                  {"locked out of my account", "access"},
                                                  {"refund my payment", "billing"},
                                                  {"charged twice on my card", "billing"},
                                                  {"wrong amount on the invoice", "billing"}},
                                                 {});
  REQUIRE(r.ok());
  const auto a = r.value->classify("please reset the password");
  CHECK(a.route == "access");
  CHECK(a.runner_up == "billing");
  CHECK(a.confidence + a.runner_up_confidence == Approx(1.0));
  CHECK(r.value->classify("the invoice amount is wrong").route == "billing");
}

TEST_CASE("intent classifier: min_weight prunes the model and it still routes",
          "[intent_classifier]") {
  linear_classifier_options pruned;
  pruned.min_weight = 0.05;
  const auto small = trained(pruned);
  const auto full = trained();
  const auto small_path = temp_path("small.bin"), full_path = temp_path("full.bin");
  REQUIRE(small->save(small_path).empty());
  REQUIRE(full->save(full_path).empty());
  std::ifstream a{small_path, std::ios::binary | std::ios::ate},
      b{full_path, std::ios::binary | std::ios::ate};
  CHECK(a.tellg() < b.tellg());
  std::remove(small_path.c_str());
  std::remove(full_path.c_str());
  CHECK(small->classify("I forgot my password").route == "account_access");
}

TEST_CASE("intent classifier: concurrent callers get the same answers", "[intent_classifier]") {
  const auto clf = trained();
  const auto examples = load("intents_heldout.jsonl");
  std::vector<std::string> expected;
  for (const auto& e : examples) expected.push_back(clf->classify(e.text).best_route);
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        for (size_t i = 0; i < examples.size(); ++i) {
          mismatches[t] += clf->classify(examples[i].text).best_route != expected[i];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(mismatches == std::vector<int>(4, 0));
}

TEST_CASE("intent classifier: an external encoder plugs in behind the same interface",
          "[intent_classifier]") {
  auto encoder = std::make_shared<toy_embedding_encoder>("m1");
  const auto r = linear_intent_classifier::train(load("intents_train.csv"), {}, encoder);
  INFO(r.error);
  REQUIRE(r.ok());
  const intent_classifier& clf = *r.value;
  CHECK(clf.classify("I forgot my password and can't log in").route == "account_access");
  CHECK(r.value->encoder().identity() == "toy-embeddings m1 dim 256");

  const auto path = temp_path("external.bin");
  REQUIRE(r.value->save(path).empty());
  // Without the encoder the model cannot be used; with another encoder it is refused.
  CHECK(linear_intent_classifier::load(path, {}).error ==
        path +
            ": model was trained behind the external encoder 'toy-embeddings m1 dim 256'; "
            "pass that encoder to load it");
  CHECK(linear_intent_classifier::load(path, {}, std::make_shared<toy_embedding_encoder>("m2"))
            .error == path +
                          ": encoder mismatch: model expects 'toy-embeddings m1 dim 256', got "
                          "'toy-embeddings m2 dim 256'");
  const auto loaded = linear_intent_classifier::load(path, {}, encoder);
  std::remove(path.c_str());
  REQUIRE(loaded.ok());
  CHECK(loaded.value->probabilities("my parcel is late") ==
        r.value->probabilities("my parcel is late"));
}

TEST_CASE("tfidf encoder: words are lower-cased and split on punctuation", "[intent_classifier]") {
  CHECK(tokenize_utterance("Can't LOG-in, help!") ==
        std::vector<std::string>{"can", "t", "log", "in", "help"});
  CHECK(tokenize_utterance("caf\xC3\xA9 ok") == std::vector<std::string>{"caf\xC3\xA9", "ok"});
}

TEST_CASE("tfidf encoder: vectors are sorted, unit-norm per block, unseen text is empty",
          "[intent_classifier]") {
  tfidf_options opts;
  opts.char_ngram_min = 0;  // words only: one block, so the whole vector has norm 1
  const auto enc = tfidf_encoder::fit({"reset my password", "refund my card"}, opts);
  const auto v = enc->encode("Reset my password, please");
  REQUIRE_FALSE(v.entries.empty());
  double norm = 0;
  for (size_t i = 0; i < v.entries.size(); ++i) {
    norm += v.entries[i].second * v.entries[i].second;
    if (i > 0) CHECK(v.entries[i].first > v.entries[i - 1].first);
    CHECK(v.entries[i].first < enc->dimension());
  }
  CHECK(norm == Approx(1.0));
  CHECK(enc->encode("zzz qqq").entries.empty());
}
