#include "agents/vault_registry.hpp"

namespace switchyard {

void vault_registry::put(const std::string& run_id, run_vault vault) {
  std::lock_guard<std::mutex> lock{mutex_};
  vaults_.insert_or_assign(run_id, std::move(vault));
}

bool vault_registry::with(const std::string& run_id,
                          const std::function<void(const run_vault&)>& fn) const {
  std::lock_guard<std::mutex> lock{mutex_};
  auto it = vaults_.find(run_id);
  if (it == vaults_.end()) return false;
  fn(it->second);
  return true;
}

void vault_registry::erase(const std::string& run_id) {
  std::lock_guard<std::mutex> lock{mutex_};
  vaults_.erase(run_id);
}

size_t vault_registry::size() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return vaults_.size();
}

}  // namespace switchyard
