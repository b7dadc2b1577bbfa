#include "router/embedding_encoder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <future>

#include "router/providers/embeddings_adapter.hpp"
#include "router/providers/error_mapping.hpp"
#include "router/providers/http_provider.hpp"
#include "router/tfidf_encoder.hpp"

namespace switchyard {

namespace {

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

void normalise(std::vector<float>& v) {
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  if (norm <= 0 || !std::isfinite(norm)) {
    std::fill(v.begin(), v.end(), 0.0f);
    return;
  }
  const float scale = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& x : v) x *= scale;
}

sparse_vector dense_features(const std::vector<float>& v) {
  sparse_vector out;
  out.entries.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) out.entries.emplace_back(static_cast<uint32_t>(i), v[i]);
  return out;
}

// -- hashed bag of words ----------------------------------------------------------------

std::vector<float> hashed_bag_of_words_encoder::encode(std::string_view text) const {
  std::vector<float> v(dimension_, 0.0f);
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (char c : word) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
    // Two signed buckets per word: two words collide only if both buckets and signs
    // coincide, so one differing word always lowers the similarity.
    for (int round = 0; round < 2; ++round) {
      v[h % dimension_] += (h >> 63) != 0 ? 1.0f : -1.0f;
      h = (h ^ (h >> 31)) * 0xBF58476D1CE4E5B9ull;
      h ^= h >> 29;
    }
    word.clear();
  };
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      flush();
    }
  }
  flush();
  normalise(v);
  return v;
}

std::string hashed_bag_of_words_encoder::identity() const {
  return fmt::format("words-hash-v1 dim {}", dimension_);
}

// -- projection of the classifier's features ---------------------------------------------

projected_text_encoder::projected_text_encoder(std::shared_ptr<const text_encoder> features,
                                               size_t dimension)
    : features_(std::move(features)), dimension_(dimension) {
  passthrough_ = features_->dimension() <= dimension_;
  if (passthrough_) dimension_ = features_->dimension();
  identity_ = features_->identity();
  if (const auto* tfidf = dynamic_cast<const tfidf_encoder*>(features_.get()))
    identity_ += fmt::format(" vocabulary {:016x}", tfidf->vocabulary_fingerprint());
  identity_ += passthrough_ ? " as is" : fmt::format(" hashed to {}", dimension_);
}

std::vector<float> projected_text_encoder::encode(std::string_view text) const {
  std::vector<float> v(dimension_, 0.0f);
  const sparse_vector features = features_->encode(text);
  if (passthrough_) {
    for (const auto& [index, value] : features.entries)
      if (index < dimension_) v[index] = value;
  } else {
    constexpr float half = 0.70710678f;  // 1/sqrt(2): two buckets per feature
    for (const auto& [index, value] : features.entries) {
      uint64_t h = splitmix(index);
      v[h % dimension_] += (h >> 63) != 0 ? half * value : -half * value;
      h = splitmix(h);
      v[h % dimension_] += (h >> 63) != 0 ? half * value : -half * value;
    }
  }
  normalise(v);
  return v;
}

// -- remote embeddings --------------------------------------------------------------------

std::shared_ptr<const remote_embedding_encoder> remote_embedding_encoder::create(
    const config& cfg, std::string& error) {
  const embeddings_settings& s = cfg.router.embeddings;
  const provider_config* provider = cfg.find_provider(s.provider);
  if (provider == nullptr) {
    error = fmt::format("router.embeddings: no provider '{}'", s.provider);
    return nullptr;
  }
  auto http = make_http_provider(*provider, error);
  if (!http) {
    error = "router.embeddings: " + error;
    return nullptr;
  }
  if (!http->unusable.empty()) {
    error = "router.embeddings: " + http->unusable;
    return nullptr;
  }
  std::shared_ptr<remote_embedding_encoder> out(new remote_embedding_encoder());
  out->settings_ = s;
  out->provider_ = *provider;
  out->model_.id = s.model;
  out->model_.provider = s.provider;
  out->endpoint_ = http->endpoint;
  out->training_timeouts_ = http->timeouts;
  out->api_key_ = http->api_key;
  return out;
}

remote_embedding_encoder::~remote_embedding_encoder() {
  if (client_) client_->shutdown(std::chrono::milliseconds{0});
}

std::string remote_embedding_encoder::identity() const {
  return fmt::format("embeddings {} model {} dim {}", provider_.kind, settings_.model,
                     settings_.dimension);
}

http_request remote_embedding_encoder::request_for(const std::vector<std::string>& texts) const {
  return embeddings_adapter::build_request(texts, model_, provider_, api_key_);
}

http_timeouts remote_embedding_encoder::timeouts() const {
  http_timeouts t = training_timeouts_;
  t.connect_ms = std::min(t.connect_ms, settings_.timeout_ms);
  t.first_byte_ms = std::min(t.first_byte_ms, settings_.timeout_ms);
  t.total_ms = settings_.timeout_ms;
  return t;
}

bool remote_embedding_encoder::parse(const http_result& result, size_t expected,
                                     std::vector<std::vector<float>>& out,
                                     std::string& error) const {
  const std::string who =
      fmt::format("embeddings service '{}' (model {})", provider_.name, settings_.model);
  if (!result.ok()) {
    error = fmt::format("{}: {}: {}", who, result.failure.kind, result.failure.message);
    redact_secret(error, api_key_);
    return false;
  }
  embedding_result parsed = embeddings_adapter::parse_response(
      static_cast<int>(result.status), result.headers, result.body, model_, expected, api_key_);
  if (!parsed.ok()) {
    error = fmt::format("{}: {}: {}", who, parsed.error.kind, parsed.error.message);
    return false;
  }
  for (auto& v : parsed.vectors) {
    if (v.size() != settings_.dimension) {
      error = fmt::format("{}: vectors have {} dimensions, router.embeddings.dimension is {}", who,
                          v.size(), settings_.dimension);
      return false;
    }
    normalise(v);
  }
  out = std::move(parsed.vectors);
  return true;
}

bool remote_embedding_encoder::embed(const std::vector<std::string>& texts,
                                     std::vector<std::vector<float>>& out,
                                     std::string& error) const {
  out.clear();
  out.reserve(texts.size());
  std::lock_guard<std::mutex> lock(client_mutex_);
  if (!client_) client_ = std::make_unique<http_client>();
  const size_t batch = std::max<uint32_t>(1, settings_.batch_size);
  for (size_t start = 0; start < texts.size(); start += batch) {
    std::vector<std::string> part(
        texts.begin() + static_cast<std::ptrdiff_t>(start),
        texts.begin() + static_cast<std::ptrdiff_t>(std::min(texts.size(), start + batch)));
    // Blank texts are rejected by some services: embed a space instead (a zero-ish
    // vector, as an empty text deserves).
    for (auto& t : part)
      if (t.empty()) t = " ";
    auto reply = std::make_shared<std::promise<http_result>>();
    auto arrived = reply->get_future();
    client_->send(endpoint_, request_for(part), training_timeouts_,
                  [reply](http_result r) { reply->set_value(std::move(r)); });
    std::vector<std::vector<float>> vectors;
    if (!parse(arrived.get(), part.size(), vectors, error)) {
      if (start > 0) error += fmt::format(" (texts {} to {})", start, start + part.size() - 1);
      return false;
    }
    for (auto& v : vectors) out.push_back(std::move(v));
  }
  return true;
}

sparse_vector remote_embedding_encoder::encode(std::string_view text) const {
  std::vector<std::vector<float>> vectors;
  std::string error;
  if (!embed({std::string(text)}, vectors, error) || vectors.empty()) return {};
  return dense_features(vectors.front());
}

bool remote_embedding_encoder::encode_all(const std::vector<std::string>& texts,
                                          std::vector<sparse_vector>& out,
                                          std::string& error) const {
  std::vector<std::vector<float>> vectors;
  if (!embed(texts, vectors, error)) return false;
  out.clear();
  out.reserve(vectors.size());
  for (const auto& v : vectors) out.push_back(dense_features(v));
  return true;
}

}  // namespace switchyard
