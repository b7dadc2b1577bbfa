#pragma once
// The routing policy: which catalog model serves one model call, and why. A plain
// class, no CAF: the router actor (router/model_service.cpp) asks it, tests ask it
// directly. The order, as the product promises:
//   route      explicit request route > rules > classifier (>= threshold) > default
//   tier       pinned model > explicit tier hint > rule > the route's tier raised by
//              the complexity estimate (lowest tier when there is no route)
//   filters    (a) compliance: pii, health, financial or private data only on local or
//              private models, never anywhere else; (b) context window and required
//              capabilities; (c) health; (d) latency class; (e) budget left on the thread
//   choice     cheapest eligible model (worst-case cost of this request) in the target
//              tier, ties by observed latency then catalog order; if the target tier
//              has none, the nearest lower tier (a downgrade, flagged), then the nearest
//              higher one
// Nothing eligible: `blocked` when a model would serve but its endpoint is down (the
// run waits for it, it never goes to a model it must not use), `budget_exhausted`
// when only money stops it, `no_model` otherwise. Every decision carries a trace.

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "router/decision_trace.hpp"
#include "router/routing_rules.hpp"
#include "router/text_encoder.hpp"
#include "runtime/budget_ledger.hpp"
#include "runtime/config.hpp"
#include "runtime/messages.hpp"

namespace switchyard {

/// What an intent classifier says about a text. An empty `route` means it has no
/// opinion at all; below-threshold confidence is the policy's business.
struct route_guess {
  std::string route;
  double confidence = 0;
  std::string runner_up;
  double runner_up_confidence = 0;
  std::vector<std::pair<std::string, double>> top;  // best first, a few entries
  /// What the features came from, for the trace ("embeddings ...", or TF-IDF and why
  /// the embeddings were not used); empty for classifiers with one encoder.
  std::string encoder;
};

/// The seam for intent classifiers (in-process linear models, an external encoder).
/// Implementations are immutable after construction and safe to call concurrently.
class route_classifier {
 public:
  virtual ~route_classifier() = default;
  virtual route_guess classify(std::string_view text) const = 0;
  /// The encoder of the classifier's features, which the response cache reuses for
  /// its vectors; null when there is none to share.
  virtual std::shared_ptr<const text_encoder> features() const { return nullptr; }
};

/// What the policy knows about endpoints at decision time. Breakers (resilience)
/// provide `healthy`; the router actor feeds observed latencies.
class model_health {
 public:
  virtual ~model_health() = default;
  virtual bool healthy(const model_config& model) const = 0;
  /// Typical latency seen for the model in ms, or a negative value when unknown.
  virtual double observed_latency_ms(const model_config& model) const = 0;
};

/// Every endpoint healthy, no latency known.
class assume_healthy final : public model_health {
 public:
  bool healthy(const model_config&) const override { return true; }
  double observed_latency_ms(const model_config&) const override { return -1; }
};

struct routing_input {
  const model_request& request;
  std::string_view text;  // the latest user message: what rules and classifier read
  uint32_t prompt_tokens = 0;
  budget_note budget;  // what the thread has left
  /// The classifier's answer when the caller already has it (the model service got
  /// the embedding asynchronously); null: the policy asks the classifier.
  const route_guess* guess = nullptr;
};

enum class routing_outcome : uint8_t { routed, blocked, budget_exhausted, no_model };

const char* to_string(routing_outcome x);

struct routing_decision {
  routing_outcome outcome = routing_outcome::no_model;
  const model_config* model = nullptr;  // set when routed
  int target_rank = -1;                 // trace.target_tier's rank, once it is known
  std::string route;
  bool downgraded = false;
  std::string message;  // why, when not routed
  decision_trace trace;
};

/// True for data classes that must never leave local or private models.
bool is_sensitive(std::string_view data_class);

/// The content of the last user message, or of the last message when none is a user's.
std::string_view latest_user_text(const std::vector<chat_message>& messages);

/// What the thread has left according to its ledger account.
budget_note budget_left(const thread_usage& usage);

class routing_policy {
 public:
  /// `classifier` may be null: routes then come from requests, rules and the default.
  routing_policy(std::shared_ptr<const config> cfg,
                 std::shared_ptr<const route_classifier> classifier = nullptr);

  routing_decision decide(const routing_input& in, const model_health& health) const;
  /// The same, written into `out`, which may hold an earlier decision: the caller that
  /// decides call after call keeps one, and its candidate list and strings keep their
  /// memory instead of being allocated and freed per call. `out` ends as decide() returns.
  void decide(const routing_input& in, const model_health& health, routing_decision& out) const;

  /// True when decide() would ask the classifier for this input: there is one and no
  /// request field or rule has settled the route or the tier.
  bool consults_classifier(const routing_input& in) const;

  const config& catalog() const { return *cfg_; }
  /// The intent classifier the policy routes with; null when there is none. Agents
  /// that classify on their own (the support swarm's router agent) share it.
  const std::shared_ptr<const route_classifier>& classifier() const { return classifier_; }

 private:
  void decide_into(const routing_input& in, const model_health& health,
                   routing_decision& out) const;

  std::shared_ptr<const config> cfg_;
  std::shared_ptr<const route_classifier> classifier_;
  routing_rules rules_;
  std::unordered_map<std::string, int> route_tier_rank_;
  std::vector<int> model_tier_rank_;  // per catalog model, same index: ranked once
};

}  // namespace switchyard
