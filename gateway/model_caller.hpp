#pragma once
// Model calls from the gateway without an actor per call. The gateway's I/O thread puts
// the model_request straight into the model service's mailbox as a request whose sender
// is one long-lived caf::actor_companion; the companion has no mailbox of its own: CAF
// hands it each message on the thread that sends it (the model service's worker), and
// it calls the call's handler right there. So a call costs one scheduler hand-off on the
// way in and none on the way back, where the per-call bridge actor it replaces cost a
// spawn, a hand-off to the bridge, one from the bridge to the service and one back.
//
// A plain call (see router/call_core.hpp) does not go through the mailbox at all: the
// calling thread (the gateway's I/O thread) routes it, reserves its budget and rate
// limit, asks its breaker and sends it on the HTTP client itself, with the model
// service's call core; the answer comes back to the companion from the HTTP client's
// thread. Such a call wakes no CAF worker. Any other call, and a plain call whose
// attempt failed, is the model service's as before.
//
// Nothing ever blocks: no scoped_actor, no function_view. Deadlines (the gateway's
// request_timeout_ms) are kept by a sweep thread that wakes every timeout/10 (at most
// 100 ms): calls share one timeout, so the oldest call in flight is always the next to
// expire. A call ends exactly once: its answer, an error from CAF (service gone), or its
// deadline, whichever comes first; what arrives later is dropped.
//
// Handlers run on CAF worker threads (answers, stream events), the HTTP client's thread
// (plain calls' answers) or the sweep thread (deadlines), one at a time per call, and
// must not block.

#include <chrono>
#include <cstddef>
#include <memory>

#include "caf/fwd.hpp"
#include "runtime/messages.hpp"

namespace boost::asio {
class io_context;
}

namespace switchyard {
class call_core;
}

namespace switchyard::gateway {

class model_call_handler {
 public:
  virtual ~model_call_handler() = default;
  /// A streamed call: the model service picked the model of an attempt (before its
  /// first delta; again after a fallback).
  virtual void routed(const stream_routed&) {}
  virtual void delta(stream_delta&) {}
  virtual void switched(const stream_switch&) {}
  /// Called exactly once: the answer, or an error response (kind "timeout" after the
  /// deadline, "server_error" when CAF reports the service gone).
  virtual void done(model_response& response) = 0;
};

class model_caller {
 public:
  /// `direct`: the service's call core, through which plain calls start on the calling
  /// thread; null sends every call through the mailbox.
  model_caller(caf::actor_system& sys, caf::actor model_service, std::chrono::milliseconds timeout,
               std::shared_ptr<call_core> direct = nullptr);
  /// shutdown()
  ~model_caller();
  model_caller(const model_caller&) = delete;
  model_caller& operator=(const model_caller&) = delete;

  /// Sends the call; never blocks. `request.call_id` must be unique among calls in flight
  /// (stream events are matched by it). `want_trace` false: a plain call's answer may
  /// come without its decision trace (call_core::try_direct), when nobody reads it.
  void call(model_request request, std::shared_ptr<model_call_handler> handler,
            bool want_trace = true);

  size_t in_flight() const;
  /// Calls started on the calling thread (see above) since this caller was made.
  uint64_t direct_calls() const;

  /// A plain call started from the one thread running `here` (the gateway's I/O thread)
  /// also reads its provider's reply there when a pooled connection is idle
  /// (http_client::send_here): one thread per call. Null turns it off.
  void run_calls_on(boost::asio::io_context* here);
  /// `here` stopped running (its thread ended): calls still on it are handed to the
  /// model service as failed attempts, its connections closed (forget_context).
  void io_context_stopped(boost::asio::io_context& here);

  /// Stops taking answers and the sweep thread; calls still in flight are dropped
  /// without an answer (their handlers are released). Idempotent.
  void shutdown();

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace switchyard::gateway
