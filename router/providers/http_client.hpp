#pragma once
// The HTTP/1.1 client every provider call goes through (Boost.Beast over Asio).
//
// All I/O runs on the client's own io_context thread(s); `send` only queues work and
// returns at once, so a CAF scheduler thread calling it never blocks on the network.
// Results come back through callbacks, invoked on a client thread: keep them short
// (the model service turns them into actor messages). One exception to "all I/O on the
// client's threads": when a pooled plain-TCP connection is idle, `send` writes the
// request on it right away (non-blocking) and the io thread takes over from there, so
// the provider does not wait for the io thread to wake before it gets the request.
//
// Connections are kept alive and pooled per endpoint (scheme, host, port), at most
// the endpoint's max_connections of them open at once; calls beyond the cap queue in
// order and take the next connection that comes free. A request
// sent on a pooled connection that the server has meanwhile closed is retried once on
// a fresh connection, as long as no byte of the response had arrived.
// https verifies the peer against the system trust store and the host name (SNI set).
// Every transport failure becomes an http_failure of kind `connection` or `timeout`;
// HTTP statuses are not failures here (a 429 is a response the adapter maps).
// Messages never contain request headers: they may carry API keys.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "router/providers/http_types.hpp"
#include "runtime/http_url.hpp"

namespace boost::asio {
class io_context;
}

namespace switchyard {

/// Where requests go: scheme ("http" or "https"), host, port, and a path prefix
/// (e.g. "/v1" from "https://api.openai.com/v1"; empty when the URL has none).
struct http_endpoint {
  std::string scheme;
  std::string host;
  uint16_t port = 0;
  std::string base_path;
  /// Connections open at once to this endpoint (in use or idle); a call beyond it waits
  /// for one to come free, within its total timeout. 0: no cap.
  uint32_t max_connections = 0;

  bool tls() const { return scheme == "https"; }
  /// "scheme://host:port", the pool key; never contains credentials.
  std::string key() const;
};

/// The endpoint of a parsed base URL.
http_endpoint endpoint_of(const http_url& url);

/// Parses "http(s)://host[:port][/path]" (rules of runtime/http_url.hpp). On failure
/// returns nullopt and sets `error` to what is wrong.
std::optional<http_endpoint> parse_endpoint(const std::string& url, std::string& error);

/// The bytes the client writes for `request` to `endpoint`: request line (base_path +
/// target), Host, User-Agent, the request's headers in order (CR/LF in them become
/// spaces), `Connection: close` without keep-alive, Content-Length, body.
std::string request_bytes(const http_endpoint& endpoint, const http_request& request,
                          bool keep_alive);

/// Limits for one call, in milliseconds; 0 means no limit for that phase.
/// connect: DNS, TCP and TLS handshake of a new connection.
/// first_byte: from the request being sent to the response header being read.
/// total: the whole call, retries and body included.
struct http_timeouts {
  uint32_t connect_ms = 10000;
  uint32_t first_byte_ms = 60000;
  uint32_t total_ms = 300000;
};

/// A transport failure. `kind` is "connection" or "timeout"; empty means none.
struct http_failure {
  std::string kind;
  std::string message;

  bool ok() const { return kind.empty(); }
};

/// The outcome of one call. When `failure` is set, status and body hold whatever had
/// arrived (status 0 when no header came). For a streamed 2xx response the body was
/// handed to the chunk handler and `body` is empty.
struct http_result {
  http_failure failure;
  unsigned status = 0;
  http_headers headers;  // response headers, names as the server sent them
  std::string body;
  bool reused_connection = false;
  /// Time spent in our own code for this call (queueing excluded, waits on the socket
  /// excluded): the client's overhead. Measured with a steady clock.
  std::chrono::nanoseconds client_time{0};

  bool ok() const { return failure.ok(); }
  /// The first header with this name (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
};

/// Receives body bytes of a 2xx response in order, as they arrive.
using http_chunk_handler = std::function<void(std::string_view)>;
/// Receives the outcome; called exactly once per send.
using http_done_handler = std::function<void(http_result)>;

struct http_client_options {
  /// io_context threads. Default: 1 (plenty for I/O-bound provider calls).
  uint32_t threads = 1;
  /// Idle connections kept per endpoint. Default: 16.
  uint32_t max_idle_per_endpoint = 16;
  /// An idle connection older than this is closed instead of reused. Default: 30 s,
  /// below the keep-alive timeout of common servers (nginx 75 s, uvicorn 5 s is lower:
  /// the retry on a stale connection covers that case).
  std::chrono::milliseconds idle_timeout{30000};
  /// Verify the server certificate and host name. Default: true. Only tests turn it off.
  bool verify_peer = true;
  /// Extra CA file (PEM) trusted in addition to the system store; empty: none.
  std::string ca_file;
  /// When false, every call opens a new connection and closes it afterwards (the
  /// baseline of bench_http). Default: true.
  bool keep_alive = true;
};

/// Counters since the client started; readable from any thread.
struct http_client_stats {
  uint64_t requests = 0;
  uint64_t connections_opened = 0;
  uint64_t connections_reused = 0;
  uint64_t stale_retries = 0;
  uint64_t waited_for_connection = 0;  // calls that queued behind max_connections
  uint64_t sent_from_caller = 0;       // requests written by send() on a pooled connection
  uint64_t run_elsewhere = 0;          // calls send_here() ran on the caller's io_context
};

class http_client {
 public:
  explicit http_client(http_client_options options = {});
  /// Shuts down (see shutdown()) with a 2 s grace period.
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// Queues one call. Thread-safe, never blocks. `on_chunk` (optional) makes the call
  /// streaming: a 2xx body is delivered piece by piece instead of collected. `done` is
  /// called exactly once, on a client thread (or, after shutdown, at once on the
  /// caller's thread with a `connection` failure).
  /// `request.target` is appended to the endpoint's base_path; Host, Content-Length
  /// and User-Agent are set by the client. `here`: the io_context the calling thread
  /// runs alone, or null; with it a non-streaming call runs on this thread when it can
  /// (send_here).
  void send(const http_endpoint& endpoint, http_request request, const http_timeouts& timeouts,
            http_done_handler done, http_chunk_handler on_chunk = {},
            boost::asio::io_context* here = nullptr);

  /// Runs a non-streaming call wholly on the calling thread, which must be the one
  /// thread running `here`, when an idle pooled plain-TCP connection to the endpoint is
  /// at hand: the request is written from here, the connection joins `here`, and that
  /// thread reads the reply and calls `done` (no wake-up of the client's thread). Returns
  /// false, with nothing done, otherwise (no such connection, https, shutting down, not
  /// on `here`'s thread): use send(). Timeouts, the stale-connection retry,
  /// max_connections and the pool are the same as for send(); the connection goes back
  /// to the shared pool afterwards. Before `here` is destroyed, once no thread runs it,
  /// call forget_context(here).
  /// `done` is moved from only when it returns true.
  bool send_here(boost::asio::io_context& here, const http_endpoint& endpoint,
                 const http_request& request, const http_timeouts& timeouts,
                 http_done_handler&& done);
  /// `here` no longer runs (its thread stopped): calls still running on it fail now
  /// (kind `connection`, their `done` called on this thread) and pooled connections
  /// registered with it are closed. Call it only when no thread runs `here`.
  void forget_context(boost::asio::io_context& here);

  /// Stops taking calls, lets calls in flight finish for up to `grace`, then cancels
  /// the rest (their `done` gets a `connection` failure) and joins the threads.
  /// Idempotent. Safe to call from a client thread (it then does not join).
  void shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds{2000});

  http_client_stats stats() const;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace switchyard
