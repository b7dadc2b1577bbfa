#pragma once
// Where the support swarm keeps each run's PII vault: in this process, keyed by run id.
//
// Why here: agents serve every run concurrently, so per-run state normally travels in
// messages — but the vault must never travel (a message can be logged, checkpointed or
// sent to another node). So the gatekeeper deposits the run's vault here and the closer
// reads it by the run id every message carries. The gatekeeper and the closer of one
// engine run in one process, which is the vault's boundary. A vault is erased when
// its run ends: by the closer after it restored the reply, and by whoever awaited the
// run (`erase` after the run_result, for runs that escalated or failed before the
// closer). A process that dies loses its vaults, which is the point: a resumed run
// whose vault is gone gets "[... withheld]" labels instead of the customer's name.
//
// Thread-safe: one mutex; every operation is O(1) average. Holds no CAF types.

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "agents/pii_scrubber.hpp"

namespace switchyard {

/// One run's vault and what the account said about the customer.
struct run_vault {
  pii_vault vault;
  scrub_options customer;
};

class vault_registry {
 public:
  /// Stores (or replaces) the vault of `run_id`.
  void put(const std::string& run_id, run_vault vault);

  /// Runs `fn` on the vault of `run_id` under the lock; false when there is none.
  /// `fn` must not call back into the registry.
  bool with(const std::string& run_id, const std::function<void(const run_vault&)>& fn) const;

  /// Forgets the vault of `run_id` (no-op when there is none).
  void erase(const std::string& run_id);

  /// Vaults held now: 0 once every run has ended.
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, run_vault> vaults_;
};

}  // namespace switchyard
