#include "workflows/resume_schedule.hpp"

#include <algorithm>

namespace switchyard {

resume_schedule::resume_schedule(ms initial_backoff, ms max_backoff)
    : initial_(initial_backoff), max_(std::max(initial_backoff, max_backoff)) {}

void resume_schedule::park(const std::string& run_id, const std::string& provider, time_point now,
                           ms hint) {
  if (!runs_.try_emplace(run_id, provider).second) return;
  auto [it, added] = providers_.try_emplace(provider);
  auto& w = it->second;
  if (added) {
    w.backoff = initial_;
    w.next_probe = now + std::max(initial_, hint);
  }
  w.runs += 1;
}

std::vector<std::string> resume_schedule::due(time_point now) {
  std::vector<std::string> out;
  for (auto& [provider, w] : providers_) {
    if (w.next_probe > now) continue;
    out.push_back(provider);
    w.next_probe = now + w.backoff;  // the lease: one probe at a time
  }
  return out;
}

std::vector<std::string> resume_schedule::provider_up(const std::string& provider) {
  std::vector<std::string> runs;
  if (providers_.erase(provider) == 0) return runs;
  for (auto it = runs_.begin(); it != runs_.end();) {
    if (it->second == provider) {
      runs.push_back(it->first);
      it = runs_.erase(it);
    } else {
      ++it;
    }
  }
  std::sort(runs.begin(), runs.end());  // deterministic order for callers and tests
  return runs;
}

void resume_schedule::provider_down(const std::string& provider, time_point now, ms hint) {
  auto it = providers_.find(provider);
  if (it == providers_.end()) return;
  auto& w = it->second;
  w.backoff = std::min(max_, w.backoff * 2);
  w.next_probe = now + std::max(w.backoff, hint);
}

bool resume_schedule::take(const std::string& run_id) {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return false;
  auto p = providers_.find(it->second);
  if (p != providers_.end() && --p->second.runs == 0) providers_.erase(p);
  runs_.erase(it);
  return true;
}

std::vector<std::string> resume_schedule::take_all() {
  std::vector<std::string> out;
  out.reserve(runs_.size());
  for (auto& [run, _] : runs_) out.push_back(run);
  std::sort(out.begin(), out.end());
  runs_.clear();
  providers_.clear();
  return out;
}

bool resume_schedule::is_waiting(const std::string& run_id) const {
  return runs_.count(run_id) > 0;
}

resume_schedule::time_point resume_schedule::next_probe() const {
  auto earliest = time_point::max();
  for (const auto& [_, w] : providers_) earliest = std::min(earliest, w.next_probe);
  return earliest;
}

resume_schedule::ms resume_schedule::backoff_of(const std::string& provider) const {
  auto it = providers_.find(provider);
  return it == providers_.end() ? initial_ : it->second.backoff;
}

}  // namespace switchyard
