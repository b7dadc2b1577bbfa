#include "router/intent_evaluation.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

namespace switchyard {

intent_metrics score_intents(const std::vector<std::string>& truth,
                             const std::vector<std::string>& predicted,
                             const std::string& oos_label) {
  if (truth.size() != predicted.size()) {
    throw std::invalid_argument("score_intents: truth and predictions differ in length");
  }
  intent_metrics m;
  m.examples = truth.size();
  m.has_oos = !oos_label.empty();
  struct counts {
    size_t tp = 0, fp = 0, fn = 0;
  };
  std::map<std::string, counts> per_label;
  size_t correct = 0, in_scope = 0, in_scope_correct = 0, oos_caught = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    std::string p = predicted[i];
    if (p.empty()) {
      ++m.no_route;
      if (m.has_oos) p = oos_label;
    }
    const bool hit = p == truth[i];
    correct += hit;
    if (hit) {
      ++per_label[p].tp;
    } else {
      ++per_label[truth[i]].fn;
      if (!p.empty()) ++per_label[p].fp;
    }
    if (m.has_oos) {
      if (truth[i] == oos_label) {
        ++m.oos_examples;
        oos_caught += hit;
      } else {
        ++in_scope;
        in_scope_correct += hit;
      }
    }
  }
  if (m.examples > 0) m.accuracy = static_cast<double>(correct) / m.examples;
  double f1_sum = 0.0;
  for (const auto& [label, c] : per_label) {
    const double denom = 2.0 * c.tp + c.fp + c.fn;
    f1_sum += denom > 0 ? 2.0 * c.tp / denom : 0.0;
  }
  if (!per_label.empty()) m.macro_f1 = f1_sum / per_label.size();
  if (m.oos_examples > 0) m.oos_recall = static_cast<double>(oos_caught) / m.oos_examples;
  if (in_scope > 0) m.in_scope_accuracy = static_cast<double>(in_scope_correct) / in_scope;
  return m;
}

double quantile(std::vector<double> samples, double q) {
  if (samples.empty()) return 0.0;
  std::sort(samples.begin(), samples.end());
  const double rank = std::ceil(q * samples.size());
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return samples[std::min(index, samples.size() - 1)];
}

}  // namespace switchyard
