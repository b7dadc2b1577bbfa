#pragma once
// The router actor: every model call goes through it. For each model_request it asks
// the routing policy (router/routing_policy.hpp) for a model, then drives the call's
// fallback chain (router/fallback_chain.hpp) until one candidate answers:
//
// - candidates: a pinned model alone; else the routed model, then the route's list in
//   `resilience.fallback`, or along the catalog (same tier on another provider, then
//   the next lower tier). Only models the policy found eligible for this request
//   (compliance, window, capabilities, budget) may be fallbacks.
// - circuit breakers, one per endpoint (model x provider x key), fed by every outcome,
//   semantic failures included (empty output, unparseable JSON when json_mode was
//   asked, an error inside a 200). The policy's health filter reads them, so open
//   endpoints are not routed to.
// - retries per `resilience.retry`: backoff with jitter as a delayed message (no thread
//   waits), Retry-After honoured, bad_request/auth/context_length not retried.
// - rate limits per provider key (`resilience.rate_limits`): estimate before, correct
//   after; a saturated provider is waited for up to the latency class's deadline.
// - per attempt the worst case is reserved on the thread's ledger; a failed attempt
//   releases it, the answering attempt settles: a call is paid once.
// - a lower tier than requested answering sets usage.downgraded; the reason goes into
//   the decision trace (key "resilience").
// - every candidate down for reasons time heals -> error kind "blocked" naming the
//   routed model's provider and retry_after_ms: the durable run parks.
// - streaming HTTP calls: before the first delta a failure fails over silently; after
//   deltas went out the reply continues on the next candidate with the streamed text as
//   an assistant prefill, announced by a stream_switch message; after a tool call delta
//   it ends with an error (a tool call must not run twice).
// Errors travel inside the response (model_error), never as CAF errors, so callers
// handle one type.
//
// Providers: the sim provider (kind "sim"; simulated latency becomes a delayed message,
// so a slow call holds no thread; an outage window is a failed attempt that moves on at
// once) and HTTP providers (openai, anthropic, gemini) through the wire adapters and
// the Beast client, whose I/O thread answers by message.

#include <functional>
#include <memory>

#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "caf/atom.hpp"
#include "runtime/budget_ledger.hpp"
#include "runtime/config.hpp"

namespace switchyard {

class call_core;
class routing_policy;
struct model_request;
}

namespace switchyard {

/// Asks the model service how long until `provider` (a name from the config's
/// `providers`) can serve every model again: `(provider_status_atom, std::string)`
/// replies `uint32_t` milliseconds, 0 when it is up now (no sim outage, no open
/// breaker). The resumer probes with it.
using provider_status_atom = caf::atom_constant<caf::atom("prov_stat")>;

/// `(resilience_stats_atom)` replies a `std::string`: one JSON object with the
/// service's counters since it started and every breaker's state. Format in the
/// README, "Failure behaviour" ("Observability").
using resilience_stats_atom = caf::atom_constant<caf::atom("res_stats")>;

/// Sees every model request right before it leaves for a provider, with the model
/// chosen (after routing, the budget reservation and any fallback or prefill), once
/// per attempt. Runs on the model service's thread, so it must be quick and
/// thread-safe. `switchyard run --audit` writes each one to a file: what left the
/// process, and to which residency.
using model_request_observer =
    std::function<void(const model_config& model, const model_request& request)>;

/// Spawns the model service. `ledger` must outlive the actor.
/// `policy` decides which model serves each call; null builds one from `cfg` with
/// no classifier (routes then come from requests, rules and the default route).
caf::actor spawn_model_service(caf::actor_system& sys, std::shared_ptr<const config> cfg,
                               budget_ledger& ledger,
                               std::shared_ptr<const routing_policy> policy = nullptr,
                               model_request_observer observer = nullptr);

/// Spawns the model service around `core` (router/call_core.hpp), which the caller
/// keeps: the gateway starts plain calls through it on its own thread.
caf::actor spawn_model_service(caf::actor_system& sys, std::shared_ptr<call_core> core);

}  // namespace switchyard
