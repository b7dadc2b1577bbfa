#pragma once
// The checkpoint writer: group commit for durable runs. One per engine with a store,
// on its own thread (RocksDB writes, and fsyncs when `store.sync` is on, never block
// the scheduler's workers). Run actors encode their checkpoint themselves
// (checkpoint_store::prepare_step) and send it here as a request; every write that
// queued while the previous batch was being written goes into the next WriteBatch,
// so N runs' steps cost one WAL append (and one fsync) instead of N. Each run gets
// its own answer, and only then goes on (it awaits the answer): what a run has
// been told is written is on disk exactly as with a write of its own.
//
// Messages:
//   (prepared_write) -> std::string: empty when written, else why not

#include <memory>

#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "runtime/checkpoint_store.hpp"

namespace switchyard {

caf::actor spawn_checkpoint_writer(caf::actor_system& sys,
                                   std::shared_ptr<checkpoint_store> store);

}  // namespace switchyard
