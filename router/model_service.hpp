#pragma once
// The actor every model call goes through. For each model_request it picks the
// model, reserves the worst-case cost on the thread's budget, calls the provider,
// then settles the actual usage (or releases the reservation on failure) and replies
// with a model_response. Errors travel inside the response (model_error), never as
// CAF errors, so callers handle one type.
//
// A call to a sim model inside one of its outage windows is answered with kind
// "blocked" (provider named, retry_after_ms = time to the window's end): the run
// parks instead of failing. Providers so far: the sim provider (kind "sim"). Simulated latency
// becomes a delayed message, so a slow call holds no thread.

#include <memory>

#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "caf/atom.hpp"
#include "runtime/budget_ledger.hpp"
#include "runtime/config.hpp"

namespace switchyard {

/// Asks the model service how long until `provider` (a name from the config's
/// `providers`) can serve every model again: `(provider_status_atom, std::string)`
/// replies `uint32_t` milliseconds, 0 when it is up now. The resumer probes with it.
using provider_status_atom = caf::atom_constant<caf::atom("prov_stat")>;

/// Spawns the model service. `ledger` must outlive the actor.
caf::actor spawn_model_service(caf::actor_system& sys, std::shared_ptr<const config> cfg,
                               budget_ledger& ledger);

}  // namespace switchyard
