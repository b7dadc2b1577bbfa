#include "router/cascade.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "runtime/config.hpp"

namespace switchyard {

namespace {

double clamp01(double x) {
  if (std::isnan(x)) return 0;
  return std::min(1.0, std::max(0.0, x));
}

bool blank(const std::string& text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

double logprob_scorer::score(const cascade_answer& answer) const {
  if (answer.token_logprobs.empty()) return 0;
  double sum = 0;
  for (double lp : answer.token_logprobs) sum += lp;
  return clamp01(std::exp(sum / static_cast<double>(answer.token_logprobs.size())));
}

double format_scorer::score(const cascade_answer& answer) const {
  if (blank(answer.text)) return 0;
  if (answer.finish_reason == "length") return 0;
  if (answer.json_expected && !nlohmann::json::accept(answer.text)) return 0;
  return 1;
}

double judge_scorer::score(const cascade_answer& answer) const {
  return clamp01(judge_(answer));
}

double default_scorer::score(const cascade_answer& answer) const {
  if (format_scorer().score(answer) == 0) return 0;
  if (!answer.token_logprobs.empty()) return logprob_scorer().score(answer);
  return 1;
}

std::string to_string(scoring_method x) {
  switch (x) {
    case scoring_method::format:
      return "format";
    case scoring_method::logprobs:
      return "logprobs";
    case scoring_method::judge:
      return "judge";
  }
  return "format";
}

scoring_method choose_scoring(const cascade_answer& answer, bool route_has_judge, bool last_stage) {
  if (format_scorer().score(answer) == 0) return scoring_method::format;
  if (!answer.token_logprobs.empty()) return scoring_method::logprobs;
  if (route_has_judge && !last_stage) return scoring_method::judge;
  return scoring_method::format;
}

std::string fill_judge_prompt(const std::string& prompt_template, const std::string& question,
                              const std::string& answer) {
  static const std::string q = "{question}", a = "{answer}";
  std::string out;
  out.reserve(prompt_template.size() + question.size() + answer.size());
  size_t i = 0;
  while (i < prompt_template.size()) {
    if (prompt_template.compare(i, q.size(), q) == 0) {
      out += question;
      i += q.size();
    } else if (prompt_template.compare(i, a.size(), a) == 0) {
      out += answer;
      i += a.size();
    } else {
      out += prompt_template[i++];
    }
  }
  return out;
}

judge_verdict parse_judge_verdict(const std::string& reply) {
  judge_verdict v;
  size_t begin = 0, end = reply.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(reply[begin])) != 0) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(reply[end - 1])) != 0) --end;
  std::string text = reply.substr(begin, end - begin);
  // Digits, at most one '.', at least one digit: no sign, exponent, percent or words.
  size_t digits = 0, dots = 0;
  bool only_number_chars = !text.empty();
  for (char ch : text) {
    if (std::isdigit(static_cast<unsigned char>(ch)) != 0)
      ++digits;
    else if (ch == '.')
      ++dots;
    else
      only_number_chars = false;
  }
  if (!only_number_chars || digits == 0 || dots > 1 || text.size() > 32) {
    std::string shown = text.size() > 40 ? text.substr(0, 40) + "..." : text;
    v.problem = "the judge's reply is not a number between 0 and 1: \"" + shown + "\"";
    return v;
  }
  double x = std::strtod(text.c_str(), nullptr);
  if (!(x >= 0 && x <= 1)) {
    v.problem = "the judge's grade " + text + " is outside 0..1";
    return v;
  }
  v.parsed = true;
  v.score = x;
  return v;
}

cascade::cascade(std::vector<std::string> tiers, const cascade_route_settings& settings)
    : tiers_(std::move(tiers)) {
  for (const auto& t : tiers_) {
    auto it = settings.thresholds.find(t);
    thresholds_.push_back(it == settings.thresholds.end() ? 0.0 : it->second);
  }
}

const std::string* cascade::next_tier() const {
  if (accepted_ || pos_ >= tiers_.size()) return nullptr;
  return &tiers_[pos_];
}

bool cascade::report(double confidence) {
  if (accepted_ || pos_ >= tiers_.size()) return accepted_;
  if (pos_ + 1 == tiers_.size() || confidence >= thresholds_[pos_]) {
    accepted_ = true;
    return true;
  }
  ++pos_;
  ++escalations_;
  return false;
}

outcomes_load_result parse_outcomes_jsonl(const std::string& text, const std::string& source) {
  outcomes_load_result out;
  std::istringstream lines(text);
  std::string line;
  size_t number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (blank(line)) continue;
    std::string where = source + ":" + std::to_string(number) + ": ";
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      out.errors.push_back(where + "invalid JSON at byte " + std::to_string(e.byte));
      continue;
    }
    if (!j.is_object()) {
      out.errors.push_back(where + "must be a JSON object");
      continue;
    }
    labelled_outcome r;
    bool ok = true;
    auto fail = [&](const std::string& problem) {
      out.errors.push_back(where + problem);
      ok = false;
    };
    for (const auto& item : j.items()) {
      const std::string& k = item.key();
      if (k != "route" && k != "tier" && k != "id" && k != "confidence" && k != "correct" &&
          k != "cost") {
        fail(k + ": unknown key (expected route, tier, confidence, correct, cost, id)");
      }
    }
    for (const char* key : {"route", "tier"}) {
      if (!j.contains(key) || !j[key].is_string() || j[key].get<std::string>().empty()) {
        fail(std::string(key) + ": must be a non-empty string");
      }
    }
    if (j.contains("id")) {
      if (j["id"].is_string()) {
        r.id = j["id"].get<std::string>();
      } else if (j["id"].is_number_integer()) {
        r.id = j["id"].dump();
      } else {
        fail("id: must be a string or an integer");
      }
    }
    if (!j.contains("confidence") || !j["confidence"].is_number() ||
        !(j["confidence"].get<double>() >= 0 && j["confidence"].get<double>() <= 1)) {
      fail("confidence: must be a number from 0 to 1");
    }
    if (!j.contains("correct") || !j["correct"].is_boolean())
      fail("correct: must be true or false");
    if (!j.contains("cost") || !j["cost"].is_number() || !(j["cost"].get<double>() >= 0) ||
        !std::isfinite(j["cost"].get<double>())) {
      fail("cost: must be a finite number >= 0");
    }
    if (!ok) continue;
    r.route = j["route"].get<std::string>();
    r.tier = j["tier"].get<std::string>();
    r.confidence = j["confidence"].get<double>();
    r.correct = j["correct"].get<bool>();
    r.cost = j["cost"].get<double>();
    out.records.push_back(std::move(r));
  }
  if (out.records.empty() && out.errors.empty()) out.errors.push_back(source + ": no records");
  return out;
}

namespace {

struct tier_sample {
  double confidence;
  bool correct;
  double cost;
};

// Candidate thresholds of one tier: 0 (accept everything) and every observed
// confidence, thinned to at most `limit` values by quantile.
std::vector<double> candidate_thresholds(std::vector<double> confidences, size_t limit) {
  confidences.push_back(0);
  std::sort(confidences.begin(), confidences.end());
  confidences.erase(std::unique(confidences.begin(), confidences.end()), confidences.end());
  if (confidences.size() <= limit) return confidences;
  std::vector<double> thinned;
  for (size_t i = 0; i < limit; ++i) {
    thinned.push_back(confidences[i * (confidences.size() - 1) / (limit - 1)]);
  }
  thinned.erase(std::unique(thinned.begin(), thinned.end()), thinned.end());
  return thinned;
}

struct evaluation {
  double quality = 0;
  double cost = 0;
};

// Calls `visit` with every combination of one candidate per tier.
template <typename Visit>
void for_each_combination(const std::vector<std::vector<double>>& candidates, Visit visit) {
  std::vector<size_t> at(candidates.size(), 0);
  std::vector<double> current(candidates.size());
  for (;;) {
    for (size_t i = 0; i < at.size(); ++i) current[i] = candidates[i][at[i]];
    visit(current);
    size_t i = 0;
    while (i < at.size() && ++at[i] == candidates[i].size()) at[i++] = 0;
    if (i == at.size()) return;
  }
}

}  // namespace

calibration_result calibrate_thresholds(const std::vector<labelled_outcome>& outcomes,
                                        double target_quality,
                                        const std::vector<std::string>& tier_order) {
  calibration_result result;
  std::map<std::string, std::vector<const labelled_outcome*>> by_route;
  for (const auto& r : outcomes) by_route[r.route].push_back(&r);

  for (const auto& [route, records] : by_route) {
    // Tiers of this route, cascade order.
    std::map<std::string, std::vector<tier_sample>> per_tier;
    bool all_have_ids = true;
    for (const auto* r : records) {
      per_tier[r->tier].push_back({r->confidence, r->correct, r->cost});
      all_have_ids = all_have_ids && !r->id.empty();
    }
    std::vector<std::string> tiers;
    bool bad_tier = false;
    if (!tier_order.empty()) {
      for (const auto& [tier, samples] : per_tier) {
        if (std::find(tier_order.begin(), tier_order.end(), tier) == tier_order.end()) {
          result.errors.push_back("route " + route + ": tier '" + tier +
                                  "' is not one of the config's tiers");
          bad_tier = true;
        }
      }
      for (const auto& t : tier_order) {
        if (per_tier.count(t) != 0) tiers.push_back(t);
      }
    } else {
      std::vector<std::pair<double, std::string>> by_cost;
      for (const auto& [tier, samples] : per_tier) {
        double sum = 0;
        for (const auto& s : samples) sum += s.cost;
        by_cost.emplace_back(sum / static_cast<double>(samples.size()), tier);
      }
      std::sort(by_cost.begin(), by_cost.end());
      for (const auto& entry : by_cost) tiers.push_back(entry.second);
    }
    if (bad_tier) continue;
    if (tiers.size() < 2) {
      result.errors.push_back("route " + route +
                              ": needs outcomes from at least two tiers to calibrate a cascade, "
                              "got only " +
                              tiers.front());
      continue;
    }
    const size_t n = tiers.size();
    size_t grid =
        n - 1 <= 2 ? 64
                   : std::max<size_t>(
                         4, static_cast<size_t>(std::pow(2e5, 1.0 / static_cast<double>(n - 1))));

    route_calibration cal;
    cal.route = route;
    cal.tiers = tiers;
    cal.joint = all_have_ids;
    std::function<evaluation(const std::vector<double>&)> evaluate;
    std::vector<std::vector<double>> candidates(n - 1);

    // Joint replay: every query that has a record for each tier.
    std::vector<std::vector<tier_sample>> queries;
    // Independent model: per tier, samples sorted by confidence for counting.
    std::vector<std::vector<tier_sample>> sorted(n);
    // Independent model: per tier, correct answers at or above each sorted position,
    // so a threshold's acceptance costs one binary search. Lives as long as `evaluate`.
    std::vector<std::vector<size_t>> correct_from(n);
    if (all_have_ids) {
      std::map<std::string, std::map<std::string, tier_sample>> by_id;
      for (const auto* r : records) by_id[r->id][r->tier] = {r->confidence, r->correct, r->cost};
      for (const auto& [id, tier_map] : by_id) {
        if (tier_map.size() != n) continue;
        std::vector<tier_sample> q;
        for (const auto& t : tiers) q.push_back(tier_map.at(t));
        queries.push_back(std::move(q));
      }
      if (queries.empty()) {
        result.errors.push_back("route " + route + ": no query id has an outcome for every tier (" +
                                std::to_string(by_id.size()) + " ids)");
        continue;
      }
      cal.samples = queries.size();
      for (size_t t = 0; t + 1 < n; ++t) {
        std::vector<double> confs;
        for (const auto& q : queries) confs.push_back(q[t].confidence);
        candidates[t] = candidate_thresholds(confs, grid);
      }
      evaluate = [&](const std::vector<double>& thresholds) {
        evaluation e;
        for (const auto& q : queries) {
          for (size_t t = 0; t < n; ++t) {
            e.cost += q[t].cost;
            if (t + 1 == n || q[t].confidence >= thresholds[t]) {
              e.quality += q[t].correct ? 1 : 0;
              break;
            }
          }
        }
        e.quality /= static_cast<double>(queries.size());
        e.cost /= static_cast<double>(queries.size());
        return e;
      };
    } else {
      for (size_t t = 0; t < n; ++t) {
        sorted[t] = per_tier[tiers[t]];
        cal.samples += sorted[t].size();
        std::sort(sorted[t].begin(), sorted[t].end(),
                  [](const auto& a, const auto& b) { return a.confidence < b.confidence; });
      }
      for (size_t t = 0; t + 1 < n; ++t) {
        std::vector<double> confs;
        for (const auto& s : sorted[t]) confs.push_back(s.confidence);
        candidates[t] = candidate_thresholds(confs, grid);
      }
      // Per tier: mean cost, and for a threshold, P(accept) and P(accept and correct).
      std::vector<double> mean_cost(n), accuracy(n);
      for (size_t t = 0; t < n; ++t) {
        for (const auto& s : sorted[t]) {
          mean_cost[t] += s.cost;
          accuracy[t] += s.correct ? 1 : 0;
        }
        mean_cost[t] /= static_cast<double>(sorted[t].size());
        accuracy[t] /= static_cast<double>(sorted[t].size());
      }
      for (size_t t = 0; t < n; ++t) {
        correct_from[t].assign(sorted[t].size() + 1, 0);
        for (size_t i = sorted[t].size(); i-- > 0;) {
          correct_from[t][i] = correct_from[t][i + 1] + (sorted[t][i].correct ? 1 : 0);
        }
      }
      evaluate = [&, mean_cost, accuracy](const std::vector<double>& thresholds) {
        evaluation e;
        double reach = 1;
        for (size_t t = 0; t < n; ++t) {
          e.cost += reach * mean_cost[t];
          if (t + 1 == n) {
            e.quality += reach * accuracy[t];
            break;
          }
          const auto& s = sorted[t];
          size_t first = static_cast<size_t>(
              std::lower_bound(s.begin(), s.end(), thresholds[t],
                               [](const tier_sample& a, double x) { return a.confidence < x; }) -
              s.begin());
          double size = static_cast<double>(s.size());
          double accept = static_cast<double>(s.size() - first) / size;
          e.quality += reach * static_cast<double>(correct_from[t][first]) / size;
          reach *= 1 - accept;
        }
        return e;
      };
    }

    // The top tier alone: every threshold above any confidence... which the grid does
    // not contain, so compute it directly.
    if (all_have_ids) {
      for (const auto& q : queries) {
        cal.top_tier_quality += q[n - 1].correct ? 1 : 0;
        cal.top_tier_cost += q[n - 1].cost;
      }
      cal.top_tier_quality /= static_cast<double>(queries.size());
      cal.top_tier_cost /= static_cast<double>(queries.size());
    } else {
      for (const auto& s : sorted[n - 1]) {
        cal.top_tier_quality += s.correct ? 1 : 0;
        cal.top_tier_cost += s.cost;
      }
      cal.top_tier_quality /= static_cast<double>(sorted[n - 1].size());
      cal.top_tier_cost /= static_cast<double>(sorted[n - 1].size());
    }

    constexpr double eps = 1e-12;
    bool found = false;
    evaluation best, best_quality{-1, 0};
    std::vector<double> best_thresholds, best_quality_thresholds;
    for_each_combination(candidates, [&](const std::vector<double>& th) {
      evaluation e = evaluate(th);
      if (e.quality > best_quality.quality + eps ||
          (std::abs(e.quality - best_quality.quality) <= eps && e.cost < best_quality.cost)) {
        best_quality = e;
        best_quality_thresholds = th;
      }
      if (e.quality + eps < target_quality) return;
      if (!found || e.cost < best.cost - eps ||
          (std::abs(e.cost - best.cost) <= eps && e.quality > best.quality)) {
        found = true;
        best = e;
        best_thresholds = th;
      }
    });
    cal.target_met = found;
    const auto& chosen = found ? best_thresholds : best_quality_thresholds;
    const auto& chosen_eval = found ? best : best_quality;
    for (size_t t = 0; t + 1 < n; ++t) cal.thresholds[tiers[t]] = chosen[t];
    cal.quality = chosen_eval.quality;
    cal.cost = chosen_eval.cost;
    result.routes.push_back(std::move(cal));
  }
  return result;
}

bool write_thresholds_into_config(const std::string& config_text,
                                  const std::vector<route_calibration>& routes,
                                  const std::string& source, std::string& out, std::string& error) {
  nlohmann::ordered_json doc;
  try {
    doc = nlohmann::ordered_json::parse(config_text);
  } catch (const nlohmann::json::parse_error& e) {
    error = source + ": invalid JSON at byte " + std::to_string(e.byte);
    return false;
  }
  if (!doc.is_object()) {
    error = source + ": (root): must be an object";
    return false;
  }
  auto& resilience = doc["resilience"];
  if (resilience.is_null()) resilience = nlohmann::ordered_json::object();
  if (!resilience.is_object()) {
    error = source + ": resilience: must be an object";
    return false;
  }
  auto& cascade_section = resilience["cascade"];
  if (cascade_section.is_null()) cascade_section = nlohmann::ordered_json::object();
  if (!cascade_section.is_object()) {
    error = source + ": resilience.cascade: must be an object";
    return false;
  }
  for (const auto& r : routes) {
    auto& route = cascade_section[r.route];
    if (!route.is_object()) route = nlohmann::ordered_json::object();
    nlohmann::ordered_json thresholds = nlohmann::ordered_json::object();
    for (const auto& tier : r.tiers) {
      auto it = r.thresholds.find(tier);
      if (it != r.thresholds.end()) thresholds[tier] = it->second;
    }
    route["thresholds"] = std::move(thresholds);
  }
  std::string text = doc.dump(2) + "\n";
  auto check = parse_config_text(text, source);
  if (!check.ok()) {
    error = check.message();
    return false;
  }
  out = std::move(text);
  return true;
}

}  // namespace switchyard
