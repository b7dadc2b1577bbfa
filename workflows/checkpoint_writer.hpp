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

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "caf/actor_control_block.hpp"
#include "caf/message_id.hpp"
#include "runtime/checkpoint_store.hpp"

namespace switchyard {

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
  void submit(prepared_write write, caf::strong_actor_ptr reply_to, caf::message_id response_id);

  /// Writes and answers what is queued, then ends the thread and lets go of the store
  /// (whoever opened it may then close and unlock it). Idempotent.
  void stop();

 private:
  struct pending {
    caf::strong_actor_ptr reply_to;
    caf::message_id response_id;
  };

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
