#pragma once
// The gateway's endpoints: what `switchyard serve` answers on each path. The HTTP
// server (gateway/http_server) calls handle() on an I/O thread; handle() parses,
// authenticates and validates there (microseconds), then hands the work to CAF:
//
//   model calls: through gateway/model_caller, which starts a plain call right here
//   on the I/O thread (the model service's call core: route, budget, rate limit,
//   breaker, the provider request on the HTTP client) and puts any other call into
//   the model service's mailbox; answers come back on the thread that makes them and
//   go out through the response channel. No thread ever blocks on an answer.
//
//   workflow runs and /metrics: a short-lived actor around request().then().
//
// Thread-safe: handle() may run on several I/O threads at once. The state bridges
// share (metrics, audit, keys, the runs table) is owned jointly, so an actor still
// answering after the gateway is gone touches nothing freed.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/audit_log.hpp"
#include "gateway/http_server.hpp"
#include "gateway/key_store.hpp"
#include "gateway/metrics.hpp"
#include "runtime/config.hpp"

namespace switchyard {
class engine;
}

namespace switchyard::gateway {

struct gateway_parts {
  std::shared_ptr<const config> cfg;
  engine* eng = nullptr;               // must outlive the gateway_service
  std::vector<std::string> workflows;  // names that POST /v1/workflows/{name}/runs accepts
  std::shared_ptr<key_store> keys;     // null: no authentication (gateway.auth "none")
  /// Bearer token of the /admin/keys endpoints (create, list, revoke keys while the
  /// server holds the key database); empty: no admin endpoints (404).
  std::string admin_token;
  std::shared_ptr<audit_log> audit;    // null: no audit log
  std::shared_ptr<metrics_registry> metrics;
  /// Called with the run id when a run started here returns its result (e.g. to drop
  /// the support swarm's per-run vault and call log); may be empty.
  std::function<void(const std::string& run_id)> on_run_end;
  /// Start plain model calls on the I/O thread (gateway/model_caller); false sends
  /// every call through the model service's mailbox (tests compare the two).
  bool direct_model_calls = true;
};

class gateway_service {
 public:
  explicit gateway_service(gateway_parts parts);
  ~gateway_service();

  /// The request handler for http_server.
  void handle(incoming_request request, std::shared_ptr<response_channel> channel);

  /// Plain model calls started on `server`'s I/O thread read their provider's reply on
  /// that thread too, when the server has one I/O thread (model_caller::run_calls_on);
  /// undone when the server stops. Call once, after the server started.
  void run_calls_on(http_server& server);

  /// /readyz answers 200 only once this is set (after recovery and start-up).
  void set_ready(bool ready);

  struct core;

 private:
  std::shared_ptr<core> core_;
};

}  // namespace switchyard::gateway
