#pragma once
// The actor that drives one run: it sends each step to its agent, records the step,
// asks the supervisor before every hop, forwards agent-to-agent calls, and replies
// with the run_result when the run completes, escalates or fails.

#include <memory>

#include "caf/actor.hpp"
#include "caf/actor_addr.hpp"
#include "caf/actor_system.hpp"
#include "caf/atom.hpp"

namespace switchyard {

struct engine_shared;

/// `(resume_run_atom, std::string run_id)` as a run actor's first message (a request):
/// continue that run from its last checkpoint in the engine's store; the reply is the
/// run_result of this attempt (possibly `blocked` again).
using resume_run_atom = caf::atom_constant<caf::atom("resume_run")>;

/// Sent by a run actor to the engine's resumer when it parks a run:
/// `(run_parked_atom, run_id, provider waited for, uint32_t retry_after_ms)`.
using run_parked_atom = caf::atom_constant<caf::atom("run_parked")>;

/// The provider name a run blocked by a failing checkpoint write waits for.
inline constexpr const char* waits_for_store = "checkpoint_store";

/// Spawns an idle run actor; its first message must be a run_request (with
/// `checkpoint_written` when the caller wrote its checkpoint 0) or a resume_run_atom
/// (a request).
caf::actor spawn_run_actor(caf::actor_system& sys, std::shared_ptr<engine_shared> shared);

/// Asks a run whose oldest open step looks overdue to check its steps; the run fails
/// with step_timeout if one really is. Does nothing if the run has ended.
void poke_overdue_run(const caf::actor_addr& run);

}  // namespace switchyard
