#include "router/fallback_chain.hpp"

#include <algorithm>
#include <chrono>

namespace switchyard {

namespace {

fallback_candidate candidate_of(const config& cfg, const model_config& m) {
  return fallback_candidate{endpoint_id{m.id, m.provider, ""}, m.tier, cfg.tier_rank(m.tier),
                            m.context_window};
}

double price_of(const model_config& m) {
  return m.price_in_per_mtok + m.price_out_per_mtok;
}

std::string seconds_text(clock_time t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t).count();
  return std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + " s";
}

}  // namespace

std::string to_string(chain_result::status x) {
  switch (x) {
    case chain_result::pending:
      return "pending";
    case chain_result::success:
      return "success";
    case chain_result::blocked:
      return "blocked";
    case chain_result::failed:
      return "failed";
  }
  return "pending";
}

candidate_plan plan_route(const config& cfg, const std::vector<std::string>& model_ids) {
  candidate_plan plan;
  if (model_ids.empty()) {
    plan.error = "route has no models";
    return plan;
  }
  for (const auto& id : model_ids) {
    const model_config* m = cfg.find_model(id);
    if (m == nullptr) {
      plan.error = "route names model '" + id + "', which is not in the catalog";
      plan.candidates.clear();
      return plan;
    }
    plan.candidates.push_back(candidate_of(cfg, *m));
  }
  plan.requested_tier_rank = plan.candidates.front().tier_rank;
  return plan;
}

candidate_plan plan_from_catalog(const config& cfg, const std::string& primary) {
  candidate_plan plan;
  const model_config* first = cfg.find_model(primary);
  if (first == nullptr) {
    plan.error = "no model '" + primary + "' in the catalog";
    return plan;
  }
  plan.candidates.push_back(candidate_of(cfg, *first));
  plan.requested_tier_rank = cfg.tier_rank(first->tier);

  std::vector<const model_config*> same_tier, lower_tier;
  for (const auto& m : cfg.models) {
    if (m.id == first->id) continue;
    if (m.tier == first->tier) same_tier.push_back(&m);
    if (cfg.tier_rank(m.tier) == plan.requested_tier_rank - 1) lower_tier.push_back(&m);
  }
  // Another provider is the better fallback: the primary's provider may be what failed.
  std::stable_sort(same_tier.begin(), same_tier.end(), [&](auto* a, auto* b) {
    bool a_other = a->provider != first->provider, b_other = b->provider != first->provider;
    if (a_other != b_other) return a_other;
    return price_of(*a) < price_of(*b);
  });
  std::stable_sort(lower_tier.begin(), lower_tier.end(),
                   [](auto* a, auto* b) { return price_of(*a) < price_of(*b); });
  for (auto* m : same_tier) plan.candidates.push_back(candidate_of(cfg, *m));
  for (auto* m : lower_tier) plan.candidates.push_back(candidate_of(cfg, *m));
  return plan;
}

fallback_chain::fallback_chain(std::vector<fallback_candidate> candidates, int requested_tier_rank,
                               breaker_registry* breakers, const retry_settings& retry,
                               clock_time start, uint64_t seed)
    : candidates_(std::move(candidates)),
      breaker_cache_(candidates_.size(), nullptr),
      requested_tier_rank_(requested_tier_rank),
      breakers_(breakers),
      retry_(retry, start, seed) {
  if (candidates_.empty()) {
    result_.what = chain_result::failed;
    result_.error_kind = "no_model";
    result_.reason = "no candidate models";
  }
}

shared_breaker* fallback_chain::breaker_of(size_t i) {
  if (candidates_[i].per_key) return attempt_breaker_;
  if (breakers_ == nullptr) return nullptr;
  if (breaker_cache_[i] == nullptr) breaker_cache_[i] = &breakers_->get(candidates_[i].endpoint);
  return breaker_cache_[i];
}

void fallback_chain::move_on(const std::string& why, bool heals_with_time) {
  if (!log_.empty()) log_ += "; ";
  log_ += candidates_[pos_].endpoint.model + ": " + why;
  any_heals_with_time_ = any_heals_with_time_ || heals_with_time;
  ++pos_;
  pending_delay_ = clock_time{0};
  retry_.next_endpoint();
}

void fallback_chain::finish_exhausted() {
  if (any_heals_with_time_) {
    result_.what = chain_result::blocked;
    result_.retry_in = soonest_admit_ == clock_time::max() ? clock_time{0} : soonest_admit_;
    result_.reason = "every candidate is down: " + log_;
  } else {
    result_.what = chain_result::failed;
    result_.error_kind = last_kind_.empty() ? "no_model" : last_kind_;
    result_.reason = "no candidate can serve the request: " + log_;
  }
}

chain_attempt fallback_chain::next_attempt(clock_time now) {
  if (done()) return {};
  if (in_flight_) return {};  // report() first; a second call would double-count
  if (pending_delay_ > clock_time{0}) {
    chain_attempt a;
    a.what = chain_attempt::wait;
    a.delay = pending_delay_;
    pending_delay_ = clock_time{0};
    return a;
  }
  if (!retry_.within_time_budget(now)) {
    any_heals_with_time_ = true;
    if (!log_.empty()) log_ += "; ";
    log_ += "request time budget spent";
    finish_exhausted();
    return {};
  }
  while (pos_ < candidates_.size()) {
    const fallback_candidate& c = candidates_[pos_];
    if (c.context_window < min_context_) {
      move_on("context window " + std::to_string(c.context_window) + " too small", false);
      continue;
    }
    attempt_breaker_ = nullptr;
    in_flight_probe_ = false;
    if (shared_breaker* b = c.per_key ? nullptr : breaker_of(pos_)) {
      breaker_admission admission = b->admit(now);
      if (!admission.allowed) {
        soonest_admit_ = std::min(soonest_admit_, admission.retry_in);
        move_on("breaker open (retry in " + seconds_text(admission.retry_in) + ")", true);
        continue;
      }
      in_flight_probe_ = admission.probe;
    }
    in_flight_ = true;
    ++result_.attempts;
    chain_attempt a;
    a.what = chain_attempt::call;
    a.candidate = pos_;
    a.probe = in_flight_probe_;
    return a;
  }
  finish_exhausted();
  return {};
}

void fallback_chain::adopt_first_attempt(bool probe) {
  if (done() || in_flight_ || pos_ != 0 || result_.attempts != 0) return;
  attempt_breaker_ = nullptr;
  in_flight_probe_ = probe;
  in_flight_ = true;
  ++result_.attempts;
}

void fallback_chain::skip(const std::string& why, clock_time now, bool report_failure,
                          bool heals_with_time, clock_time retry_in) {
  if (!in_flight_ || done()) return;
  in_flight_ = false;
  if (shared_breaker* b = breaker_of(pos_)) {
    // Without a failure to report there is no evidence either way: a probe's slot then
    // stays taken until probe_timeout_ms, which only delays the next probe.
    if (report_failure) b->report(call_outcome::failure, now, in_flight_probe_);
  }
  in_flight_probe_ = false;
  if (retry_in > clock_time{0}) soonest_admit_ = std::min(soonest_admit_, retry_in);
  move_on(why, heals_with_time);
}

void fallback_chain::report(const model_error& error, clock_time now, bool semantic_failure) {
  if (!in_flight_ || done()) return;
  in_flight_ = false;
  std::string kind = error.kind;
  if (kind.empty() && semantic_failure) kind = "bad_response";
  if (shared_breaker* b = breaker_of(pos_)) {
    call_outcome outcome;
    if (breaker_outcome_for(kind, outcome)) {
      b->report(outcome, now, in_flight_probe_);
    } else if (in_flight_probe_) {
      // A probe answered with something that says nothing about health (a 429, a bad
      // request): the endpoint is reachable, which is what the probe asks.
      b->report(call_outcome::success, now, true);
    }
  }
  in_flight_probe_ = false;
  const fallback_candidate& c = candidates_[pos_];
  if (kind.empty()) {
    result_.what = chain_result::success;
    result_.candidate = pos_;
    result_.downgraded = c.tier_rank < requested_tier_rank_;
    if (result_.downgraded) {
      result_.reason = "answered by tier " + c.tier + " because " +
                       (log_.empty() ? std::string("higher candidates failed") : log_);
    }
    return;
  }
  last_kind_ = kind;
  retry_decision d = retry_.on_error(kind, error.retry_after_ms, now);
  switch (d.what) {
    case retry_decision::retry_same:
      pending_delay_ = d.delay;
      return;
    case retry_decision::exhausted:
      move_on(kind + " after " + std::to_string(retry_.attempts()) + " attempt(s)", true);
      return;
    case retry_decision::larger_window:
      min_context_ = std::max(min_context_, c.context_window + 1);
      move_on("context_length at window " + std::to_string(c.context_window), false);
      return;
    case retry_decision::next_candidate:
      move_on(kind, false);
      return;
    case retry_decision::fail:
      result_.what = chain_result::failed;
      result_.error_kind = kind;
      result_.reason = c.endpoint.model + ": " + kind +
                       (error.message.empty() ? "" : " (" + error.message + ")") +
                       " is not retriable";
      return;
  }
}

}  // namespace switchyard
