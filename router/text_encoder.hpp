#pragma once
// The seam between text and the linear intent classifier: something that turns an
// utterance into a feature vector. The TF-IDF n-gram encoder fitted on the route
// examples (router/tfidf_encoder.hpp) is the default; an external embedding service (an
// OpenAI-compatible /v1/embeddings client, router/embedding_encoder.hpp) implements the
// same interface and the classifier trains on its dense vectors unchanged.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchyard {

/// A sparse feature vector: (index, value) pairs with strictly increasing indices in
/// [0, dimension). Dense encoders return every index.
struct sparse_vector {
  std::vector<std::pair<uint32_t, float>> entries;
};

class text_encoder {
 public:
  virtual ~text_encoder() = default;

  /// Number of feature indices the encoder can produce. Fixed once constructed.
  virtual uint32_t dimension() const = 0;

  /// Encodes one utterance. Must be thread-safe (const, no shared mutable state): the
  /// classifier is called from many actors at once. Unknown words simply produce no
  /// features; this never fails.
  virtual sparse_vector encode(std::string_view text) const = 0;

  /// Encodes many texts (training). The default calls encode() for each and never
  /// fails; an encoder that asks a service does it in batches and may fail: then it
  /// returns false and `error` says why.
  virtual bool encode_all(const std::vector<std::string>& texts, std::vector<sparse_vector>& out,
                          std::string& error) const {
    (void)error;
    out.clear();
    out.reserve(texts.size());
    for (const auto& t : texts) out.push_back(encode(t));
    return true;
  }

  /// Names the encoder and everything that changes its output ("tfidf-v1 ..." or, for
  /// an embedding service, its model name and dimension). A saved classifier records it
  /// so that it is never loaded behind a different encoder.
  virtual std::string identity() const = 0;

  /// Writes whatever the encoder learned from the training texts (vocabulary, weights).
  /// Encoders with nothing to save (remote embeddings) write nothing.
  virtual void save(std::ostream& out) const = 0;
};

}  // namespace switchyard
