#pragma once
// What the support agents of one process share besides messages: the run vaults
// (agents/vault_registry.hpp) and the per-call usage log (agents/call_log.hpp). One
// instance is handed to every support agent factory and to whoever runs the swarm,
// so that it can erase a run's vault and take its calls when the run ends.

#include "agents/call_log.hpp"
#include "agents/vault_registry.hpp"

namespace switchyard {

struct support_shared {
  vault_registry vaults;
  call_log calls;

  /// Called once a run has ended, however it ended: forgets its vault and returns
  /// its calls.
  std::vector<model_usage> end_run(const std::string& run_id) {
    vaults.erase(run_id);
    return calls.take(run_id);
  }
};

}  // namespace switchyard
