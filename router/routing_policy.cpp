#include "router/routing_policy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "router/cost.hpp"

namespace switchyard {

namespace {

bool has_capability(const model_config& model, const std::string& capability) {
  return std::find(model.capabilities.begin(), model.capabilities.end(), capability) !=
         model.capabilities.end();
}

// string_view compares: a std::string against a literal is a library call with a strlen,
// and these run on every model call.
uint32_t latency_limit_ms(const latency_class_settings& s, std::string_view latency_class) {
  if (latency_class == "realtime") return s.realtime_ms;
  if (latency_class == "batch") return s.batch_ms;
  return s.interactive_ms;  // "interactive" and unset
}

struct verdict {
  candidate_filter first = candidate_filter::none;
  uint32_t failed = 0;  // bit per candidate_filter
  std::string detail;

  void fail(candidate_filter f, std::string why) {
    if (first == candidate_filter::none) {
      first = f;
      detail = std::move(why);
    }
    failed |= 1u << static_cast<unsigned>(f);
  }
  bool only(candidate_filter f) const { return failed == 1u << static_cast<unsigned>(f); }
};

// Runs every filter, so the outcome can tell "down but otherwise fine" (blocked) from
// "not allowed at all"; the trace shows the first filter that rejected the model.
verdict judge(const config& cfg, const model_config& m, const routing_input& in,
              const model_health& health, bool sensitive, double worst_usd) {
  const model_request& req = in.request;
  verdict v;
  if (sensitive && m.where == residency::cloud)
    v.fail(candidate_filter::compliance,
           fmt::format("{} data may not go to a cloud model", req.data_class));
  uint64_t needed = uint64_t{in.prompt_tokens} + req.max_tokens;
  if (needed > m.context_window)
    v.fail(candidate_filter::context_window,
           fmt::format("needs {} tokens, window {}", needed, m.context_window));
  for (const auto& cap : req.capabilities)
    if (!has_capability(m, cap)) {
      v.fail(candidate_filter::capability, "lacks " + cap);
      break;
    }
  if (!health.healthy(m)) v.fail(candidate_filter::health, "endpoint down");
  uint32_t limit = latency_limit_ms(cfg.router.latency, req.latency_class);
  double seen = health.observed_latency_ms(m);
  if (limit > 0 && seen > limit)
    v.fail(candidate_filter::latency,
           fmt::format("observed {:.0f} ms, {} allows {} ms",
                       seen, req.latency_class.empty() ? "interactive" : req.latency_class,
                       limit));
  if (in.budget.tokens_limited && needed > in.budget.tokens_left)
    v.fail(candidate_filter::budget,
           fmt::format("worst case {} tokens, {} left", needed, in.budget.tokens_left));
  else if (in.budget.usd_limited && worst_usd > in.budget.usd_left)
    v.fail(candidate_filter::budget,
           fmt::format("worst case ${:.6f}, ${:.6f} left", worst_usd, in.budget.usd_left));
  return v;
}

// Summarises why the models of one tier were all rejected, e.g. "budget, health".
std::string tier_rejections(const std::vector<candidate_note>& notes, const std::string& tier) {
  std::vector<std::string> reasons;
  for (const auto& n : notes) {
    if (n.model->tier != tier || n.filtered_by == candidate_filter::none) continue;
    std::string r = to_string(n.filtered_by);
    if (std::find(reasons.begin(), reasons.end(), r) == reasons.end()) reasons.push_back(r);
  }
  if (reasons.empty()) return "it has no models";
  std::string out;
  for (const auto& r : reasons) out += (out.empty() ? "" : ", ") + r;
  return out;
}

}  // namespace

const char* to_string(routing_outcome x) {
  switch (x) {
    case routing_outcome::routed:
      return "routed";
    case routing_outcome::blocked:
      return "blocked";
    case routing_outcome::budget_exhausted:
      return "budget_exhausted";
    case routing_outcome::no_model:
      return "no_model";
  }
  return "no_model";
}

bool is_sensitive(std::string_view data_class) {
  return data_class == "pii" || data_class == "health" || data_class == "financial" ||
         data_class == "private";
}

std::string_view latest_user_text(const std::vector<chat_message>& messages) {
  for (auto it = messages.rbegin(); it != messages.rend(); ++it)
    if (std::string_view{it->role} == "user") return it->content;
  return messages.empty() ? std::string_view{} : std::string_view{messages.back().content};
}

budget_note budget_left(const thread_usage& u) {
  budget_note b;
  if (u.limits.max_tokens > 0) {
    b.tokens_limited = true;
    uint64_t used = u.spent_tokens + u.reserved_tokens;
    b.tokens_left = used >= u.limits.max_tokens ? 0 : u.limits.max_tokens - used;
  }
  if (u.limits.max_cost_usd > 0) {
    b.usd_limited = true;
    b.usd_left = std::max(0.0, u.limits.max_cost_usd - u.spent_usd - u.reserved_usd);
  }
  return b;
}

routing_policy::routing_policy(std::shared_ptr<const config> cfg,
                               std::shared_ptr<const route_classifier> classifier)
    : cfg_(std::move(cfg)), classifier_(std::move(classifier)), rules_(cfg_->router.rules) {
  for (const auto& r : cfg_->router.routes) route_tier_rank_[r.name] = cfg_->tier_rank(r.tier);
  for (const auto& m : cfg_->models) model_tier_rank_.push_back(cfg_->tier_rank(m.tier));
}

bool routing_policy::consults_classifier(const routing_input& in) const {
  const model_request& req = in.request;
  if (!classifier_ || !req.route.empty() || !req.model.empty() || !req.tier.empty()) return false;
  rule_verdict rules = rules_.evaluate(in.text, req.metadata);
  return rules.route.empty() && rules.tier.empty();
}

routing_decision routing_policy::decide(const routing_input& in,
                                        const model_health& health) const {
  // One named result for every way out: returned without moving the trace (a dozen
  // strings and two vectors) on every call.
  routing_decision out;
  decide_into(in, health, out);
  return out;
}

// A decision as a fresh one is, its vectors' and strings' memory kept (decide into an
// earlier decision). Every field of routing_decision and decision_trace is reset here.
namespace {

void clear_keeping_memory(routing_decision& d) {
  d.outcome = routing_outcome::no_model;
  d.model = nullptr;
  d.target_rank = -1;
  d.route.clear();
  d.downgraded = false;
  d.message.clear();
  decision_trace& t = d.trace;
  t.outcome.clear();
  t.rules_fired.clear();
  if (t.classifier.used) t.classifier = classifier_note{};
  t.route.clear();
  t.route_source.clear();
  t.complexity = complexity_estimate{};
  t.data_class.clear();
  t.data_class_source.clear();
  t.latency_class.clear();
  t.target_tier.clear();
  t.tier_source.clear();
  t.budget = budget_note{};
  t.candidates.clear();
  t.chosen_model.clear();
  t.chosen_tier.clear();
  t.downgraded = false;
  t.note.clear();
}

}  // namespace

// A field added to either struct must be reset above (sizes on 64-bit libstdc++).
static_assert(sizeof(void*) != 8 || sizeof(std::string) != 32 || sizeof(decision_trace) == 616,
              "decision_trace changed: reset the new field in clear_keeping_memory");
static_assert(sizeof(void*) != 8 || sizeof(std::string) != 32 || sizeof(routing_decision) == 712,
              "routing_decision changed: reset the new field in clear_keeping_memory");

void routing_policy::decide(const routing_input& in, const model_health& health,
                            routing_decision& out) const {
  clear_keeping_memory(out);
  decide_into(in, health, out);
}

void routing_policy::decide_into(const routing_input& in, const model_health& health,
                                 routing_decision& out) const {
  const config& cfg = *cfg_;
  const model_request& req = in.request;
  decision_trace& t = out.trace;
  t.budget = in.budget;
  t.latency_class = req.latency_class;

  auto refuse = [&](routing_outcome outcome, std::string message) {
    out.outcome = outcome;
    out.message = std::move(message);
    t.outcome = to_string(outcome);
    t.note = out.message;
  };

  // Route: the caller's, a rule's, the classifier's when confident, or the default.
  rule_verdict rules = rules_.evaluate(in.text, req.metadata);
  t.rules_fired = std::move(rules.fired);
  if (!req.route.empty()) {
    t.route = req.route;
    t.route_source = "request";
  } else if (!rules.route.empty()) {
    t.route = rules.route;
    t.route_source = "rule:" + rules.route_rule;
  } else if (classifier_ && req.model.empty() && req.tier.empty() && rules.tier.empty()) {
    // Pinned or hinted requests skip the classifier: its answer could not change them.
    route_guess g = in.guess != nullptr ? *in.guess : classifier_->classify(in.text);
    classifier_note& c = t.classifier;
    c.used = true;
    c.encoder = std::move(g.encoder);
    c.route = g.route;
    c.confidence = g.confidence;
    c.runner_up = g.runner_up;
    c.runner_up_confidence = g.runner_up_confidence;
    c.threshold = cfg.router.threshold;
    c.top = std::move(g.top);
    if (!g.route.empty() && g.confidence >= cfg.router.threshold) {
      t.route = g.route;
      t.route_source = "classifier";
    }
  }
  if (t.route.empty() && !cfg.router.default_route.empty()) {
    t.route = cfg.router.default_route;
    t.route_source = "default";
  }
  if (t.route.empty()) t.route_source = "none";
  out.route = t.route;

  // Data class: the caller's declaration, else a rule's.
  if (!req.data_class.empty()) {
    t.data_class = req.data_class;
    t.data_class_source = "request";
  } else if (!rules.data_class.empty()) {
    t.data_class = rules.data_class;
    t.data_class_source = "rule:" + rules.data_class_rule;
  }
  const std::string& data_class = t.data_class;
  const bool sensitive = is_sensitive(data_class);

  // Target tier.
  const int top_rank = static_cast<int>(cfg.tiers.size()) - 1;
  const model_config* pinned = nullptr;
  int target = 0;
  t.complexity = estimate_complexity(in.text, in.prompt_tokens, cfg.router.complexity);
  if (!req.model.empty()) {
    pinned = cfg.find_model(req.model);
    if (pinned == nullptr)
      return refuse(routing_outcome::no_model, fmt::format("no model '{}' in the catalog", req.model));
    target = model_tier_rank_[static_cast<size_t>(pinned - cfg.models.data())];
    t.tier_source = "model_pin";
  } else if (!req.tier.empty() || !rules.tier.empty()) {
    const std::string& tier = !req.tier.empty() ? req.tier : rules.tier;
    target = cfg.tier_rank(tier);
    if (target < 0)
      return refuse(routing_outcome::no_model, fmt::format("no tier '{}' in the catalog", tier));
    if (!req.tier.empty())
      t.tier_source = "request";
    else
      t.tier_source = "rule:" + rules.tier_rule;
  } else {
    auto it = route_tier_rank_.find(t.route);
    int base = it != route_tier_rank_.end() ? std::max(it->second, 0) : 0;
    target = std::min(top_rank, base + static_cast<int>(t.complexity.tier_steps));
    t.tier_source = it != route_tier_rank_.end() ? "route" : "lowest";
    if (t.complexity.tier_steps > 0) t.tier_source += "+complexity";
  }
  if (top_rank < 0) return refuse(routing_outcome::no_model, "the catalog has no tiers");
  t.target_tier = cfg.tiers[static_cast<size_t>(target)];
  out.target_rank = target;

  // Judge every candidate.
  struct eligible {
    const model_config* model;
    int rank;
    double usd;
    double latency;
    size_t order;
  };
  // Preference: the target tier, then lower tiers nearest first, then higher ones.
  auto preference = [target](int rank) {
    return rank == target ? 0 : rank < target ? target - rank : 1000 + rank - target;
  };
  auto better = [&](const eligible& a, const eligible& b) {
    int pa = preference(a.rank), pb = preference(b.rank);
    if (pa != pb) return pa < pb;
    if (a.usd != b.usd) return a.usd < b.usd;
    if (a.latency != b.latency) return a.latency < b.latency;
    return a.order < b.order;
  };
  // The best eligible model so far (the first of equals), kept as the loop goes: no list.
  eligible best_seen{};
  const eligible* best = nullptr;
  bool some_down_only = false, some_budget_only = false;
  std::string down_provider;
  std::string budget_detail;  // of the first model only the budget kept out
  t.candidates.reserve(pinned ? 1 : cfg.models.size());
  for (size_t i = 0; i < cfg.models.size(); ++i) {
    const model_config& m = cfg.models[i];
    if (pinned != nullptr && &m != pinned) continue;
    double usd = call_cost_usd(m, in.prompt_tokens, req.max_tokens);
    verdict v = judge(cfg, m, in, health, sensitive, usd);
    t.candidates.push_back({&m, v.first, std::move(v.detail), usd});
    if (v.failed == 0) {
      double seen = health.observed_latency_ms(m);
      eligible e{&m, model_tier_rank_[i], usd,
                 seen < 0 ? std::numeric_limits<double>::infinity() : seen, i};
      if (best == nullptr || better(e, best_seen)) {
        best_seen = e;
        best = &best_seen;
      }
    } else if (v.only(candidate_filter::health)) {
      if (!some_down_only) down_provider = m.provider;
      some_down_only = true;
    } else if (v.only(candidate_filter::budget)) {
      if (!some_budget_only) budget_detail = t.candidates.back().detail;
      some_budget_only = true;
    }
  }

  if (best == nullptr) {
    if (some_down_only)
      return refuse(routing_outcome::blocked,
                    fmt::format("every model allowed for this request is down; waiting for "
                                "provider '{}'",
                                down_provider));
    if (some_budget_only)
      return refuse(routing_outcome::budget_exhausted,
                    fmt::format("{} budget of thread '{}' cannot cover any model that could "
                                "serve this request ({})",
                                budget_detail.find("tokens") != std::string::npos ? "token" : "cost",
                                req.ctx.thread_id, budget_detail));
    if (pinned != nullptr)
      return refuse(routing_outcome::no_model,
                    fmt::format("model '{}' cannot serve this request: {}", pinned->id,
                                t.candidates.front().detail));
    return refuse(routing_outcome::no_model,
                  sensitive ? fmt::format("no local or private model can serve this {} request",
                                          data_class)
                            : std::string("no model in the catalog can serve this request"));
  }

  out.outcome = routing_outcome::routed;
  out.model = best->model;
  t.outcome = "routed";
  t.chosen_model = best->model->id;
  t.chosen_tier = best->model->tier;
  if (best->rank < target) {
    out.downgraded = true;
    t.downgraded = true;
    t.note = fmt::format("downgraded from {}: {}", t.target_tier,
                         tier_rejections(t.candidates, t.target_tier));
  } else if (best->rank > target) {
    t.note = fmt::format("raised from {}: {}", t.target_tier,
                         tier_rejections(t.candidates, t.target_tier));
  }
}

}  // namespace switchyard
