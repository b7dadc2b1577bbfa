#pragma once
// The actor that drives one run: it sends each step to its agent, records the step,
// asks the supervisor before every hop, forwards agent-to-agent calls, and replies
// with the run_result when the run completes, escalates or fails.

#include <memory>

#include "caf/actor.hpp"
#include "caf/actor_addr.hpp"
#include "caf/actor_system.hpp"

namespace switchyard {

struct engine_shared;

/// Spawns an idle run actor; its first message must be a run_request (a request).
caf::actor spawn_run_actor(caf::actor_system& sys, std::shared_ptr<engine_shared> shared);

/// Asks a run whose oldest open step looks overdue to check its steps; the run fails
/// with step_timeout if one really is. Does nothing if the run has ended.
void poke_overdue_run(const caf::actor_addr& run);

}  // namespace switchyard
