#pragma once
// The supervisor's decisions, free of actors: may a run make another hop, and what
// does a failed step mean for the run. The run actor asks; this class answers.

#include <cstdint>
#include <string>

#include "runtime/messages.hpp"

namespace switchyard {

/// Escalation reasons, as they appear in run results and handoff records.
inline constexpr const char* reason_hop_limit = "hop_limit";
inline constexpr const char* reason_budget_exhausted = "budget_exhausted";
/// A step asks for a person (the customer wants a human): the run is handed off.
inline constexpr const char* reason_human_requested = "human_requested";

/// What a run does after a step reported an error.
struct step_error_verdict {
  run_status status = run_status::failed;  // escalated or failed
  std::string reason;                      // escalation reason or the error kind
};

class supervisor {
 public:
  explicit supervisor(uint32_t max_hops) : max_hops_(max_hops) {}

  /// True when a run that has made `hops_so_far` agent-to-agent hops may make one
  /// more. With max_hops = N a run makes at most N hops; the (N+1)-th is refused.
  bool admits_hop(uint32_t hops_so_far) const { return hops_so_far < max_hops_; }

  uint32_t max_hops() const { return max_hops_; }

  /// A refused budget escalates (a person decides whether to spend more), as does a
  /// step that asks for a person (kind human_requested); any other error fails the
  /// run with the error's kind as the reason.
  static step_error_verdict judge(const model_error& error);

 private:
  uint32_t max_hops_;
};

}  // namespace switchyard
