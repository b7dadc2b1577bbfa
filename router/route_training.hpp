#pragma once
// From the config's routes to a ready classifier: gathers each route's example
// utterances (inline and from files), then loads the saved model named by
// router.classifier_model when it was trained on exactly these examples, or trains
// one (and saves it there, so the next start does not retrain). With router.embeddings
// set, two models: one on the service's vectors (the examples embedded in batches, a
// blocking call made at start-up, never on an actor thread) saved at classifier_model,
// and the TF-IDF fallback saved at classifier_model + ".tfidf".

#include <memory>
#include <string>
#include <vector>

#include "router/embedding_encoder.hpp"
#include "router/intent_classifier.hpp"
#include "router/routing_policy.hpp"
#include "runtime/config.hpp"

namespace switchyard {

/// Serves the routing policy from an intent_classifier: the best route and its
/// confidence whatever the threshold (the policy applies router.threshold itself).
class intent_route_classifier final : public route_classifier {
 public:
  explicit intent_route_classifier(std::shared_ptr<const intent_classifier> model)
      : model_(std::move(model)) {}
  route_guess classify(std::string_view text) const override;
  /// The linear model's encoder (TF-IDF), for the response cache.
  std::shared_ptr<const text_encoder> features() const override;
  const intent_classifier& model() const { return *model_; }

 private:
  std::shared_ptr<const intent_classifier> model_;
};

/// Routes on an embeddings service's vectors (router.embeddings), with an in-process
/// TF-IDF classifier trained on the same examples for whenever the service cannot be
/// asked. classify() is that fallback: it is called synchronously (agents that classify
/// on their own), and an HTTP round trip must not block the thread it runs on. The
/// model service fetches the embedding asynchronously and calls classify_embedding().
class embedding_route_classifier final : public route_classifier {
 public:
  embedding_route_classifier(std::shared_ptr<const remote_embedding_encoder> encoder,
                             std::shared_ptr<const linear_intent_classifier> on_embeddings,
                             std::shared_ptr<const linear_intent_classifier> fallback)
      : encoder_(std::move(encoder)),
        on_embeddings_(std::move(on_embeddings)),
        fallback_(std::move(fallback)) {}
  /// The TF-IDF answer; route_guess::encoder says so and why (`why_not_embeddings`).
  route_guess classify(std::string_view text) const override;
  route_guess classify_fallback(std::string_view text, const std::string& why_not_embeddings) const;
  /// The answer on the embedding of the text (a unit vector of the encoder's dimension).
  route_guess classify_embedding(const std::vector<float>& embedding) const;
  /// The remote encoder: the cache stores its vectors.
  std::shared_ptr<const text_encoder> features() const override { return encoder_; }
  const remote_embedding_encoder& encoder() const { return *encoder_; }

 private:
  std::shared_ptr<const remote_embedding_encoder> encoder_;
  std::shared_ptr<const linear_intent_classifier> on_embeddings_;
  std::shared_ptr<const linear_intent_classifier> fallback_;
};

/// Every route's examples; a file that cannot be read sets `error` (naming the route
/// and the path) and returns nothing.
std::vector<labeled_utterance> route_examples(const config& cfg, std::string& error);

struct route_training_result {
  std::shared_ptr<const route_classifier> classifier;  // null: fewer than two routes, or error
  std::string error;
  bool loaded = false;  // from router.classifier_model rather than trained
  /// With router.embeddings: why the examples could not be embedded (the service
  /// failed at start-up), in which case `classifier` is the TF-IDF one alone.
  std::string embeddings_unavailable;
  double seconds = 0;
};

route_training_result train_route_classifier(const config& cfg);

/// The routing policy for `cfg`, with its classifier trained or loaded. Throws
/// std::runtime_error naming the problem when the classifier cannot be built.
std::shared_ptr<const routing_policy> build_routing_policy(std::shared_ptr<const config> cfg);

}  // namespace switchyard
