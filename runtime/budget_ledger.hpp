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
#include <mutex>
#include <string>
#include <unordered_map>

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
 public:
  /// Makes `thread_id` known with `limits`. The first opening wins: later runs on the
  /// same thread share the limits it was opened with. Returns false if it existed.
  bool open_thread(const std::string& thread_id, const budget_limits& limits);

  /// Reserves `tokens` and `usd` on the thread. Refused when the thread is unknown or
  /// when the reservation would let spending pass a limit.
  reservation_outcome reserve(const std::string& thread_id, uint64_t tokens, double usd);

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
  };
  struct pending {
    const std::string* thread_id;  // the account's key; map nodes never move
    account* acct;
    uint64_t tokens;
    int64_t nano_usd;
  };

  mutable std::mutex mutex_;
  std::unordered_map<std::string, account> accounts_;  // node-based: account* stays valid
  std::unordered_map<uint64_t, pending> pending_;

  // Takes a finished reservation off its account; erases a closing account once idle.
  void retire(std::unordered_map<uint64_t, pending>::iterator it);
  uint64_t next_id_ = 1;
};

}  // namespace switchyard
