#include "router/route_training.hpp"

#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <spdlog/spdlog.h>

namespace switchyard {

namespace {

std::string resolve(const config& cfg, const std::string& path) {
  if (path.empty() || path.front() == '/' || cfg.base_dir.empty()) return path;
  return cfg.base_dir + "/" + path;
}

// FNV-1a over every example and route name: a saved model is reused only when it was
// trained on exactly these examples.
std::string fingerprint(const std::vector<labeled_utterance>& examples) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  for (const auto& e : examples) {
    mix(e.route);
    mix(e.text);
  }
  return fmt::format("{:016x}", h);
}

std::string read_small_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::shared_ptr<const text_encoder> intent_route_classifier::features() const {
  const auto* linear = dynamic_cast<const linear_intent_classifier*>(model_.get());
  return linear != nullptr ? linear->shared_encoder() : nullptr;
}

namespace {

route_guess guess_of(classification c, std::string encoder) {
  route_guess g;
  g.route = std::move(c.best_route);
  g.confidence = c.confidence;
  g.runner_up = std::move(c.runner_up);
  g.runner_up_confidence = c.runner_up_confidence;
  g.top.reserve(c.top.size());
  for (auto& s : c.top) g.top.emplace_back(std::move(s.route), s.probability);
  g.encoder = std::move(encoder);
  return g;
}

}  // namespace

route_guess intent_route_classifier::classify(std::string_view text) const {
  return guess_of(model_->classify(text), {});
}

route_guess embedding_route_classifier::classify(std::string_view text) const {
  return classify_fallback(text, "synchronous call");
}

route_guess embedding_route_classifier::classify_fallback(
    std::string_view text, const std::string& why_not_embeddings) const {
  return guess_of(fallback_->classify(text),
                  "tfidf (embeddings not used: " + why_not_embeddings + ")");
}

route_guess embedding_route_classifier::classify_embedding(
    const std::vector<float>& embedding) const {
  return guess_of(on_embeddings_->classify_encoded(dense_features(embedding)),
                  "embeddings " + encoder_->settings().model);
}

std::vector<labeled_utterance> route_examples(const config& cfg, std::string& error) {
  std::vector<labeled_utterance> out;
  for (const auto& route : cfg.router.routes) {
    for (const auto& e : route.examples) out.push_back({e, route.name});
    if (route.examples_file.empty()) continue;
    std::string path = resolve(cfg, route.examples_file);
    std::ifstream in(path);
    if (!in) {
      error = fmt::format("router.routes '{}': cannot read examples_file '{}'", route.name, path);
      return {};
    }
    std::string line;
    size_t added = 0;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos || line[0] == '#') continue;
      out.push_back({line, route.name});
      ++added;
    }
    if (added == 0 && route.examples.empty()) {
      error = fmt::format("router.routes '{}': examples_file '{}' has no utterances", route.name,
                          path);
      return {};
    }
  }
  return out;
}

namespace {

// The classifier saved at `model_path` when it was trained on examples with this
// fingerprint behind `encoder` (null: built-in TF-IDF), else a freshly trained one,
// saved there. Null and `error` when training fails.
std::shared_ptr<const linear_intent_classifier> load_or_train(
    const std::vector<labeled_utterance>& examples, const std::string& print,
    const std::string& model_path, const std::shared_ptr<const text_encoder>& encoder, bool& loaded,
    std::string& error) {
  linear_classifier_options options;  // threshold 0: the policy applies its own
  const std::string print_path = model_path + ".examples";
  loaded = false;
  if (!model_path.empty() && read_small_file(print_path) == print) {
    auto found = linear_intent_classifier::load(model_path, options, encoder);
    // A file trained on TF-IDF loads without the encoder it was given: not usable
    // behind a remote encoder (and the other way round load() refuses).
    if (found.ok() && encoder && &found.value->encoder() != encoder.get())
      found = {nullptr, "it was trained on TF-IDF features, not on '" + encoder->identity() + "'"};
    if (found.ok()) {
      loaded = true;
      return found.value;
    }
    spdlog::warn("router: saved classifier '{}' not usable ({}); retraining", model_path,
                 found.error);
  }
  auto trained = linear_intent_classifier::train(examples, options, encoder);
  if (!trained.ok()) {
    error = "router: cannot train the intent classifier: " + trained.error;
    return nullptr;
  }
  if (!model_path.empty()) {
    auto problem = trained.value->save(model_path);
    std::ofstream mark(print_path, std::ios::trunc);
    if (problem.empty() && mark << print)
      spdlog::info("router: saved the intent classifier to '{}'", model_path);
    else
      spdlog::warn("router: cannot save the intent classifier to '{}': {}", model_path,
                   problem.empty() ? "cannot write " + print_path : problem);
  }
  return trained.value;
}

}  // namespace

route_training_result train_route_classifier(const config& cfg) {
  route_training_result out;
  if (cfg.router.routes.size() < 2) return out;  // nothing to choose between
  auto started = std::chrono::steady_clock::now();
  auto examples = route_examples(cfg, out.error);
  if (!out.error.empty()) return out;
  const std::string model_path = resolve(cfg, cfg.router.classifier_model);
  const std::string print = fingerprint(examples);
  const bool remote = cfg.router.embeddings.enabled();
  bool loaded = false;
  auto tfidf = load_or_train(examples, print,
                             remote && !model_path.empty() ? model_path + ".tfidf" : model_path,
                             nullptr, loaded, out.error);
  if (!tfidf) return out;
  out.loaded = loaded;
  if (!remote) {
    out.classifier = std::make_shared<intent_route_classifier>(tfidf);
  } else {
    auto encoder = remote_embedding_encoder::create(cfg, out.error);
    if (!encoder) return out;
    std::string why;
    auto on_embeddings = load_or_train(examples, print, model_path, encoder, loaded, why);
    if (on_embeddings) {
      out.loaded = out.loaded && loaded;
      out.classifier = std::make_shared<embedding_route_classifier>(encoder, on_embeddings, tfidf);
    } else {
      // The service is down or misbehaving right now: start anyway, routing as
      // without router.embeddings, rather than take every route down with it.
      out.embeddings_unavailable = why;
      spdlog::error("{}; routing with TF-IDF only until the next start", why);
      out.classifier = std::make_shared<intent_route_classifier>(tfidf);
    }
  }
  out.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return out;
}

std::shared_ptr<const routing_policy> build_routing_policy(std::shared_ptr<const config> cfg) {
  auto trained = train_route_classifier(*cfg);
  if (!trained.error.empty()) throw std::runtime_error(trained.error);
  if (trained.classifier)
    spdlog::info("router: intent classifier for {} routes {} in {:.2f} s",
                 cfg->router.routes.size(), trained.loaded ? "loaded" : "trained",
                 trained.seconds);
  return std::make_shared<const routing_policy>(std::move(cfg), std::move(trained.classifier));
}

}  // namespace switchyard
