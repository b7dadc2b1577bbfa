// bench_semantic_cache: how well the response cache's semantic match tells a paraphrase
// from a different question, per encoder, and what a semantic lookup costs.
//
//   build/bin/bench_semantic_cache [--pairs F] [--train F] [--banking77 DIR] [--entries 2000]
//                                  [--verbose]
//
// Pairs (default tests/data/cache_paraphrases.jsonl, hand-written): a stored prompt and
// an asked one, `same` when the asked one is a paraphrase that deserves the stored
// answer. For each encoder and threshold t: recall (paraphrases with cosine >= t) and
// false hits (different questions with cosine >= t). Encoders:
//   words        the cache's former encoder, a hashed bag of words (256 dims): baseline
//   router       the router's TF-IDF features (fitted on --train, default the test routes'
//                40 examples) projected to 512 dims, as the model service uses them
//   router-b77   the same fitted on Banking77's 10,003 training texts (when --banking77
//                names a folder with train.csv): a large vocabulary
// Lookup cost: --entries prompts stored in one namespace, then p50/p99 of a lookup that
// misses exactly and searches the hnswlib index, per encoder (encoding included).
// The LAST line of stdout is one JSON object.

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "router/embedding_encoder.hpp"
#include "router/response_cache.hpp"
#include "router/tfidf_encoder.hpp"
#include "router/utterance_file.hpp"

using namespace switchyard;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

struct pair_case {
  std::string stored, asked;
  bool same = false;
};

struct options {
  std::string pairs = SWITCHYARD_SOURCE_DIR "/tests/data/cache_paraphrases.jsonl";
  std::string train = SWITCHYARD_SOURCE_DIR "/tests/data/intents_train.csv";
  std::string banking77 = SWITCHYARD_SOURCE_DIR "/../shared/data/banking77";
  int entries = 2000;
  bool verbose = false;  // every pair's cosine per encoder
};

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--pairs")
      o.pairs = next();
    else if (a == "--train")
      o.train = next();
    else if (a == "--banking77")
      o.banking77 = next();
    else if (a == "--entries")
      o.entries = std::atoi(next().c_str());
    else if (a == "--verbose")
      o.verbose = true;
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      std::exit(2);
    }
  }
  return o;
}

std::vector<pair_case> read_pairs(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(1);
  }
  std::vector<pair_case> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = json::parse(line);
    out.push_back({j.at("stored"), j.at("asked"), j.at("same")});
  }
  return out;
}

std::vector<std::string> texts_of(const std::string& path) {
  auto r = read_utterance_file(path);
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.error.c_str());
    std::exit(1);
  }
  std::vector<std::string> out;
  for (auto& e : r.rows) out.push_back(std::move(e.text));
  return out;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) dot += static_cast<double>(a[i]) * b[i];
  return dot;
}

struct quality {
  std::vector<double> same, different;  // cosines
  double recall(double t) const {
    return static_cast<double>(
               std::count_if(same.begin(), same.end(), [t](double c) { return c >= t; })) /
           static_cast<double>(std::max<size_t>(1, same.size()));
  }
  size_t false_hits(double t) const {
    return static_cast<size_t>(
        std::count_if(different.begin(), different.end(), [t](double c) { return c >= t; }));
  }
};

quality measure(const embedding_encoder& e, const std::vector<pair_case>& pairs) {
  quality q;
  for (const auto& p : pairs)
    (p.same ? q.same : q.different).push_back(cosine(e.encode(p.stored), e.encode(p.asked)));
  return q;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// p50/p99 in microseconds of a semantic lookup among `entries` stored prompts.
std::pair<double, double> lookup_cost(const embedding_encoder& e,
                                      const std::vector<std::string>& corpus, int entries) {
  auto dir = std::filesystem::temp_directory_path() /
             fmt::format("bench-semantic-cache-{}", std::random_device{}());
  manual_clock clock{std::chrono::hours(24 * 365 * 50)};
  response_cache_settings settings;
  settings.semantic_threshold = 0.8;
  std::string error;
  auto cache = response_cache::open(dir.string(), settings, clock, &e, error);
  if (!cache) {
    std::fprintf(stderr, "%s\n", error.c_str());
    std::exit(1);
  }
  auto ask = [](const std::string& text) {
    cache_request r;
    r.scope = {"acme", "support", "answer", ""};
    r.messages = {{"system", "You answer support questions."}, {"user", text}};
    r.params = {{"model", "m"}};
    return r;
  };
  for (int i = 0; i < entries; ++i)
    cache->store(ask(corpus[static_cast<size_t>(i) % corpus.size()] + " #" + std::to_string(i)),
                 "answer");
  std::vector<double> us;
  for (int i = 0; i < 2000; ++i) {
    auto r = ask(corpus[static_cast<size_t>(i * 7 + 3) % corpus.size()] + " ?");
    auto start = clock_type::now();
    cache->lookup(r);
    us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - start).count());
  }
  cache.reset();
  std::filesystem::remove_all(dir);
  return {percentile(us, 0.5), percentile(us, 0.99)};
}

}  // namespace

int main(int argc, char** argv) {
  options o = parse_args(argc, argv);
  auto pairs = read_pairs(o.pairs);
  auto train = texts_of(o.train);

  struct encoder_case {
    std::string name;
    std::unique_ptr<embedding_encoder> encoder;
  };
  std::vector<encoder_case> encoders;
  encoders.push_back({"words", std::make_unique<hashed_bag_of_words_encoder>(256)});
  encoders.push_back({"router", std::make_unique<projected_text_encoder>(
                                    tfidf_encoder::fit(train, tfidf_options{}))});
  std::vector<std::string> b77;
  if (std::filesystem::exists(o.banking77 + "/train.csv")) {
    b77 = texts_of(o.banking77 + "/train.csv");
    encoders.push_back({"router-b77", std::make_unique<projected_text_encoder>(
                                          tfidf_encoder::fit(b77, tfidf_options{}))});
  }
  size_t same =
      std::count_if(pairs.begin(), pairs.end(), [](const pair_case& p) { return p.same; });
  std::printf("%zu paraphrase pairs, %zu pairs of different questions (%s)\n", same,
              pairs.size() - same, o.pairs.c_str());
  const std::vector<double> thresholds = {0.7, 0.75, 0.8, 0.85, 0.9, 0.92};
  std::printf("%-11s", "encoder");
  for (double t : thresholds) std::printf("  t=%.2f rec/false", t);
  std::printf("   lookup p50/p99 us (%d entries)\n", o.entries);
  json result;
  const auto& corpus = b77.empty() ? train : b77;
  if (o.verbose) {
    for (const auto& p : pairs) {
      std::printf("%s", p.same ? "same" : "diff");
      for (const auto& e : encoders)
        std::printf(" %s=%.2f", e.name.c_str(),
                    cosine(e.encoder->encode(p.stored), e.encoder->encode(p.asked)));
      std::printf("  %s | %s\n", p.stored.c_str(), p.asked.c_str());
    }
  }
  for (const auto& e : encoders) {
    auto q = measure(*e.encoder, pairs);
    std::printf("%-11s", e.name.c_str());
    for (double t : thresholds) std::printf("  %8.2f / %-6zu", q.recall(t), q.false_hits(t));
    auto [p50, p99] = lookup_cost(*e.encoder, corpus, o.entries);
    std::printf("   %.1f / %.1f\n", p50, p99);
    result[e.name] = {{"recall_at_0_8", q.recall(0.8)},
                      {"false_hits_at_0_8", q.false_hits(0.8)},
                      {"recall_at_0_92", q.recall(0.92)},
                      {"false_hits_at_0_92", q.false_hits(0.92)},
                      {"lookup_p50_us", p50},
                      {"lookup_p99_us", p99}};
  }
  const double base = result["words"]["recall_at_0_8"];
  const double ours = result["router"]["recall_at_0_8"];
  std::printf("recall at 0.8: router %.2f vs words %.2f (x%.2f)\n", ours, base,
              base > 0 ? ours / base : 0.0);
  json last = {{"pairs", pairs.size()},
               {"recall_at_0_8", ours},
               {"false_hits_at_0_8", result["router"]["false_hits_at_0_8"]},
               {"baseline_recall_at_0_8", base},
               {"baseline_false_hits_at_0_8", result["words"]["false_hits_at_0_8"]},
               {"lookup_p50_us", result["router"]["lookup_p50_us"]},
               {"lookup_p99_us", result["router"]["lookup_p99_us"]},
               {"encoders", result}};
  std::cout << last.dump() << std::endl;
  return 0;
}
