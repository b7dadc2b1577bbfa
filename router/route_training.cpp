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

route_guess intent_route_classifier::classify(std::string_view text) const {
  classification c = model_->classify(text);
  route_guess g;
  g.route = std::move(c.best_route);
  g.confidence = c.confidence;
  g.runner_up = std::move(c.runner_up);
  g.runner_up_confidence = c.runner_up_confidence;
  g.top.reserve(c.top.size());
  for (auto& s : c.top) g.top.emplace_back(std::move(s.route), s.probability);
  return g;
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

route_training_result train_route_classifier(const config& cfg) {
  route_training_result out;
  if (cfg.router.routes.size() < 2) return out;  // nothing to choose between
  auto started = std::chrono::steady_clock::now();
  auto examples = route_examples(cfg, out.error);
  if (!out.error.empty()) return out;
  linear_classifier_options options;  // threshold 0: the policy applies its own
  const std::string model_path = resolve(cfg, cfg.router.classifier_model);
  const std::string print = fingerprint(examples);
  const std::string print_path = model_path + ".examples";
  if (!model_path.empty() && read_small_file(print_path) == print) {
    auto loaded = linear_intent_classifier::load(model_path, options);
    if (loaded.ok()) {
      out.classifier = std::make_shared<intent_route_classifier>(loaded.value);
      out.loaded = true;
    } else {
      spdlog::warn("router: saved classifier '{}' not usable ({}); retraining", model_path,
                  loaded.error);
    }
  }
  if (!out.classifier) {
    auto trained = linear_intent_classifier::train(examples, options);
    if (!trained.ok()) {
      out.error = "router: cannot train the intent classifier: " + trained.error;
      return out;
    }
    out.classifier = std::make_shared<intent_route_classifier>(trained.value);
    if (!model_path.empty()) {
      auto problem = trained.value->save(model_path);
      std::ofstream mark(print_path, std::ios::trunc);
      if (problem.empty() && mark << print)
        spdlog::info("router: saved the intent classifier to '{}'", model_path);
      else
        spdlog::warn("router: cannot save the intent classifier to '{}': {}", model_path,
                    problem.empty() ? "cannot write " + print_path : problem);
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
