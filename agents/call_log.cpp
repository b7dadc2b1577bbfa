#include "agents/call_log.hpp"

namespace switchyard {

void call_log::record(const std::string& run_id, const model_usage& usage) {
  if (usage.model_id.empty()) return;
  model_usage lean = usage;
  lean.decision.bytes.clear();  // the transcript keeps the traces; the report needs numbers
  std::lock_guard<std::mutex> lock{mutex_};
  calls_[run_id].push_back(std::move(lean));
}

std::vector<model_usage> call_log::take(const std::string& run_id) {
  std::lock_guard<std::mutex> lock{mutex_};
  auto it = calls_.find(run_id);
  if (it == calls_.end()) return {};
  auto out = std::move(it->second);
  calls_.erase(it);
  return out;
}

size_t call_log::runs() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return calls_.size();
}

}  // namespace switchyard
