#pragma once
// The router actor: every model call goes through it. For each model_request it asks
// the routing policy (router/routing_policy.hpp) for a model, reserves the worst-case
// cost on the thread's budget, calls the provider, then settles the actual usage (or
// releases the reservation on failure) and replies with a model_response carrying
// the decision trace. Errors travel inside the response (model_error), never as
// CAF errors, so callers handle one type.
//
// Providers: the sim provider (kind "sim"; simulated latency becomes a delayed message,
// so a slow call holds no thread) and HTTP providers (openai, anthropic, gemini)
// through the wire adapters and the Beast client, whose I/O thread answers by message.
// A call to a sim model inside one of its outage windows is answered with kind
// "blocked" (provider named, retry_after_ms = time to the window's end): the run
// parks instead of failing.

#include <functional>
#include <memory>

#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "caf/atom.hpp"
#include "runtime/budget_ledger.hpp"
#include "runtime/config.hpp"

namespace switchyard {
class routing_policy;
struct model_request;
}

namespace switchyard {

/// Asks the model service how long until `provider` (a name from the config's
/// `providers`) can serve every model again: `(provider_status_atom, std::string)`
/// replies `uint32_t` milliseconds, 0 when it is up now. The resumer probes with it.
using provider_status_atom = caf::atom_constant<caf::atom("prov_stat")>;

/// Sees every model request right before it leaves for a provider, with the model
/// chosen (after routing and the budget reservation). Runs on the model service's
/// thread, so it must be quick and thread-safe. `switchyard run --audit` writes each
/// one to a file: what left the process, and to which residency.
using model_request_observer =
    std::function<void(const model_config& model, const model_request& request)>;

/// Spawns the model service. `ledger` must outlive the actor.
/// `policy` decides which model serves each call; null builds one from `cfg` with
/// no classifier (routes then come from requests, rules and the default route).
caf::actor spawn_model_service(caf::actor_system& sys, std::shared_ptr<const config> cfg,
                               budget_ledger& ledger,
                               std::shared_ptr<const routing_policy> policy = nullptr,
                               model_request_observer observer = nullptr);

}  // namespace switchyard
