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
  if (accounts_.find(thread_id) != accounts_.end()) return false;
  std::shared_ptr<account> acct;
  if (spare_accounts_.empty()) {
    acct = std::make_shared<account>();
  } else {
    acct = std::move(spare_accounts_.back());
    spare_accounts_.pop_back();
    std::string kept = std::move(acct->thread_id);  // its memory, for the id below
    *acct = account{};
    acct->thread_id = std::move(kept);
  }
  acct->limits = limits;
  acct->max_nano_usd = to_nano_nearest(limits.max_cost_usd);
  acct->thread_id = thread_id;
  if (spare_nodes_.empty()) {
    accounts_.emplace(thread_id, std::move(acct));
  } else {
    auto node = std::move(spare_nodes_.back());
    spare_nodes_.pop_back();
    node.key() = thread_id;
    node.mapped() = std::move(acct);
    accounts_.insert(std::move(node));
  }
  return true;
}

void budget_ledger::forget(account_map::iterator it) {
  auto node = accounts_.extract(it);
  node.mapped()->erased = true;
  // Only this map holds it: no account_ref can see it again, so it may be reused.
  if (node.mapped().use_count() == 1 && spare_accounts_.size() < max_spare)
    spare_accounts_.push_back(std::move(node.mapped()));
  node.mapped().reset();
  if (spare_nodes_.size() < max_spare) spare_nodes_.push_back(std::move(node));
}

budget_ledger::account* budget_ledger::lookup(const std::string& thread_id,
                                              account_ref& ref) const {
  if (ref.acct_ && !ref.acct_->erased) return ref.acct_.get();
  auto it = accounts_.find(thread_id);
  if (it == accounts_.end()) {
    ref.acct_.reset();
    return nullptr;
  }
  ref.acct_ = it->second;
  return ref.acct_.get();
}

reservation_outcome budget_ledger::reserve(const std::string& thread_id, uint64_t tokens,
                                           double usd) {
  auto nano = to_nano_ceil(usd);
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = accounts_.find(thread_id);
  return reserve_locked(thread_id, it == accounts_.end() ? nullptr : it->second.get(), tokens,
                        nano);
}

reservation_outcome budget_ledger::reserve(const std::string& thread_id, account_ref& ref,
                                           uint64_t tokens, double usd) {
  auto nano = to_nano_ceil(usd);
  std::lock_guard<std::mutex> guard{mutex_};
  return reserve_locked(thread_id, lookup(thread_id, ref), tokens, nano);
}

reservation_outcome budget_ledger::reserve_locked(const std::string& thread_id, account* found,
                                                  uint64_t tokens, int64_t nano) {
  if (found == nullptr)
    return {false, 0, fmt::format("thread '{}' has no budget account", thread_id)};
  auto& acct = *found;
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
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    if (slots_.size() >= (size_t{1} << slot_bits))
      return {false, 0, "the budget ledger has too many reservations pending"};
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  acct.reserved_tokens += tokens;
  acct.reserved_nano_usd += nano;
  acct.pending_count += 1;
  auto id = (next_serial_++ << slot_bits) | slot;
  slots_[slot] = pending{id, &acct, tokens, nano};
  ++pending_count_;
  return {true, id, {}};
}

budget_ledger::pending* budget_ledger::find_pending(uint64_t id) {
  auto slot = static_cast<size_t>(id & ((uint64_t{1} << slot_bits) - 1));
  if (id == 0 || slot >= slots_.size() || slots_[slot].id != id) return nullptr;
  return &slots_[slot];
}

bool budget_ledger::settle(uint64_t reservation_id, uint64_t actual_tokens, double actual_usd) {
  std::lock_guard<std::mutex> guard{mutex_};
  pending* p = find_pending(reservation_id);
  if (p == nullptr) return false;
  p->acct->reserved_tokens -= p->tokens;
  p->acct->reserved_nano_usd -= p->nano_usd;
  // Actual usage is recorded as reported even if it exceeds the reservation (a real
  // provider may bill more than estimated): hiding it would make the books lie.
  p->acct->spent_tokens += actual_tokens;
  p->acct->spent_nano_usd += to_nano_nearest(actual_usd);
  p->acct->settled_calls += 1;
  retire(*p);
  return true;
}

bool budget_ledger::release(uint64_t reservation_id) {
  std::lock_guard<std::mutex> guard{mutex_};
  pending* p = find_pending(reservation_id);
  if (p == nullptr) return false;
  p->acct->reserved_tokens -= p->tokens;
  p->acct->reserved_nano_usd -= p->nano_usd;
  retire(*p);
  return true;
}

bool budget_ledger::record_spent(const std::string& thread_id, uint64_t tokens, double usd) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = accounts_.find(thread_id);
  if (it == accounts_.end()) return false;
  it->second->spent_tokens += tokens;
  it->second->spent_nano_usd += to_nano_nearest(usd);
  return true;
}

void budget_ledger::retire(pending& p) {
  auto* acct = p.acct;
  acct->pending_count -= 1;
  auto slot = static_cast<uint32_t>(&p - slots_.data());
  p = pending{};
  free_slots_.push_back(slot);
  --pending_count_;
  // After a burst (ten thousand calls at once) the slots go back to the allocator once
  // none is pending; ids stay unique through the serial.
  if (pending_count_ == 0 && slots_.size() > 1024) {
    slots_ = {};
    free_slots_ = {};
  }
  if (acct->closing && acct->pending_count == 0) erase_account(*acct);
}

void budget_ledger::erase_account(account& acct) {
  // Found first, then taken out: the key lives in the account, which forget may free.
  forget(accounts_.find(acct.thread_id));
}

void budget_ledger::close_thread(const std::string& thread_id) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = accounts_.find(thread_id);
  if (it == accounts_.end()) return;
  if (it->second->pending_count == 0) {
    forget(it);
  } else {
    it->second->closing = true;
  }
}

size_t budget_ledger::open_threads() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return accounts_.size();
}

thread_usage budget_ledger::usage(const std::string& thread_id) const {
  std::lock_guard<std::mutex> guard{mutex_};
  auto it = accounts_.find(thread_id);
  return usage_of(it == accounts_.end() ? nullptr : it->second.get());
}

thread_usage budget_ledger::usage(const std::string& thread_id, account_ref& ref) const {
  std::lock_guard<std::mutex> guard{mutex_};
  return usage_of(lookup(thread_id, ref));
}

thread_usage budget_ledger::usage_of(const account* acct) {
  thread_usage result;
  if (acct == nullptr) return result;
  result.limits = acct->limits;
  result.spent_tokens = acct->spent_tokens;
  result.spent_usd = to_usd(acct->spent_nano_usd);
  result.reserved_tokens = acct->reserved_tokens;
  result.reserved_usd = to_usd(acct->reserved_nano_usd);
  result.settled_calls = acct->settled_calls;
  return result;
}

size_t budget_ledger::pending_reservations() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return pending_count_;
}

}  // namespace switchyard
