#include "gateway/http_server.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cerrno>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include "gateway/api_error.hpp"

namespace switchyard::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

std::string incoming_request::header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (beast::iequals(k, name)) return v;
  return {};
}

std::string incoming_request::path() const {
  return target.substr(0, target.find('?'));
}

namespace {

std::string reason_phrase(unsigned status) {
  auto text = http::obsolete_reason(static_cast<http::status>(status));
  return text.empty() ? "Unknown" : std::string(text);
}

// Header values we write come from our own code, but a stray CR/LF must never split
// a header (response splitting): replace them.
std::string header_safe(std::string v) {
  for (auto& c : v)
    if (c == '\r' || c == '\n') c = ' ';
  return v;
}

void append_header_safe(std::string& out, const std::string& v) {
  size_t from = out.size();
  out += v;
  for (size_t i = from; i < out.size(); ++i)
    if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
}

// Written with appends into one string sized up front: this runs on every response, and
// fmt plus a string per header cost ~9,000 instructions where this costs ~1,500.
std::string response_bytes(const outgoing_response& r, bool keep_alive) {
  auto reason = http::obsolete_reason(static_cast<http::status>(r.status));
  if (reason.empty()) reason = "Unknown";
  size_t size = 128 + r.content_type.size() + r.body.size();
  for (const auto& [k, v] : r.headers) size += k.size() + v.size() + 4;
  std::string out;
  out.reserve(size);
  out += "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  out.append(reason.data(), reason.size());
  out += "\r\nServer: switchyard\r\nContent-Type: ";
  append_header_safe(out, r.content_type);
  out += "\r\nContent-Length: ";
  out += std::to_string(r.body.size());
  out += keep_alive ? "\r\nConnection: keep-alive\r\n" : "\r\nConnection: close\r\n";
  for (const auto& [k, v] : r.headers) {
    append_header_safe(out, k);
    out += ": ";
    append_header_safe(out, v);
    out += "\r\n";
  }
  out += "\r\n";
  out += r.body;
  return out;
}

class session;

}  // namespace

struct http_server::impl : std::enable_shared_from_this<http_server::impl> {
  // Declared before the io_context: handlers destroyed with it still reach these.
  http_server_options options;
  request_handler handler;
  http_server_hooks hooks;
  std::atomic<size_t> open{0};
  std::mutex sessions_mu;
  std::unordered_set<session*> sessions;
  std::atomic<bool> stopping{false};

  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  std::mutex stopped_mu;
  std::vector<std::function<void()>> on_stopped;

  void accept();
};

namespace {

class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket&& socket, http_server::impl& server)
      : stream_(std::move(socket)), server_(server), idle_timer_(stream_.get_executor()) {
    beast::error_code ec;
    auto remote = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = remote.address().to_string() + ":" + std::to_string(remote.port());
    fd_ = stream_.socket().native_handle();
    // Each write is a whole response or SSE chunk: send it now, not after the client's
    // (delayed) ACK of the previous one.
    stream_.socket().set_option(tcp::no_delay(true), ec);
  }

  ~session() {
    std::function<void()> closed_hook;
    {
      std::lock_guard<std::mutex> lock{server_.sessions_mu};
      server_.sessions.erase(this);
      closed_hook = server_.hooks.closed;  // stop() clears the hooks under this lock
    }
    --server_.open;
    if (closed_hook) closed_hook();
  }

  void start() {
    {
      std::lock_guard<std::mutex> lock{server_.sessions_mu};
      server_.sessions.insert(this);
    }
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
  }

  // Closes from any thread (server stop).
  void close_soon() {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->close(); });
  }

  bool closed() const { return closed_; }

  // -- called on the strand, through the channel ------------------------------------
  void send(outgoing_response r) {
    if (closed_ || !responding_) return;
    response_done_ = true;
    enqueue(response_bytes(r, keep_alive_));
  }

  // -- called on any thread, through the channel ------------------------------------
  // A whole response, written to the socket right here instead of after a hop to the
  // strand (which would wake the I/O thread first: tens to hundreds of microseconds on
  // a busy machine). Only while the session waits for exactly this answer: the strand
  // then has no write in progress and nothing else to write. What the socket does not
  // take at once, and the next read, go through the strand as usual.
  void send_from_any_thread(outgoing_response r) {
    std::string bytes;
    ssize_t sent = 0;
    {
      std::lock_guard<std::mutex> lock{direct_mu_};
      if (!direct_ready_) {
        bytes = response_bytes(r, keep_alive_);
      } else {
        direct_ready_ = false;
        bytes = response_bytes(r, keep_alive_);
        sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
          net::post(stream_.get_executor(), [self = shared_from_this()] { self->close(); });
          return;
        }
        if (sent < 0) sent = 0;
        if (static_cast<size_t>(sent) == bytes.size() && next_read_armed_) {
          // All of it went out and the next request's read is armed already (see
          // dispatch): the response is done without waking the I/O thread. Only a
          // request or read error that arrived meanwhile needs the strand.
          responding_ = false;
          idle_since_ = std::chrono::steady_clock::now();
          if (held_ || error_held_ || continue_held_)
            net::post(stream_.get_executor(),
                      [self = shared_from_this()] { self->release_held(); });
          return;
        }
        net::post(stream_.get_executor(),
                  [self = shared_from_this(), rest = bytes.substr(static_cast<size_t>(sent))]() mutable {
                    self->after_direct_send(std::move(rest));
                  });
        return;
      }
    }
    net::post(stream_.get_executor(), [self = shared_from_this(), bytes = std::move(bytes)]() mutable {
      if (self->closed_ || !self->responding_) return;
      self->response_done_ = true;
      self->enqueue(std::move(bytes));
    });
  }

  // A stream answers through the strand only.
  void no_direct_send() {
    std::lock_guard<std::mutex> lock{direct_mu_};
    direct_ready_ = false;
  }

  void start_stream(unsigned status, const header_list& headers) {
    if (closed_ || !responding_ || streaming_) return;
    streaming_ = true;
    std::string head = fmt::format(
        "HTTP/1.1 {} {}\r\nServer: switchyard\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: {}\r\n",
        status, reason_phrase(status), keep_alive_ ? "keep-alive" : "close");
    for (const auto& [k, v] : headers) head += header_safe(k) + ": " + header_safe(v) + "\r\n";
    head += "\r\n";
    enqueue(std::move(head));
  }

  void write_chunk(std::string data) {
    if (closed_ || !streaming_ || data.empty()) return;
    enqueue(fmt::format("{:x}\r\n", data.size()) + data + "\r\n");
  }

  void end_stream() {
    if (closed_ || !streaming_) return;
    streaming_ = false;
    response_done_ = true;
    enqueue("0\r\n\r\n");
  }

 private:
  // Reads the next request's header. `early`: armed while the previous response is
  // still being made (see dispatch), so the stream's own deadline (which would cut the
  // response's wait short) is off and the idle check enforces idle_timeout_ms from the
  // moment that response went out.
  void read_header(bool early = false) {
    if (closed_ || server_.stopping) return close();
    parser_.emplace();
    parser_->header_limit(server_.options.max_header_bytes);
    parser_->body_limit(server_.options.max_body_bytes);
    header_pending_ = early;
    if (early) {
      stream_.expires_never();
      if (!idle_timer_armed_)
        arm_idle_check(std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(server_.options.idle_timeout_ms));
    } else {
      stream_.expires_after(std::chrono::milliseconds(server_.options.idle_timeout_ms));
    }
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    header_pending_ = false;
    if (ec) return on_read_error(ec);
    auto& req = parser_->get();
    if (beast::iequals(req[http::field::expect], "100-continue") && !parser_->is_done()) {
      {
        // Not in the middle of the pending response: after it (release_held).
        std::lock_guard<std::mutex> lock{direct_mu_};
        if (responding_) {
          continue_held_ = true;
          return;
        }
      }
      send_continue();
      return;
    }
    read_body();
  }

  void send_continue() {
    // curl waits a second for this before sending a body over 1 KiB.
    auto cont = std::make_shared<std::string>("HTTP/1.1 100 Continue\r\n\r\n");
    stream_.expires_after(std::chrono::milliseconds(server_.options.read_timeout_ms));
    net::async_write(stream_, net::buffer(*cont),
                     [self = shared_from_this(), cont](beast::error_code ec, size_t) {
                       if (ec) return self->close();
                       self->read_body();
                     });
  }

  void read_body() {
    bool answer_pending = false;
    {
      std::lock_guard<std::mutex> lock{direct_mu_};
      answer_pending = responding_;
    }
    auto body_timeout = std::chrono::milliseconds(server_.options.read_timeout_ms);
    if (answer_pending) {
      // The header came while the previous answer is still being made: the body's
      // deadline starts when that answer has gone out (idle_check), so a slow answer
      // never costs the client its connection, and the answer, before it was written.
      body_pending_ = true;
      stream_.expires_never();
      auto due = std::chrono::steady_clock::now() + body_timeout;
      if (!idle_timer_armed_ || idle_due_ > due) arm_idle_check(due);
    } else {
      stream_.expires_after(body_timeout);
    }
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read_error(beast::error_code ec) {
    header_pending_ = false;
    body_pending_ = false;
    {
      // A read armed early failed while a response is still pending: that response
      // goes out first (release_held handles the error after it).
      std::lock_guard<std::mutex> lock{direct_mu_};
      if (responding_ && !closed_) {
        error_held_ = true;
        held_error_ = ec;
        return;
      }
    }
    // Answer what the client can act on; a vanished or timed-out client just goes.
    keep_alive_ = false;
    if (ec == http::error::body_limit) {
      return reject(413, invalid_request("body",
                                         fmt::format("body: larger than the limit of {} bytes",
                                                     server_.options.max_body_bytes),
                                         "body_too_large"));
    }
    if (ec == http::error::header_limit) {
      return reject(431, invalid_request("headers",
                                         fmt::format("headers: larger than the limit of {} bytes",
                                                     server_.options.max_header_bytes),
                                         "headers_too_large"));
    }
    if (ec.category() == beast::error_code{http::error::bad_target}.category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message)
      return reject(400, invalid_request("request", "request: malformed HTTP: " + ec.message(),
                                         "malformed_http"));
    close();
  }

  void reject(unsigned status, api_error error) {
    error.status = status;
    {
      std::lock_guard<std::mutex> lock{direct_mu_};
      responding_ = true;
      next_read_armed_ = false;
    }
    send({status, "application/json", {}, error_body(error)});
  }

  void on_read(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    body_pending_ = false;
    stream_.expires_never();
    auto req = parser_->release();
    bool keep_alive = req.keep_alive();
    incoming_request in;
    in.method = std::string(req.method_string());
    in.target = std::string(req.target());
    for (const auto& f : req)
      in.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    in.body = std::move(req.body());
    in.remote = remote_;
    {
      // A request that came while the previous response is still pending waits for it
      // (no pipelining): release_held hands it on once that response went out.
      std::lock_guard<std::mutex> lock{direct_mu_};
      if (responding_) {
        held_ = std::move(in);
        held_keep_alive_ = keep_alive;
        return;
      }
    }
    dispatch(std::move(in), keep_alive);
  }

  // Hands a request to the handler. With keep-alive the read of the next request is
  // armed at once, before the answer exists: the answer, written from whichever thread
  // makes it (send_from_any_thread), then needs no hop back to this I/O thread to
  // read on, and the I/O thread wakes once per request (for its arrival) instead of
  // twice.
  void dispatch(incoming_request in, bool keep_alive) {
    keep_alive_ = keep_alive;
    {
      std::lock_guard<std::mutex> lock{direct_mu_};
      responding_ = true;
      direct_ready_ = true;
      next_read_armed_ = keep_alive;
    }
    if (keep_alive) read_header(true);
    server_.handler(std::move(in), make_channel());
  }

  // On the strand once the pending response went out: the request or read error that
  // arrived meanwhile, if any.
  void release_held() {
    std::optional<incoming_request> request;
    bool keep_alive = false;
    bool failed = false;
    bool send_100 = false;
    beast::error_code error;
    {
      std::lock_guard<std::mutex> lock{direct_mu_};
      if (responding_ || closed_) return;
      send_100 = continue_held_;
      continue_held_ = false;
      request.swap(held_);
      keep_alive = held_keep_alive_;
      failed = error_held_;
      error = held_error_;
      error_held_ = false;
    }
    if (send_100) return send_continue();
    if (request) return dispatch(std::move(*request), keep_alive);
    if (failed) on_read_error(error);
  }

  // The deadline of a read armed early (read_header(true)), checked by one timer per
  // connection that re-arms itself: idle_timeout_ms after the last response went out,
  // unless the next header has arrived or a response is pending again; for a body
  // whose header came while a response was pending (read_body), read_timeout_ms after
  // that response went out. Closing the socket ends the read, as the stream's own
  // deadline would. Re-arming earlier supersedes the wait already armed.
  void arm_idle_check(std::chrono::steady_clock::time_point at) {
    idle_timer_armed_ = true;
    idle_due_ = at;
    idle_timer_.expires_at(at);
    auto generation = ++idle_generation_;
    idle_timer_.async_wait([self = shared_from_this(), generation](beast::error_code ec) {
      if (generation != self->idle_generation_) return;  // superseded by a later arming
      self->idle_timer_armed_ = false;
      if (!ec) self->idle_check();
    });
  }

  void idle_check() {
    if (closed_) return;
    auto now = std::chrono::steady_clock::now();
    auto idle = std::chrono::milliseconds(server_.options.idle_timeout_ms);
    if (header_pending_ || body_pending_) {
      auto limit =
          body_pending_ ? std::chrono::milliseconds(server_.options.read_timeout_ms) : idle;
      std::chrono::steady_clock::time_point since;
      bool busy = false;
      {
        std::lock_guard<std::mutex> lock{direct_mu_};
        busy = responding_;
        since = idle_since_;
      }
      if (!busy) {
        if (now >= since + limit) return close();
        return arm_idle_check(since + limit);
      }
      return arm_idle_check(now + std::min(idle, limit));
    }
    arm_idle_check(now + idle);
  }

  // On the strand after send_from_any_thread wrote (part of) a response.
  void after_direct_send(std::string rest) {
    if (closed_) return;
    response_done_ = true;
    if (!rest.empty()) return enqueue(std::move(rest));
    finish_response();
  }

  std::shared_ptr<response_channel> make_channel();

  void enqueue(std::string bytes) {
    outbox_.push_back(std::move(bytes));
    if (!writing_) write_next();
  }

  void write_next() {
    writing_ = true;
    stream_.expires_after(std::chrono::milliseconds(server_.options.write_timeout_ms));
    net::async_write(
        stream_, net::buffer(outbox_.front()),
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    if (ec) return close();
    outbox_.pop_front();
    if (!outbox_.empty()) return write_next();
    if (!response_done_) {
      stream_.expires_never();  // a stream waiting for its next chunk
      return;
    }
    finish_response();
  }

  // The response went out: read the next request, or close.
  void finish_response() {
    response_done_ = false;
    bool armed = false;
    {
      std::lock_guard<std::mutex> lock{direct_mu_};
      responding_ = false;
      idle_since_ = std::chrono::steady_clock::now();
      armed = next_read_armed_;
    }
    if (keep_alive_) return armed ? release_held() : read_header();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    drain_then_close();
  }

  // After the last response: read and drop what the client still sends (an unread
  // body) for a moment, so closing does not reset the connection before the client
  // has read the response.
  void drain_then_close() {
    if (closed_) return;
    stream_.expires_after(std::chrono::milliseconds(500));
    auto scratch = std::make_shared<std::array<char, 4096>>();
    stream_.async_read_some(net::buffer(*scratch),
                            [self = shared_from_this(), scratch](beast::error_code ec, size_t) {
                              if (ec) return self->close();
                              self->drain_then_close();
                            });
  }

  void close() {
    if (closed_) return;
    // Under the lock: a direct send must never write to the descriptor number once it
    // is closed (and maybe reused by another connection).
    std::lock_guard<std::mutex> lock{direct_mu_};
    direct_ready_ = false;
    closed_ = true;
    outbox_.clear();
    held_.reset();
    idle_timer_.cancel();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  http_server::impl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::deque<std::string> outbox_;
  std::string remote_;
  bool writing_ = false;
  bool header_pending_ = false;  // a read armed early waits for a header
  bool body_pending_ = false;    // a body whose header came while a response was pending
  bool idle_timer_armed_ = false;
  std::chrono::steady_clock::time_point idle_due_;
  uint64_t idle_generation_ = 0;
  net::steady_timer idle_timer_;
  bool streaming_ = false;
  bool response_done_ = false;
  bool keep_alive_ = true;
  std::atomic<bool> closed_{false};
  int fd_ = -1;
  std::mutex direct_mu_;
  bool direct_ready_ = false;  // waiting for the handler's answer, nothing being written
  // Under direct_mu_: a response is pending (from dispatch until it went out); the
  // next request's read is armed (keep-alive); when the last response went out; what
  // arrived on that read while a response was pending.
  std::atomic<bool> responding_{false};
  bool next_read_armed_ = false;
  std::chrono::steady_clock::time_point idle_since_;
  std::optional<incoming_request> held_;
  bool held_keep_alive_ = false;
  bool error_held_ = false;
  beast::error_code held_error_;
  bool continue_held_ = false;  // a header asked for 100 Continue
};

// Posts every call to the session's strand. Holds the session (nothing else does while
// the handler's answer is pending) and the server (its io_context), so a late answer
// from an actor never touches a destroyed one.
class channel final : public response_channel {
 public:
  channel(std::shared_ptr<session> s, net::any_io_executor ex,
          std::shared_ptr<http_server::impl> server)
      : session_(std::move(s)), ex_(std::move(ex)), server_(std::move(server)) {}

  // A handler that let go of its channel without answering (e.g. calls dropped at
  // shutdown) closes the connection, as when the channel held its only reference: the
  // read of the next request, armed early, holds the session too.
  ~channel() override {
    if (!answered_) session_->close_soon();
  }

  void send(outgoing_response r) override {
    answered_ = true;
    if (session_->closed()) return;
    session_->send_from_any_thread(std::move(r));
  }
  void start_stream(unsigned status, header_list headers) override {
    answered_ = true;
    session_->no_direct_send();
    post([status, headers = std::move(headers)](session& s) { s.start_stream(status, headers); });
  }
  void write(std::string data) override {
    post([data = std::move(data)](session& s) mutable { s.write_chunk(std::move(data)); });
  }
  void end() override {
    post([](session& s) { s.end_stream(); });
  }
  bool closed() const override { return session_->closed(); }

 private:
  template <class F>
  void post(F f) {
    if (session_->closed()) return;
    net::post(ex_, [s = session_, f = std::move(f)]() mutable { f(*s); });
  }
  std::shared_ptr<session> session_;
  bool answered_ = false;
  net::any_io_executor ex_;
  std::shared_ptr<http_server::impl> server_;  // keeps the io_context alive
};

std::shared_ptr<response_channel> session::make_channel() {
  return std::make_shared<channel>(shared_from_this(), stream_.get_executor(),
                                   server_.shared_from_this());
}

}  // namespace

void http_server::impl::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (stopping) return;
    if (!ec) {
      if (open.load() >= options.max_connections) {
        if (hooks.refused) hooks.refused();
        auto api = invalid_request("", "too many open connections; try again later",
                                   "too_many_connections");
        api.type = "server_error";
        auto body = error_body(api);
        auto bytes = std::make_shared<std::string>(
            fmt::format("HTTP/1.1 503 Service Unavailable\r\nServer: switchyard\r\nContent-Type: "
                        "application/json\r\nContent-Length: {}\r\nRetry-After: 1\r\nConnection: "
                        "close\r\n\r\n{}",
                        body.size(), body));
        auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
        stream->expires_after(std::chrono::milliseconds(500));
        net::async_write(
            *stream, net::buffer(*bytes), [stream, bytes](beast::error_code ec, size_t) {
              if (ec) return stream->close();
              // Drop what the client sent (for up to the deadline) before closing, so the
              // close does not reset the connection before it read the 503.
              beast::error_code ignored;
              stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
              auto scratch = std::make_shared<std::array<char, 4096>>();
              auto drain = std::make_shared<std::function<void()>>();
              *drain = [stream, scratch, drain] {
                stream->async_read_some(net::buffer(*scratch),
                                        [stream, scratch, drain](beast::error_code ec, size_t) {
                                          if (ec) {
                                            stream->close();
                                            *drain = nullptr;  // breaks the cycle
                                            return;
                                          }
                                          (*drain)();
                                        });
              };
              (*drain)();
            });
      } else {
        ++open;
        if (hooks.opened) hooks.opened();
        std::make_shared<session>(std::move(socket), *this)->start();
      }
    }
    accept();
  });
}

std::unique_ptr<http_server> http_server::start(const http_server_options& options,
                                                request_handler handler, http_server_hooks hooks,
                                                std::string& error) {
  std::unique_ptr<http_server> server{new http_server};
  server->impl_ = std::make_shared<impl>();
  auto& s = *server->impl_;
  s.options = options;
  s.handler = std::move(handler);
  s.hooks = std::move(hooks);
  beast::error_code ec;
  auto address = net::ip::make_address(options.host, ec);
  if (ec) {
    error = fmt::format("serve: '{}' is not an IP address: {}", options.host, ec.message());
    return nullptr;
  }
  tcp::endpoint where{address, options.port};
  s.acceptor.open(where.protocol(), ec);
  if (!ec) s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(where, ec);
  if (!ec) s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    error =
        fmt::format("serve: cannot listen on {}:{}: {}", options.host, options.port, ec.message());
    return nullptr;
  }
  s.port = s.acceptor.local_endpoint().port();
  s.work.emplace(s.ioc.get_executor());
  s.accept();
  for (uint32_t i = 0; i < std::max<uint32_t>(1, options.io_threads); ++i)
    s.threads.emplace_back([&s] {
      // Named for per-thread measurements (top -H, /proc/PID/task/*/comm).
      pthread_setname_np(pthread_self(), "sy.gateway_io");
      s.ioc.run();
    });
  return server;
}

http_server::~http_server() {
  stop();
}

uint16_t http_server::port() const {
  return impl_->port;
}

size_t http_server::open_connections() const {
  return impl_->open.load();
}

net::io_context* http_server::single_io_context() const {
  return impl_->threads.size() == 1 ? &impl_->ioc : nullptr;
}

void http_server::on_stopped(std::function<void()> f) {
  std::lock_guard<std::mutex> lock{impl_->stopped_mu};
  impl_->on_stopped.push_back(std::move(f));
}

void http_server::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  auto& s = *impl_;
  net::post(s.ioc, [&s] {
    beast::error_code ignored;
    s.acceptor.close(ignored);
  });
  // Take references under the lock, act outside it: dropping the last reference runs
  // ~session, which takes the same lock.
  std::vector<std::shared_ptr<session>> alive;
  {
    std::lock_guard<std::mutex> lock{s.sessions_mu};
    for (auto* sess : s.sessions)
      // A session in its destructor has left the set under this lock; any other is alive.
      if (auto p = sess->weak_from_this().lock()) alive.push_back(std::move(p));
  }
  for (auto& sess : alive) sess->close_soon();
  alive.clear();
  s.work.reset();
  // Whatever is still pending (an answer an actor has not sent yet) must not hold the
  // threads: give in-flight writes a moment, then stop the loop.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (s.open.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  s.ioc.stop();
  for (auto& t : s.threads)
    if (t.joinable()) t.join();
  std::vector<std::function<void()>> stopped;
  {
    std::lock_guard<std::mutex> lock{s.stopped_mu};
    stopped.swap(s.on_stopped);
  }
  for (auto& f : stopped) f();
  // Sessions that late answers still hold die later, maybe after the hooks' owner (the
  // metrics) is gone.
  std::lock_guard<std::mutex> lock{s.sessions_mu};
  s.hooks.closed = nullptr;
}

}  // namespace switchyard::gateway
