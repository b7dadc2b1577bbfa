#pragma once
// The resumer: the actor that brings blocked runs back. Thin; its decisions are
// resume_schedule's. One per engine with a checkpoint store.
//
// It learns of parked runs from their run actors (run_parked_atom), probes each
// provider waited for with the model service's provider_status_atom on the
// schedule's backoff, and re-drives every run waiting for a provider that is up (a
// fresh run actor continues each from its checkpoint). Runs blocked on the store
// itself are simply re-driven on the backoff. Messages (all requests):
//   (resume_run_atom, run_id)   -> run_result: one attempt now, whatever the probes say
//   (await_run_atom, run_id)    -> run_result: once the run has ended
//   (recover_atom)              -> uint64_t: start-up recovery; every running run is
//                                  re-driven, every blocked one scheduled
//   (blocked_count_atom)        -> uint64_t: runs waiting in the schedule

#include <chrono>
#include <memory>

#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "caf/atom.hpp"

namespace switchyard {

struct engine_shared;

using await_run_atom = caf::atom_constant<caf::atom("await_run")>;
using recover_atom = caf::atom_constant<caf::atom("recover")>;
using blocked_count_atom = caf::atom_constant<caf::atom("blocked_n")>;

caf::actor spawn_resumer(caf::actor_system& sys, std::shared_ptr<engine_shared> shared,
                         caf::actor models, std::chrono::milliseconds initial_backoff,
                         std::chrono::milliseconds max_backoff);

}  // namespace switchyard
