#pragma once
// The checkpoint writer: group commit for durable runs. One per engine with a store,
// on a thread of its own (RocksDB writes, and fsyncs when `store.sync` is on, never
// block the scheduler's workers). Run actors encode their checkpoint themselves
// (checkpoint_store::prepare_step) and hand it over with submit(); every write that
// queued while the previous batch was being written goes into the next WriteBatch,
// so N runs' steps cost one WAL append (and one fsync) instead of N. Each run gets
// its own answer, and only then goes on (it awaits the answer): what a run has
// been told is written is on disk exactly as with a write of its own.
//
// The hand-off is a mutex-guarded queue, not a CAF request: the run actor registers
// an awaited response id (caf::scheduled_actor::add_awaited_response_handler) and the
// writer answers it with one message, `std::string` (empty when written, else why
// not). A CAF request cost a mailbox element, a promise and a self-sent flush message
// on the writer's side for every write (docs/durability.md, "Group commit").
//
//   auto id = self->new_request_id(caf::message_priority::normal).response_id();
//   self->add_awaited_response_handler(id, caf::behavior{[](std::string& problem) {...}});
//   writer.submit(std::move(write), self->ctrl(), id);
//
// Hand-off (submit_then_send): a run whose next message is known when it writes (its
// next step's request to an agent, or its result) gives that message to the writer
// with the write. The writer enqueues it once the write is in the WAL, with the sender
// and request id the run put in it, as CAF's request would have: a write that succeeds
// costs the run no answer and no extra scheduling. If the write fails, the message is
// dropped (a result is sent anyway: a run's end is answered even if not written) and
// the run is answered with write_failure(problem) under `failure_id`.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "caf/actor_control_block.hpp"
#include "caf/error.hpp"
#include "caf/mailbox_element.hpp"
#include "caf/message_id.hpp"
#include "runtime/checkpoint_store.hpp"

namespace switchyard {

/// The error a run gets, under the id it gave submit_then_send(), when its write failed.
caf::error write_failure(std::string problem);

/// The problem inside `err` if it is a write_failure(), else null.
const std::string* write_failure_problem(const caf::error& err);

/// A message the writer sends on a run's behalf once the run's write is in the WAL.
struct follow_up {
  caf::strong_actor_ptr to;
  caf::mailbox_element_ptr message;  // holds its sender and message id
  bool also_on_failure = false;      // sent even when the write fails (a run's result)
};

class checkpoint_writer {
 public:
  explicit checkpoint_writer(std::shared_ptr<checkpoint_store> store);
  /// stop()s.
  ~checkpoint_writer();
  checkpoint_writer(const checkpoint_writer&) = delete;
  checkpoint_writer& operator=(const checkpoint_writer&) = delete;

  /// Queues `write`; once it is in the WAL (or failed), `reply_to` gets a response with
  /// id `response_id` holding a std::string: empty when written, else the problem.
  /// After stop(), answers at once that the writer is stopped.
  void submit(prepared_write&& write, caf::strong_actor_ptr reply_to, caf::message_id response_id);

  /// Queues `write`; once it is in the WAL, enqueues `next.message` to `next.to` and
  /// answers nobody. If it fails, drops `next.message` (unless `next.also_on_failure`)
  /// and, if `reply_to` is set, sends it a response with id `failure_id` holding
  /// write_failure(problem); a failure nobody is answered about is logged. After stop(),
  /// fails at once the same way.
  void submit_then_send(prepared_write&& write, follow_up&& next, caf::strong_actor_ptr reply_to,
                        caf::message_id failure_id);

  /// Writes and answers what is queued, then ends the thread and lets go of the store
  /// (whoever opened it may then close and unlock it). Idempotent.
  void stop();

 private:
  struct pending {
    caf::strong_actor_ptr reply_to;
    caf::message_id response_id;
    follow_up next;           // submit_then_send's
    bool handed_off = false;  // submit_then_send: nobody is answered on success
  };

  // By reference: a prepared_write is ~220 bytes of strings and vectors, and each
  // move by value on the way to queued_ cost a move and a destructor.
  void queue(prepared_write&& write, pending&& p);
  static void settle(pending& p, const std::string& run_id, std::string problem);

  void loop();

  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<prepared_write> queued_;  // guarded by mu_
  std::vector<pending> waiting_;        // guarded by mu_, one per queued write
  bool idle_ = false;                   // guarded by mu_: the thread waits on wake_
  bool stopping_ = false;               // guarded by mu_
  std::shared_ptr<checkpoint_store> store_;
  std::thread thread_;
};

}  // namespace switchyard
