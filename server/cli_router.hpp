#pragma once
// `switchyard router eval`: train the intent classifier on one labelled file, score it
// on another, and time it.

#include <string>

#include "router/intent_classifier.hpp"

namespace switchyard::cli {

struct router_eval_options {
  std::string train_path;  // required unless load_path is given
  std::string test_path;
  std::string oos_label;   // empty: no out-of-scope scoring
  double threshold = 0.0;  // below this confidence: "no route"
  bool json = false;
  std::string save_path;  // write the trained model here
  std::string load_path;  // use this saved model instead of training
  linear_classifier_options classifier;
};

/// Exit status: 0 on success, 2 for bad usage or a bad file (message on stderr).
int router_eval_command(const router_eval_options& opts);

}  // namespace switchyard::cli
