#pragma once
// The gateway's HTTP/1.1 server on Boost.Beast: asynchronous, on its own io_context
// threads, never on CAF's. Each connection reads one request at a time (keep-alive,
// no pipelining), hands it to the handler and reads the next once the response is
// written. Limits: header and body size (431 / 413 with an OpenAI-style error),
// a deadline for the header (idle keep-alive + slow headers) and one for the body
// (slow clients), a cap on open connections (503 and close).
//
// The handler runs on an I/O thread and must not block: it answers through the
// response_channel, from any thread, now or later (e.g. from an actor when a model
// call completes). Channel methods post to the connection's strand, so they are
// thread-safe and never block either.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace switchyard::gateway {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct incoming_request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query
  header_list headers;
  std::string body;
  std::string remote;  // peer address

  /// First header with this name (case-insensitive), or "".
  std::string header(const std::string& name) const;
  /// target without the query string.
  std::string path() const;
};

struct outgoing_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  header_list headers;
  std::string body;
};

/// How a handler answers one request. Either send() once, or start_stream() then any
/// number of write() and one end(). Calls after the connection closed are ignored.
class response_channel {
 public:
  virtual ~response_channel() = default;
  virtual void send(outgoing_response response) = 0;
  /// Sends the status line and headers of a chunked `text/event-stream` response.
  virtual void start_stream(unsigned status, header_list headers) = 0;
  virtual void write(std::string data) = 0;
  virtual void end() = 0;
  /// True once the client went away (writes then go nowhere).
  virtual bool closed() const = 0;
};

using request_handler =
    std::function<void(incoming_request request, std::shared_ptr<response_channel> channel)>;

struct http_server_options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: ephemeral
  uint32_t io_threads = 1;
  uint32_t max_body_bytes = 1u << 20;
  uint32_t max_header_bytes = 16384;
  uint32_t idle_timeout_ms = 30000;
  uint32_t read_timeout_ms = 30000;
  uint32_t write_timeout_ms = 60000;  // a response (or a stream's chunk) must drain by then
  uint32_t max_connections = 1024;
};

/// Connection events for metrics (called on I/O threads).
struct http_server_hooks {
  std::function<void()> opened, closed, refused;
};

class http_server {
 public:
  /// Binds and starts the I/O threads. On failure returns nullptr and sets `error`.
  static std::unique_ptr<http_server> start(const http_server_options& options,
                                            request_handler handler, http_server_hooks hooks,
                                            std::string& error);
  ~http_server();  // stop()
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  uint16_t port() const;
  size_t open_connections() const;
  /// The io_context of the server's one I/O thread (io_threads 1), else null: work a
  /// handler starts there (gateway_service::run_calls_on) runs on that same thread.
  boost::asio::io_context* single_io_context() const;
  /// `f` runs in stop() once the I/O threads have ended, before the io_context can go.
  void on_stopped(std::function<void()> f);
  /// Stops accepting, closes every connection, joins the I/O threads. Idempotent.
  void stop();

  struct impl;

 private:
  http_server() = default;
  std::shared_ptr<impl> impl_;
};

}  // namespace switchyard::gateway
