#pragma once
// Scoring an intent classifier's predictions against labelled test utterances.

#include <cstddef>
#include <string>
#include <vector>

namespace switchyard {

struct intent_metrics {
  size_t examples = 0;
  /// Top-1 accuracy over every example.
  double accuracy = 0.0;
  /// Unweighted mean over labels (in the truth or the predictions) of per-label F1.
  double macro_f1 = 0.0;
  /// Only with an out-of-scope label: the share of out-of-scope examples answered with
  /// "no route" (or with the out-of-scope label itself), and accuracy on the others.
  bool has_oos = false;
  size_t oos_examples = 0;
  double oos_recall = 0.0;
  double in_scope_accuracy = 0.0;
  /// Examples answered with "no route".
  size_t no_route = 0;
};

/// Scores `predicted` against `truth` (same length). An empty prediction means "no
/// route": with an `oos_label` it counts as predicting that label, without one it is
/// simply wrong.
intent_metrics score_intents(const std::vector<std::string>& truth,
                             const std::vector<std::string>& predicted,
                             const std::string& oos_label = "");

/// The q-quantile (0..1) of `samples` by nearest rank; 0 for no samples. Sorts a copy.
double quantile(std::vector<double> samples, double q);

}  // namespace switchyard
