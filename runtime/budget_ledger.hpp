#pragma once
// Per-thread token and USD budgets shared by every run of a conversation thread.
//
// Before a model call the caller reserves the worst case (prompt tokens plus
// max_tokens, at the model's price); after the call it settles the actual usage, or
// releases the reservation when the call failed. A reservation is refused when
// spent + reserved + asked would exceed a limit, so concurrent runs on one thread
// can never overshoot it together. Money is kept in integer nano-dollars so that
// thousands of small charges do not drift.
//
// Thread-safe: one mutex; every operation is O(1) and short, so actors may call it
// directly instead of paying a message round trip per model call.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/config.hpp"

namespace switchyard {

struct thread_usage {
  budget_limits limits;
  uint64_t spent_tokens = 0;
  double spent_usd = 0;
  uint64_t reserved_tokens = 0;
  double reserved_usd = 0;
  uint64_t settled_calls = 0;
};

struct reservation_outcome {
  bool granted = false;
  uint64_t id = 0;     // valid when granted
  std::string reason;  // when refused: which limit and the numbers
};

class budget_ledger {
  struct account;

 public:
  /// Remembers where a thread's account is, for the several operations of one model
  /// call (its usage before routing, a reservation per attempt): those given the same
  /// ref look the thread id up once. The outcome is always the one of a lookup by id:
  /// an account closed (or opened) since is looked up again. Empty until first used.
  class account_ref {
   public:
    account_ref() = default;

   private:
    friend class budget_ledger;
    std::shared_ptr<account> acct_;
  };

  /// Makes `thread_id` known with `limits`. The first opening wins: later runs on the
  /// same thread share the limits it was opened with. Returns false if it existed.
  bool open_thread(const std::string& thread_id, const budget_limits& limits);

  /// Reserves `tokens` and `usd` on the thread. Refused when the thread is unknown or
  /// when the reservation would let spending pass a limit.
  reservation_outcome reserve(const std::string& thread_id, uint64_t tokens, double usd);
  /// The same, the account's lookup remembered in `ref` (see account_ref).
  reservation_outcome reserve(const std::string& thread_id, account_ref& ref, uint64_t tokens,
                              double usd);

  /// Turns a reservation into actual spending. Each reservation settles once: a second
  /// settle or a settle after release returns false and changes nothing.
  bool settle(uint64_t reservation_id, uint64_t actual_tokens, double actual_usd);

  /// Gives a reservation back (the call failed). Returns false if it was not pending.
  bool release(uint64_t reservation_id);

  /// Adds spending made before this process (a run recovered from its checkpoint) to
  /// the thread's account, without a reservation. False when the thread is unknown.
  bool record_spent(const std::string& thread_id, uint64_t tokens, double usd);

  /// Forgets a thread that will see no more runs (one made up for a single run), so
  /// the ledger does not grow with every run. Reservations still pending settle
  /// first; the account goes when the last of them does.
  void close_thread(const std::string& thread_id);

  /// Threads with an account.
  size_t open_threads() const;

  /// A snapshot of the thread's account; limits zero and nothing spent when unknown.
  thread_usage usage(const std::string& thread_id) const;
  /// The same, the account's lookup remembered in `ref` (see account_ref).
  thread_usage usage(const std::string& thread_id, account_ref& ref) const;

  /// Reservations not yet settled or released, over all threads.
  size_t pending_reservations() const;

 private:
  struct account {
    budget_limits limits;
    int64_t max_nano_usd = 0;  // 0: unlimited
    uint64_t spent_tokens = 0;
    int64_t spent_nano_usd = 0;
    uint64_t reserved_tokens = 0;
    int64_t reserved_nano_usd = 0;
    uint64_t settled_calls = 0;
    uint32_t pending_count = 0;
    bool closing = false;
    bool erased = false;  // no longer in accounts_: refs to it look the thread up again
    std::string thread_id;
  };
  // A reservation in its slot. Ids carry the slot in their low bits and a serial above,
  // so settle/release find it without a lookup, and an old id never matches a reused slot.
  struct pending {
    uint64_t id = 0;  // 0: the slot is free
    account* acct = nullptr;
    uint64_t tokens = 0;
    int64_t nano_usd = 0;
  };
  static constexpr unsigned slot_bits = 24;  // up to 16.7 M reservations pending at once

  using account_map = std::unordered_map<std::string, std::shared_ptr<account>>;

  mutable std::mutex mutex_;
  account_map accounts_;
  // Accounts and map nodes of closed threads, kept for the next open_thread: a run made
  // up for one call opens and closes a thread, and two allocations and frees per run
  // (often on different threads) cost more than the rest of its ledger work. An account
  // is kept only when no account_ref holds it any more. At most max_spare of each (about
  // 190 B a pair: 190 KB at most), enough for a window of a thousand runs ending at once.
  static constexpr size_t max_spare = 1024;
  std::vector<std::shared_ptr<account>> spare_accounts_;
  std::vector<account_map::node_type> spare_nodes_;
  std::vector<pending> slots_;
  std::vector<uint32_t> free_slots_;
  size_t pending_count_ = 0;

  // The account of `thread_id`, from `ref` when it is still open; refreshes `ref`.
  // Null when the thread is unknown. Call with the mutex held.
  account* lookup(const std::string& thread_id, account_ref& ref) const;
  reservation_outcome reserve_locked(const std::string& thread_id, account* acct, uint64_t tokens,
                                     int64_t nano);
  static thread_usage usage_of(const account* acct);
  // The pending reservation `id`, or null. Call with the mutex held.
  pending* find_pending(uint64_t id);
  // Takes a finished reservation off its account; erases a closing account once idle.
  void retire(pending& p);
  void erase_account(account& acct);
  // Takes `it` out of accounts_ (its account marked erased) and keeps what it can.
  void forget(account_map::iterator it);
  uint64_t next_serial_ = 1;
};

}  // namespace switchyard
