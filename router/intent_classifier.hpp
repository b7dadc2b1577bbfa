#pragma once
// Intent classification for the router: which route (a named group of example
// utterances) a request belongs to, with a calibrated confidence and the runner-up.
//
// `intent_classifier` is the interface the router calls. `linear_intent_classifier`
// implements it with a linear model trained by liblinear on features from a
// `text_encoder` (TF-IDF n-grams by default; an embedding service can plug in later).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "router/text_encoder.hpp"
#include "router/tfidf_encoder.hpp"

namespace switchyard {

/// One training example: an utterance and the route it belongs to.
struct labeled_utterance {
  std::string text;
  std::string route;
};

struct route_score {
  std::string route;
  double probability = 0.0;  // calibrated, in [0, 1]; over all routes they sum to 1
};

struct classification {
  /// The chosen route; empty ("no route") when `confidence` is below the classifier's
  /// threshold, in which case the caller applies its configured default route.
  std::string route;
  /// The most probable route and its probability, set even when `route` is empty.
  std::string best_route;
  double confidence = 0.0;
  /// The second most probable route (empty with a single route) and its probability.
  std::string runner_up;
  double runner_up_confidence = 0.0;
  /// The top-k routes by probability, descending (best first), for decision traces.
  std::vector<route_score> top;

  bool has_route() const { return !route.empty(); }
};

class intent_classifier {
 public:
  virtual ~intent_classifier() = default;
  /// Classifies one utterance. Thread-safe: const, no shared mutable state. Cost for
  /// the linear classifier on Banking77: 6-11 us of CPU with a warm cache, 25-45 us
  /// (p50) on a busy machine; it allocates only small vectors.
  virtual classification classify(std::string_view text) const = 0;
  /// Every route the classifier can return, in a fixed order.
  virtual const std::vector<std::string>& routes() const = 0;
  /// Below this probability classify() answers "no route".
  virtual double threshold() const = 0;
};

enum class linear_solver {
  logistic_regression,  // liblinear L2R_LR_DUAL: one-vs-rest L2-regularised logistic loss
  svm,                  // liblinear L2R_L2LOSS_SVC_DUAL: one-vs-rest squared-hinge SVM
  crammer_singer,       // liblinear MCSVM_CS: multi-class SVM, one joint problem
};

/// Parses "lr", "svm" or "cs"; false for anything else.
bool parse_linear_solver(std::string_view name, linear_solver& out);
const char* to_string(linear_solver solver);

struct linear_classifier_options {
  /// Default: Crammer-Singer with C = 1, the best of the three on Banking77 (README).
  linear_solver solver = linear_solver::crammer_singer;
  double c = 1.0;  // liblinear's cost: larger fits the examples more closely
  /// Below this calibrated probability the answer is "no route". Default 0: always
  /// answer; the router's config sets a real threshold.
  double threshold = 0.0;
  /// How many routes classification::top holds. Default 5.
  int top_k = 5;
  /// Calibration: held-out decision values from this many of 5 folds fit the softmax
  /// temperature. 0 picks 5 for small sets (< 2,000 examples) and 1 for large ones,
  /// which keeps training on 10,000 examples to about two fits.
  int calibration_folds = 0;
  /// Trained weights smaller than this in magnitude are dropped: the model shrinks and
  /// classify() touches less memory, at a small cost in accuracy. Default 0 (keep all).
  double min_weight = 0.0;
  /// Features, used when no encoder is given to train().
  tfidf_options features;

  /// Empty when valid, else what is wrong.
  std::string problem() const;
};

class linear_intent_classifier;

/// A trained or loaded classifier, or why there is none.
struct classifier_result {
  std::shared_ptr<const linear_intent_classifier> value;
  std::string error;
  bool ok() const { return value != nullptr; }
};

class linear_intent_classifier final : public intent_classifier {
 public:
  /// Trains on `examples` (at least two routes, no empty text or route). Fits a TF-IDF
  /// encoder on the example texts unless `encoder` is given. Cost: a few liblinear fits
  /// (calibration folds plus the final one): 12-14 s of CPU on one thread for
  /// Banking77 (10,003 examples, 77 routes), well under a second for a few hundred.
  static classifier_result train(const std::vector<labeled_utterance>& examples,
                                 const linear_classifier_options& options,
                                 std::shared_ptr<const text_encoder> encoder = nullptr);

  /// Writes the encoder, routes, calibration and weights to `path` (binary, host byte
  /// order). Returns an empty string on success, else the problem.
  std::string save(const std::string& path) const;
  /// Reads a file written by save(). A model saved with the built-in TF-IDF encoder
  /// needs no `encoder`; one saved behind an external encoder needs the same encoder
  /// (its identity() must match). `threshold` and `top_k` are not stored: they are the
  /// caller's policy, taken from `options`.
  static classifier_result load(const std::string& path, const linear_classifier_options& options,
                                std::shared_ptr<const text_encoder> encoder = nullptr);

  /// The same model with another threshold; shares the weights (no copy).
  std::shared_ptr<const linear_intent_classifier> with_threshold(double threshold) const;

  classification classify(std::string_view text) const override;
  const std::vector<std::string>& routes() const override { return model_->routes; }
  double threshold() const override { return threshold_; }

  /// Classifies features already encoded by encoder() (a remote encoder's vector
  /// fetched asynchronously). Indices beyond encoder().dimension() must not occur.
  classification classify_encoded(const sparse_vector& features) const;

  /// Calibrated probabilities of every route, in routes() order. Thread-safe.
  std::vector<double> probabilities(std::string_view text) const;
  std::vector<double> probabilities_of(const sparse_vector& features) const;
  /// The softmax inverse temperature fitted at training time.
  double calibration_scale() const { return model_->scale; }
  const text_encoder& encoder() const { return *model_->encoder; }
  const std::shared_ptr<const text_encoder>& shared_encoder() const { return model_->encoder; }

 private:
  struct weights {
    std::shared_ptr<const text_encoder> encoder;
    std::vector<std::string> routes;
    uint32_t dimension = 0;
    // Weights by feature, sparse (most are exactly 0 after training): the nonzero
    // weights of feature f are entries [row_start[f], row_start[f + 1]).
    std::vector<uint32_t> row_start;  // dimension + 1
    std::vector<uint16_t> entry_route;
    std::vector<float> entry_weight;
    std::vector<float> bias;  // per route
    double scale = 1.0;       // probabilities = softmax(scale * decision values)
    // What classify() reads: the same weights as 8-bit integers, each feature row with
    // its own scale (weight = q * row_scale), a quarter of the bytes of entry_weight
    // so long utterances miss the cache less. entry_weight stays for save().
    // A row's first entry and its scale side by side: one cache miss for both.
    struct row_ref {
      uint32_t start = 0;  // == row_start[f]
      float scale = 0.0f;
    };
    std::vector<int8_t> entry_q;
    std::vector<row_ref> rows;  // dimension + 1
    void quantise();
  };

  // Decision values of an encoded text from the 8-bit weights.
  void decision_values_q(const sparse_vector& v, std::vector<double>& out) const;

  linear_intent_classifier(std::shared_ptr<const weights> model, double threshold, int top_k)
      : model_(std::move(model)), threshold_(threshold), top_k_(top_k) {}

  std::shared_ptr<const weights> model_;
  double threshold_;
  int top_k_;
};

}  // namespace switchyard
