// bench_router: how long one full routing decision takes, against a keyword-only router
// measured in the same run.
//
//   build/bin/bench_router [--routes 100] [--per-route 50] [--models 20] [--decisions 20000]
//
// Setup (synthetic, deterministic): R routes, each with U example utterances made from
// the route's own topic words mixed with words every route shares, so the classifier
// has real work to do; M models over three tiers with mixed residencies, prices and
// context windows; ten regex/keyword/metadata rules that rarely fire.
//   full       rules + classifier (trained on the R x U utterances at start) + policy
//              over M models + the decision trace written as JSON text, as the router
//              actor does for every call
//   keyword    the same policy and trace, routes from one keyword rule per route and no
//              classifier: the cheapest router that still routes by intent
// Each decision is timed alone on one thread over fresh utterances (not the training
// ones). The LAST line of stdout is one JSON object.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "router/route_training.hpp"
#include "router/routing_policy.hpp"
#include "router/token_estimate.hpp"

using namespace switchyard;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  int routes = 100;
  int per_route = 50;
  int models = 20;
  int decisions = 20000;
};

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> int {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return std::atoi(argv[++i]);
    };
    if (a == "--routes") o.routes = next();
    else if (a == "--per-route") o.per_route = next();
    else if (a == "--models") o.models = next();
    else if (a == "--decisions") o.decisions = next();
    else {
      std::fprintf(stderr,
                   "usage: bench_router [--routes N] [--per-route U] [--models M] "
                   "[--decisions D]\n");
      std::exit(a == "--help" ? 0 : 2);
    }
  }
  if (o.routes < 2 || o.per_route < 2 || o.models < 3 || o.decisions < 100) {
    std::fprintf(stderr, "need routes >= 2, per-route >= 2, models >= 3, decisions >= 100\n");
    std::exit(2);
  }
  return o;
}

// A pronounceable made-up word per (route, slot): distinct across routes, so topic
// words identify a route the way "refund" or "invoice" would.
std::string topic_word(int route, int slot) {
  static const char* onsets[] = {"b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"};
  static const char* vowels[] = {"a", "e", "i", "o", "u"};
  std::string w;
  int x = route * 7 + slot * 131 + 17;
  for (int syllable = 0; syllable < 3; ++syllable) {
    w += onsets[x % 14];
    w += vowels[(x / 14) % 5];
    x = x / 70 + (route + 1) * (syllable + 3) + slot;
  }
  return w + std::to_string(route);
}

const std::vector<std::string> shared_words = {
    "please", "help",  "my",   "order", "account", "need", "how",  "can",   "i",
    "the",    "with",  "want", "to",    "know",    "about", "why", "is",    "it",
    "not",    "again", "today", "thanks", "hello", "problem", "there", "a", "this"};

// Shared filler, one or two of the route's topic words, and in a third of the cases a
// topic word of some other route, so that the classifier can be wrong.
std::string utterance(std::mt19937& rng, int route, int routes) {
  std::uniform_int_distribution<int> slot(0, 5), filler(0, static_cast<int>(shared_words.size()) - 1),
      count(3, 8), other(0, routes - 1), percent(0, 99);
  std::string text;
  int n = count(rng);
  bool second = percent(rng) < 50;
  for (int i = 0; i < n; ++i) {
    if (!text.empty()) text += ' ';
    text += shared_words[static_cast<size_t>(filler(rng))];
    if (i == 1 || (second && i == n - 1)) text += ' ' + topic_word(route, slot(rng));
  }
  if (percent(rng) < 33) text += ' ' + topic_word(other(rng), slot(rng));
  return text;
}

nlohmann::json catalog(int models) {
  nlohmann::json list = nlohmann::json::array();
  const char* tiers[] = {"local", "mid", "frontier"};
  const char* where[] = {"local", "private", "cloud"};
  for (int i = 0; i < models; ++i) {
    int tier = i % 3;
    double price = tier == 0 ? 0.0 : tier == 1 ? 0.4 + 0.05 * i : 2.5 + 0.2 * i;
    list.push_back({{"id", fmt::format("model-{:02}", i)},
                    {"provider", "sim"},
                    {"tier", tiers[tier]},
                    {"price_in_per_mtok", price},
                    {"price_out_per_mtok", price * 4},
                    {"context_window", tier == 0 ? 8192 : tier == 1 ? 32768 : 200000},
                    {"residency", tier == 0 ? "local" : where[1 + i % 2]},
                    {"capabilities", tier == 0 ? nlohmann::json::array()
                                               : nlohmann::json{"tools", "json_mode"}}});
  }
  return list;
}

struct percentiles {
  double p50 = 0, p99 = 0, mean = 0;
};

percentiles summarise(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  percentiles p;
  p.p50 = us[us.size() / 2];
  p.p99 = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  double sum = 0;
  for (double x : us) sum += x;
  p.mean = sum / static_cast<double>(us.size());
  return p;
}

std::shared_ptr<const config> load(const nlohmann::json& doc) {
  auto loaded = parse_config(doc, "bench_router");
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.message().c_str());
    std::exit(1);
  }
  return std::make_shared<const config>(std::move(*loaded.value));
}

// Times `decisions` decisions over `texts`, writing each trace as the actor would.
percentiles time_decisions(const routing_policy& policy, const std::vector<std::string>& texts,
                           int decisions, size_t& trace_bytes, int& routed) {
  assume_healthy health;
  std::vector<double> us;
  us.reserve(static_cast<size_t>(decisions));
  trace_bytes = 0;
  routed = 0;
  budget_note budget;
  budget.usd_limited = true;
  budget.usd_left = 0.5;
  for (int i = 0; i < decisions; ++i) {
    model_request req;
    req.messages = {{"system", "You are a support agent."},
                    {"user", texts[static_cast<size_t>(i) % texts.size()]}};
    req.max_tokens = 256;
    auto t0 = clock_type::now();
    routing_input in{req, latest_user_text(req.messages), estimate_prompt_tokens(req.messages),
                     budget};
    auto d = policy.decide(in, health);
    auto text = to_json_text(d.trace);
    auto t1 = clock_type::now();
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    trace_bytes += text.size();
    routed += d.outcome == routing_outcome::routed ? 1 : 0;
  }
  return summarise(std::move(us));
}

}  // namespace

int main(int argc, char** argv) {
  options o = parse_args(argc, argv);
  std::mt19937 rng(20261122);

  nlohmann::json routes = nlohmann::json::array();
  nlohmann::json keyword_rules = nlohmann::json::array();
  for (int r = 0; r < o.routes; ++r) {
    nlohmann::json examples = nlohmann::json::array();
    for (int u = 0; u < o.per_route; ++u) examples.push_back(utterance(rng, r, o.routes));
    const char* tier = r % 10 == 0 ? "frontier" : r % 3 == 0 ? "mid" : "local";
    routes.push_back({{"name", fmt::format("route-{:03}", r)}, {"tier", tier}, {"examples", examples}});
    nlohmann::json words = nlohmann::json::array();
    for (int slot = 0; slot < 6; ++slot) words.push_back(topic_word(r, slot));
    keyword_rules.push_back(
        {{"name", fmt::format("kw-{:03}", r)}, {"keywords", words}, {"route", routes.back()["name"]}});
  }
  nlohmann::json common_rules = nlohmann::json::array({
      {{"name", "ssn"}, {"regex", "\\b\\d{3}-\\d{2}-\\d{4}\\b"}, {"data_class", "pii"}},
      {{"name", "card"}, {"regex", "\\b(?:\\d[ -]?){13,19}\\b"}, {"data_class", "financial"}},
      {{"name", "email"}, {"regex", "[\\w.+-]+@[\\w-]+\\.[\\w.]+"}, {"data_class", "pii"}},
      {{"name", "legal"}, {"keywords", {"lawyer", "lawsuit", "court"}}, {"tier", "frontier"}},
      {{"name", "vip"}, {"metadata", {{"user_tier", "enterprise"}}}, {"tier", "frontier"}},
      {{"name", "batch"}, {"metadata", {{"task_type", "batch"}}}, {"tier", "local"}},
      {{"name", "urgent"}, {"keywords", {"urgent", "asap", "immediately"}}, {"tier", "mid"}},
      {{"name", "health"}, {"keywords", {"diagnosis", "prescription"}}, {"data_class", "health"}},
      {{"name", "iban"}, {"regex", "\\b[A-Z]{2}\\d{2}[A-Z0-9]{11,30}\\b"}, {"data_class", "financial"}},
      {{"name", "human"}, {"keywords", {"human", "person"}}, {"route", "route-000"}},
  });
  auto base = [&](const nlohmann::json& rules) {
    return nlohmann::json{{"runtime", {{"log_level", "off"}}},
                          {"tiers", {"local", "mid", "frontier"}},
                          {"providers", {{{"name", "sim"}, {"kind", "sim"}}}},
                          {"models", catalog(o.models)},
                          {"router",
                           {{"routes", routes},
                            {"default_route", "route-000"},
                            {"threshold", 0.3},
                            {"rules", rules}}}};
  };
  auto full_cfg = load(base(common_rules));
  nlohmann::json kw = common_rules;
  for (auto& r : keyword_rules) kw.push_back(r);
  auto keyword_cfg = load(base(kw));

  std::vector<std::string> queries;
  std::vector<int> truth;
  for (int i = 0; i < 2000; ++i) {
    int r = static_cast<int>(rng() % static_cast<unsigned>(o.routes));
    queries.push_back(utterance(rng, r, o.routes));
    truth.push_back(r);
  }

  auto t0 = clock_type::now();
  auto trained = train_route_classifier(*full_cfg);
  double train_s = std::chrono::duration<double>(clock_type::now() - t0).count();
  if (!trained.classifier) {
    std::fprintf(stderr, "training failed: %s\n", trained.error.c_str());
    return 1;
  }
  auto classifier = trained.classifier;
  routing_policy full{full_cfg, classifier};
  routing_policy keyword{keyword_cfg};

  // Warm up both (page in, fill caches), then measure.
  size_t bytes = 0;
  int routed = 0;
  time_decisions(full, queries, 2000, bytes, routed);
  time_decisions(keyword, queries, 2000, bytes, routed);
  size_t full_bytes = 0, keyword_bytes = 0;
  int full_routed = 0, keyword_routed = 0;
  auto f = time_decisions(full, queries, o.decisions, full_bytes, full_routed);
  auto k = time_decisions(keyword, queries, o.decisions, keyword_bytes, keyword_routed);

  int correct = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    auto g = classifier->classify(queries[i]);
    correct += g.route == fmt::format("route-{:03}", truth[i]) ? 1 : 0;
  }
  double accuracy = static_cast<double>(correct) / static_cast<double>(queries.size());

  std::cout << fmt::format(
      "bench_router: {} routes x {} utterances, {} models, {} rules; {} decisions each\n"
      "  classifier trained in {:.2f} s, accuracy on {} fresh utterances {:.3f}\n"
      "  full     (rules + classifier + policy + trace): p50 {:.1f} us  p99 {:.1f} us  mean "
      "{:.1f} us  trace {:.0f} B\n"
      "  keyword  (rules + policy + trace):              p50 {:.1f} us  p99 {:.1f} us  mean "
      "{:.1f} us\n"
      "  goal p99 <= 100 us: {}\n",
      o.routes, o.per_route, o.models, common_rules.size(), o.decisions, train_s, queries.size(),
      accuracy, f.p50, f.p99, f.mean, static_cast<double>(full_bytes) / o.decisions, k.p50, k.p99,
      k.mean, f.p99 <= 100 ? "met" : "NOT met");
  nlohmann::json out{{"bench", "bench_router"},
                     {"routes", o.routes},
                     {"utterances", o.routes * o.per_route},
                     {"models", o.models},
                     {"decisions", o.decisions},
                     {"train_s", train_s},
                     {"accuracy", accuracy},
                     {"p50_us", f.p50},
                     {"p99_us", f.p99},
                     {"mean_us", f.mean},
                     {"keyword_p50_us", k.p50},
                     {"keyword_p99_us", k.p99},
                     {"trace_bytes", static_cast<double>(full_bytes) / o.decisions},
                     {"goal_p99_le_100us", f.p99 <= 100}};
  std::cout << out.dump() << std::endl;
  return 0;
}
