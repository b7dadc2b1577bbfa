#pragma once
// Cascade mode (FrugalGPT-style) for one route: call the cheapest tier first, score the
// answer's confidence, accept it at or above the tier's threshold, otherwise escalate
// to the next tier. The last tier's answer is always accepted. Plain classes, no CAF.
//
// Scorers map an answer to a confidence in [0, 1]:
// - logprob_scorer: exp(mean token log-probability), when the provider returned them;
// - format_scorer: 0 for empty output, unparseable JSON when JSON was asked, or a
//   reply cut by max_tokens; 1 otherwise;
// - judge_scorer: any function (synchronous); the model service's judge is a local
//   model asked asynchronously (choose_scoring, fill_judge_prompt,
//   parse_judge_verdict below; the call itself lives in router/model_service.cpp);
// - default_scorer: logprobs when present, else format checks.
//
// calibrate_thresholds() fits per-route thresholds on labelled outcomes (one record
// per route, tier and query: confidence, correct, cost) so the cascade reaches a
// target quality (share of correct final answers) at the least expected cost. With
// an `id` on every record of a route, records of the same query are joined and the
// cascade is replayed query by query (exact). Without ids, tiers are assumed
// independent: expected quality = sum over tiers of P(reach tier) * P(accepted and
// correct), the last tier contributing its plain accuracy (an approximation; escalated
// queries tend to be the harder ones, so it is optimistic).

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "runtime/resilience_settings.hpp"

namespace switchyard {

struct cascade_answer {
  std::string text;
  std::string finish_reason;           // "stop" or "length"
  std::vector<double> token_logprobs;  // empty when the provider returned none
  bool json_expected = false;
};

class confidence_scorer {
 public:
  virtual ~confidence_scorer() = default;
  /// Confidence in [0, 1].
  virtual double score(const cascade_answer& answer) const = 0;
};

class logprob_scorer final : public confidence_scorer {
 public:
  /// exp(mean logprob); 0 when there are none.
  double score(const cascade_answer& answer) const override;
};

class format_scorer final : public confidence_scorer {
 public:
  double score(const cascade_answer& answer) const override;
};

class judge_scorer final : public confidence_scorer {
 public:
  explicit judge_scorer(std::function<double(const cascade_answer&)> judge)
      : judge_(std::move(judge)) {}
  /// The judge's verdict, clamped to [0, 1].
  double score(const cascade_answer& answer) const override;

 private:
  std::function<double(const cascade_answer&)> judge_;
};

class default_scorer final : public confidence_scorer {
 public:
  /// Format checks first (a broken answer scores 0 whatever its logprobs), then
  /// logprobs when present, else 1.
  double score(const cascade_answer& answer) const override;
};

/// How a cascade stage's answer gets its confidence.
enum class scoring_method { format, logprobs, judge };
std::string to_string(scoring_method x);

/// Format checks decide alone when they fail (a broken answer scores 0 and is not
/// worth a judge call); logprobs when the provider returned them; the route's judge
/// when it has one and the stage is not the last (the last answer is final anyway);
/// format checks otherwise.
scoring_method choose_scoring(const cascade_answer& answer, bool route_has_judge, bool last_stage);

/// The judge's prompt: `prompt_template` with {question} and {answer} replaced (in one
/// pass, so an answer that contains "{question}" is not expanded).
std::string fill_judge_prompt(const std::string& prompt_template, const std::string& question,
                              const std::string& answer);

/// The judge's reply read strictly: one number in [0, 1] ("0.8", "1", ".5"), nothing
/// else around it but whitespace. Anything else (words, "8/10", "85%", 1.5) is not a
/// grade: `parsed` false and `problem` says why; callers treat it as low confidence.
struct judge_verdict {
  bool parsed = false;
  double score = 0;
  std::string problem;
};
judge_verdict parse_judge_verdict(const std::string& reply);

/// The cascade of one call. Not thread-safe.
class cascade {
 public:
  /// `tiers` cheapest first. A tier without a threshold (other than the last)
  /// accepts any answer.
  cascade(std::vector<std::string> tiers, const cascade_route_settings& settings);

  /// The tier to call now, or nullptr once an answer was accepted.
  const std::string* next_tier() const;
  /// Reports the confidence of the answer of next_tier(). True: accepted.
  bool report(double confidence);
  /// True when next_tier() is the cascade's last: its answer is accepted whatever it
  /// scores.
  bool at_last_tier() const { return pos_ + 1 >= tiers_.size(); }
  /// Index of the accepted tier (valid once next_tier() is null).
  size_t accepted_index() const { return pos_; }
  size_t escalations() const { return escalations_; }

 private:
  std::vector<std::string> tiers_;
  std::vector<double> thresholds_;
  size_t pos_ = 0;
  size_t escalations_ = 0;
  bool accepted_ = false;
};

struct labelled_outcome {
  std::string route;
  std::string tier;
  std::string id;  // optional: joins the records of one query across tiers
  double confidence = 0;
  bool correct = false;
  double cost = 0;
};

/// Parses JSONL: one object per non-empty line with route, tier (strings), confidence
/// (number in [0, 1]), correct (bool), cost (number >= 0), optional id. Every bad line
/// is reported as "<source>:<line>: <problem>".
struct outcomes_load_result {
  std::vector<labelled_outcome> records;
  std::vector<std::string> errors;
};
outcomes_load_result parse_outcomes_jsonl(const std::string& text, const std::string& source);

struct route_calibration {
  std::string route;
  std::vector<std::string> tiers;            // cascade order, cheapest first
  std::map<std::string, double> thresholds;  // every tier but the last
  bool joint = false;           // replayed per query (ids) rather than assuming independence
  size_t samples = 0;           // queries (joint) or records (independent)
  bool target_met = false;      // false: `quality` is the best reachable
  double quality = 0;           // expected share of correct final answers
  double cost = 0;              // expected cost per query
  double top_tier_quality = 0;  // calling only the last tier
  double top_tier_cost = 0;
};

struct calibration_result {
  std::vector<route_calibration> routes;  // sorted by route name
  std::vector<std::string> errors;        // e.g. a route with a single tier
};

/// `tier_order`: the config's tiers, cheapest first; empty: tiers ordered by their
/// mean cost in the data. Records of tiers not in a non-empty `tier_order` are errors.
calibration_result calibrate_thresholds(const std::vector<labelled_outcome>& outcomes,
                                        double target_quality,
                                        const std::vector<std::string>& tier_order = {});

/// Writes every route's thresholds into a config document (JSON text) at
/// resilience.cascade.<route>.thresholds, replacing that route's old thresholds and
/// keeping the rest of the document and its key order. The result is validated with
/// the config loader; on any problem returns false and sets `error` (nothing usable
/// in `out`). `source` names the document in messages.
bool write_thresholds_into_config(const std::string& config_text,
                                  const std::vector<route_calibration>& routes,
                                  const std::string& source, std::string& out, std::string& error);

}  // namespace switchyard
