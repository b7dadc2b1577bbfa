#include "runtime/budget_ledger.hpp"

#include <fmt/format.h>

#include <cmath>

namespace switchyard {

namespace {

constexpr double nano_per_usd = 1e9;

// Reservations round up so that a reservation never under-covers its call.
int64_t to_nano_ceil(double usd) {
  return static_cast<int64_t>(std::ceil(usd * nano_per_usd));
}
int64_t to_nano_nearest(double usd) {
  return static_cast<int64_t>(std::llround(usd * nano_per_usd));
}
double to_usd(int64_t nano) {
  return static_cast<double>(nano) / nano_per_usd;
}

}  // namespace

bool budget_ledger::open_thread(const std::string& thread_id, const budget_limits& limits) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto [it, added] = accounts_.try_emplace(thread_id);
  if (added) {
    it->second.limits = limits;
    it->second.max_nano_usd = to_nano_nearest(limits.max_cost_usd);
  }
  return added;
}

reservation_outcome budget_ledger::reserve(const std::string& thread_id, uint64_t tokens,
                                           double usd) {
  auto nano = to_nano_ceil(usd);
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = accounts_.find(thread_id);
  if (it == accounts_.end())
    return {false, 0, fmt::format("thread '{}' has no budget account", thread_id)};
  auto& acct = it->second;
  if (acct.closing) return {false, 0, fmt::format("thread '{}' is closed", thread_id)};
  if (acct.limits.max_tokens > 0) {
    auto committed = acct.spent_tokens + acct.reserved_tokens;
    if (committed + tokens > acct.limits.max_tokens)
      return {false, 0,
              fmt::format("token budget of thread '{}': {} spent + {} reserved + {} asked > "
                          "limit {}",
                          thread_id, acct.spent_tokens, acct.reserved_tokens, tokens,
                          acct.limits.max_tokens)};
  }
  if (acct.max_nano_usd > 0) {
    auto committed = acct.spent_nano_usd + acct.reserved_nano_usd;
    if (committed + nano > acct.max_nano_usd)
      return {false, 0,
              fmt::format("cost budget of thread '{}': ${:.6f} spent + ${:.6f} reserved + "
                          "${:.6f} asked > limit ${:.6f}",
                          thread_id, to_usd(acct.spent_nano_usd), to_usd(acct.reserved_nano_usd),
                          to_usd(nano), acct.limits.max_cost_usd)};
  }
  acct.reserved_tokens += tokens;
  acct.reserved_nano_usd += nano;
  auto id = next_id_++;
  acct.pending_count += 1;
  pending_.emplace(id, pending{&it->first, &acct, tokens, nano});
  return {true, id, {}};
}

bool budget_ledger::settle(uint64_t reservation_id, uint64_t actual_tokens, double actual_usd) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = pending_.find(reservation_id);
  if (it == pending_.end()) return false;
  auto& p = it->second;
  p.acct->reserved_tokens -= p.tokens;
  p.acct->reserved_nano_usd -= p.nano_usd;
  // Actual usage is recorded as reported even if it exceeds the reservation (a real
  // provider may bill more than estimated): hiding it would make the books lie.
  p.acct->spent_tokens += actual_tokens;
  p.acct->spent_nano_usd += to_nano_nearest(actual_usd);
  p.acct->settled_calls += 1;
  retire(it);
  return true;
}

bool budget_ledger::release(uint64_t reservation_id) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = pending_.find(reservation_id);
  if (it == pending_.end()) return false;
  it->second.acct->reserved_tokens -= it->second.tokens;
  it->second.acct->reserved_nano_usd -= it->second.nano_usd;
  retire(it);
  return true;
}

bool budget_ledger::record_spent(const std::string& thread_id, uint64_t tokens, double usd) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = accounts_.find(thread_id);
  if (it == accounts_.end()) return false;
  it->second.spent_tokens += tokens;
  it->second.spent_nano_usd += to_nano_nearest(usd);
  return true;
}

void budget_ledger::retire(std::unordered_map<uint64_t, pending>::iterator it) {
  auto* acct = it->second.acct;
  acct->pending_count -= 1;
  if (acct->closing && acct->pending_count == 0) accounts_.erase(*it->second.thread_id);
  pending_.erase(it);
}

void budget_ledger::close_thread(const std::string& thread_id) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = accounts_.find(thread_id);
  if (it == accounts_.end()) return;
  if (it->second.pending_count == 0)
    accounts_.erase(it);
  else
    it->second.closing = true;
}

size_t budget_ledger::open_threads() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return accounts_.size();
}

thread_usage budget_ledger::usage(const std::string& thread_id) const {
  std::lock_guard<std::mutex> guard{mutex_};
  thread_usage result;
  auto it = accounts_.find(thread_id);
  if (it == accounts_.end()) return result;
  const auto& acct = it->second;
  result.limits = acct.limits;
  result.spent_tokens = acct.spent_tokens;
  result.spent_usd = to_usd(acct.spent_nano_usd);
  result.reserved_tokens = acct.reserved_tokens;
  result.reserved_usd = to_usd(acct.reserved_nano_usd);
  result.settled_calls = acct.settled_calls;
  return result;
}

size_t budget_ledger::pending_reservations() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return pending_.size();
}

}  // namespace switchyard
