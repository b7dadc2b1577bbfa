#pragma once
// Dense text vectors for the router, two ways round:
//
// - `embedding_encoder`: text -> dense unit vector, what the response cache's ANN index
//   (hnswlib, inner product = cosine) needs. `projected_text_encoder` makes one from the
//   intent classifier's features (sparse TF-IDF n-grams, signed-hashed down to a few
//   hundred dimensions); `hashed_bag_of_words_encoder` is the fallback when the router
//   has no classifier; `precomputed_embeddings` names the space of vectors the caller
//   brings (a remote service's, fetched asynchronously by the model service).
// - `remote_embedding_encoder`: a `text_encoder` over an OpenAI-compatible
//   /v1/embeddings service (router.embeddings), so the intent classifier trains and
//   classifies on the service's vectors. Its blocking calls are for start-up training
//   and tools only; the model service sends `request_for()` on its own HTTP client and
//   gets the answer back as a message.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "router/providers/http_client.hpp"
#include "router/providers/http_types.hpp"
#include "router/text_encoder.hpp"
#include "runtime/config.hpp"

namespace switchyard {

/// Turns text into a dense unit-length vector; similar texts give a large inner product
/// (cosine similarity). Must be thread-safe.
class embedding_encoder {
 public:
  virtual ~embedding_encoder() = default;
  virtual size_t dimension() const = 0;
  /// A unit vector of dimension() floats, all zeros when the encoder knows nothing of
  /// the text, or empty when this encoder cannot embed here (the caller must bring
  /// the vector: precomputed_embeddings).
  virtual std::vector<float> encode(std::string_view text) const = 0;
  /// Names the vector space: vectors of two encoders with different identities must
  /// never be compared (the cache keys its semantic entries by it).
  virtual std::string identity() const = 0;
};

/// Scales `v` to unit length; a zero vector stays zero.
void normalise(std::vector<float>& v);

/// Deterministic encoder without a model: each lower-cased word (letters and digits)
/// adds +-1 to two hashed buckets of a `dimension`-long vector, which is then
/// L2-normalised. Same words, same vector; prompts sharing 4 of 5 words score about 0.8.
class hashed_bag_of_words_encoder final : public embedding_encoder {
 public:
  explicit hashed_bag_of_words_encoder(size_t dimension = 256) : dimension_(dimension) {}
  size_t dimension() const override { return dimension_; }
  std::vector<float> encode(std::string_view text) const override;
  std::string identity() const override;

 private:
  size_t dimension_;
};

/// Dense vectors from the intent classifier's encoder. A dense encoder no wider than
/// `dimension` (an embedding service's) is used as is, normalised. A sparse one (TF-IDF,
/// ~10^5 features) is projected by signed feature hashing: feature f adds
/// value * sign_k(f) / sqrt(2) to buckets h_k(f) for k = 1, 2, which keeps inner products
/// in expectation (Weinberger et al., 2009) with a noise of about 1/sqrt(dimension).
/// The identity names the features' encoder and, for TF-IDF, its vocabulary: a
/// retrained vocabulary moves every feature index, so old vectors mean nothing.
class projected_text_encoder final : public embedding_encoder {
 public:
  /// Default 512 dimensions: the projection noise (~0.04) stays well below the gap
  /// between paraphrases and unrelated prompts (README, "Semantic cache").
  explicit projected_text_encoder(std::shared_ptr<const text_encoder> features,
                                  size_t dimension = 512);
  size_t dimension() const override { return dimension_; }
  std::vector<float> encode(std::string_view text) const override;
  std::string identity() const override { return identity_; }

 private:
  std::shared_ptr<const text_encoder> features_;
  size_t dimension_;
  bool passthrough_;
  std::string identity_;
};

/// The space of vectors the caller computes elsewhere and passes in
/// (cache_request::embedding). encode() returns nothing: without a vector, no semantic
/// match is attempted.
class precomputed_embeddings final : public embedding_encoder {
 public:
  precomputed_embeddings(std::string identity, size_t dimension)
      : identity_(std::move(identity)), dimension_(dimension) {}
  size_t dimension() const override { return dimension_; }
  std::vector<float> encode(std::string_view) const override { return {}; }
  std::string identity() const override { return identity_; }

 private:
  std::string identity_;
  size_t dimension_;
};

/// A dense vector as the classifier's sparse_vector: every index present.
sparse_vector dense_features(const std::vector<float>& v);

/// An OpenAI-compatible embeddings service as a text_encoder (router.embeddings).
class remote_embedding_encoder final : public text_encoder {
 public:
  /// From router.embeddings of `cfg` (which must be set): the provider's endpoint and
  /// key (read from its api_key_env now). nullptr and `error` when the provider's URL
  /// is bad or its key variable is unset.
  static std::shared_ptr<const remote_embedding_encoder> create(const config& cfg,
                                                                std::string& error);
  ~remote_embedding_encoder() override;

  uint32_t dimension() const override { return settings_.dimension; }
  /// One blocking call. When the service fails, no features (the classifier then
  /// answers with low confidence); encode_all() reports the failure instead.
  sparse_vector encode(std::string_view text) const override;
  /// Blocking, in batches of router.embeddings.batch_size; false and `error` (naming
  /// the service and what went wrong) on the first failed batch.
  bool encode_all(const std::vector<std::string>& texts, std::vector<sparse_vector>& out,
                  std::string& error) const override;
  /// "embeddings <provider kind> model <model> dim <N>": a saved classifier is loaded
  /// only behind the same model and dimension.
  std::string identity() const override;
  void save(std::ostream&) const override {}

  /// Blocking, batched: unit vectors of `texts`, in order. False and `error` on failure.
  bool embed(const std::vector<std::string>& texts, std::vector<std::vector<float>>& out,
             std::string& error) const;

  // For callers that must not block (the model service): send request_for() with
  // timeouts() to endpoint() on their own client, then parse() the result.
  http_request request_for(const std::vector<std::string>& texts) const;
  const http_endpoint& endpoint() const { return endpoint_; }
  /// The routing-time limits: router.embeddings.timeout_ms for the whole call.
  http_timeouts timeouts() const;
  /// Unit vectors of a reply to request_for() of `expected` texts; false and `error`
  /// on a transport failure, an error status, a malformed body or a dimension other
  /// than router.embeddings.dimension. Thread-safe.
  bool parse(const http_result& result, size_t expected, std::vector<std::vector<float>>& out,
             std::string& error) const;
  const embeddings_settings& settings() const { return settings_; }

 private:
  remote_embedding_encoder() = default;

  embeddings_settings settings_;
  provider_config provider_;
  model_config model_;  // for the adapter: the wire name; free (no prices)
  http_endpoint endpoint_;
  http_timeouts training_timeouts_;
  std::string api_key_;
  // Created on first blocking use: a service that only routes asynchronously never
  // starts this thread.
  mutable std::mutex client_mutex_;
  mutable std::unique_ptr<http_client> client_;
};

}  // namespace switchyard
