#pragma once
// From the config's routes to a ready classifier: gathers each route's example
// utterances (inline and from files), then loads the saved model named by
// router.classifier_model when it was trained on exactly these examples, or trains
// one (and saves it there, so the next start does not retrain).

#include <memory>
#include <string>
#include <vector>

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
  const intent_classifier& model() const { return *model_; }

 private:
  std::shared_ptr<const intent_classifier> model_;
};

/// Every route's examples; a file that cannot be read sets `error` (naming the route
/// and the path) and returns nothing.
std::vector<labeled_utterance> route_examples(const config& cfg, std::string& error);

struct route_training_result {
  std::shared_ptr<const route_classifier> classifier;  // null: fewer than two routes, or error
  std::string error;
  bool loaded = false;  // from router.classifier_model rather than trained
  double seconds = 0;
};

route_training_result train_route_classifier(const config& cfg);

/// The routing policy for `cfg`, with its classifier trained or loaded. Throws
/// std::runtime_error naming the problem when the classifier cannot be built.
std::shared_ptr<const routing_policy> build_routing_policy(std::shared_ptr<const config> cfg);

}  // namespace switchyard
