#include "router/providers/http_client.hpp"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cerrno>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace switchyard {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

// -- endpoints ------------------------------------------------------------------

std::string http_endpoint::key() const { return fmt::format("{}://{}:{}", scheme, host, port); }

http_endpoint endpoint_of(const http_url& url) {
  return {url.scheme, url.host, url.port, url.path};
}

std::optional<http_endpoint> parse_endpoint(const std::string& url, std::string& error) {
  auto parsed = parse_http_url(url, error);
  if (!parsed) return std::nullopt;
  return endpoint_of(*parsed);
}

const std::string* http_result::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (beast::iequals(k, beast::string_view(name.data(), name.size()))) return &v;
  return nullptr;
}

// -- connections ----------------------------------------------------------------

struct call;

namespace {

// Counts the connections open to one endpoint, for max_connections. A connection
// holds its endpoint's slot from the moment a call decides to open it (before DNS)
// until it is destroyed, so the cap also covers connections still being set up.
struct endpoint_slots {
  uint32_t open = 0;
  std::deque<std::weak_ptr<call>> waiting;  // in arrival order; finished calls skipped
};

struct connection {
  connection(std::string k, std::function<void(const std::string&)> on_gone)
      : key(std::move(k)), released(std::move(on_gone)) {}
  ~connection() {
    close();
    if (released) released(key);
  }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  std::string key;
  std::function<void(const std::string&)> released;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  steady::time_point idle_since;
  // The io_context the stream is registered with (see rehome), and the stream's protocol.
  net::io_context* home = nullptr;
  tcp protocol = tcp::v4();

  bool has_stream() const { return plain || secure; }
  beast::tcp_stream& lowest() { return secure ? secure->next_layer() : *plain; }
  void close() {
    if (!has_stream()) return;
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().socket().close(ignored);
  }
};

// Moves a plain connection's socket to `to`: its epoll registration leaves the old
// io_context and joins `to`, whose thread then completes the reads. Only for a
// connection nobody else touches (just taken from the pool) with no operation pending.
void rehome(connection& conn, net::io_context& to) {
  if (!conn.plain || conn.home == &to) return;
  beast::error_code ec;
  auto fd = conn.plain->socket().release(ec);
  conn.plain = std::make_unique<beast::tcp_stream>(to);
  conn.home = &to;
  if (!ec) conn.plain->socket().assign(conn.protocol, fd, ec);
  // Failing either way leaves a closed stream: the call's write or read fails on it and
  // the stale-connection retry opens a fresh one.
}

bool is_stale_connection_error(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::connection_aborted || ec == ssl::error::stream_truncated;
}

// Accumulates the time spent in our own handlers for one call.
class code_timer {
 public:
  explicit code_timer(std::chrono::nanoseconds& sink) : sink_(sink), start_(steady::now()) {}
  ~code_timer() { sink_ += steady::now() - start_; }
  // Excludes a user callback from the measured time.
  template <class F>
  void outside(F&& f) {
    auto t = steady::now();
    sink_ += t - start_;
    f();
    start_ = steady::now();
  }

 private:
  std::chrono::nanoseconds& sink_;
  steady::time_point start_;
};

}  // namespace

struct http_client::impl : std::enable_shared_from_this<http_client::impl> {
  explicit impl(http_client_options o) : opts(std::move(o)), work(net::make_work_guard(ioc)) {
    tls.set_default_verify_paths();
    if (!opts.ca_file.empty()) tls.load_verify_file(opts.ca_file);
    tls.set_verify_mode(opts.verify_peer ? ssl::verify_peer : ssl::verify_none);
  }

  http_client_options opts;
  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  ssl::context tls{ssl::context::tls_client};
  std::thread thread;
  std::thread::id thread_id;

  // Touched only on the io thread. `slots` is declared before `idle` so that it
  // outlives the idle connections, whose destructors release their slots.
  std::unordered_map<std::string, endpoint_slots> slots;
  // `idle` is also read by send() on the caller's thread (the direct send), so it has a
  // lock of its own; a connection taken out of it belongs to whoever took it.
  std::mutex idle_mu;
  std::unordered_map<std::string, std::vector<std::unique_ptr<connection>>> idle;
  // Also written by send() on the caller's thread (a call whose reply it starts
  // reading there), hence the lock and the atomic.
  std::mutex active_mu;
  std::unordered_map<uint64_t, std::weak_ptr<call>> active;
  std::atomic<uint64_t> next_call{0};

  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable cv;
  bool ran_out = false;  // guarded by mu
  bool joined = false;   // guarded by mu

  std::atomic<uint64_t> requests{0}, opened{0}, reused{0}, stale_retries{0}, waited{0},
      sent_from_caller{0}, run_elsewhere{0};
  // Calls queued behind max_connections, changed under idle_mu: a connection given back
  // from another io_context's thread goes to the idle list only when none waits (else
  // the io thread hands it over), so no waiter misses it.
  uint32_t waiting_calls = 0;
  std::atomic<bool> io_done{false};  // the io thread has ended (shutdown joined it)

  bool on_io_thread() const { return std::this_thread::get_id() == thread_id; }

  // A new connection to `key`, holding one of its slots until destroyed.
  std::unique_ptr<connection> new_connection(const std::string& key) {
    ++slots[key].open;
    ++opened;
    std::weak_ptr<impl> weak = weak_from_this();
    auto conn = std::make_unique<connection>(key, [weak](const std::string& k) {
      // Expired while the client itself is being destroyed: nothing waits any more.
      auto self = weak.lock();
      if (!self) return;
      // Slots are the io thread's: a connection that ends on another io_context's
      // thread (send_here) releases its slot there.
      if (self->on_io_thread() || self->io_done)
        self->release_slot(k);
      else
        net::post(self->ioc, [self, k] { self->release_slot(k); });
    });
    conn->home = &ioc;
    return conn;
  }

  bool at_capacity(const http_endpoint& ep, const std::string& key) {
    return ep.max_connections > 0 && slots[key].open >= ep.max_connections;
  }

  void release_slot(const std::string& key);
  // Hands a connection that came free to the first call waiting for `key`, if any.
  bool hand_over(std::unique_ptr<connection>& conn);

  std::unique_ptr<connection> take_idle(const std::string& key) {
    std::vector<std::unique_ptr<connection>> expired;  // destroyed outside the lock
    std::unique_ptr<connection> fresh;
    {
      std::lock_guard<std::mutex> lock{idle_mu};
      auto it = idle.find(key);
      if (it == idle.end()) return nullptr;
      auto& list = it->second;
      auto now = steady::now();
      while (!list.empty()) {
        auto conn = std::move(list.back());
        list.pop_back();
        if (now - conn->idle_since < opts.idle_timeout) {
          fresh = std::move(conn);
          break;
        }
        expired.push_back(std::move(conn));
      }
    }
    for (auto& conn : expired) conn->close();
    if (fresh) rehome(*fresh, ioc);
    return fresh;
  }

  // For send() on the caller's thread: the newest idle connection to `key` if it is a
  // plain-TCP one still fresh, else nothing (expired ones are left for the io thread,
  // since destroying a connection touches `slots`).
  std::unique_ptr<connection> take_fresh_plain(const std::string& key) {
    std::lock_guard<std::mutex> lock{idle_mu};
    auto it = idle.find(key);
    if (it == idle.end() || it->second.empty()) return nullptr;
    auto& newest = it->second.back();
    if (!newest->plain || steady::now() - newest->idle_since >= opts.idle_timeout) return nullptr;
    auto conn = std::move(newest);
    it->second.pop_back();
    return conn;
  }

  void give_back(std::unique_ptr<connection> conn) {
    if (!on_io_thread() && !stopping) {
      // From a call that ran on another io_context (send_here): straight to the idle
      // list unless a call waits for a connection, which only the io thread may hand.
      {
        std::lock_guard<std::mutex> lock{idle_mu};
        auto& list = idle[conn->key];
        if (waiting_calls == 0 && list.size() < opts.max_idle_per_endpoint) {
          conn->idle_since = steady::now();
          list.push_back(std::move(conn));
          return;
        }
      }
      auto shared = std::make_shared<std::unique_ptr<connection>>(std::move(conn));
      net::post(ioc, [self = shared_from_this(), shared] {
        rehome(**shared, self->ioc);
        self->give_back(std::move(*shared));
      });
      return;
    }
    if (!stopping && hand_over(conn)) return;
    {
      std::lock_guard<std::mutex> lock{idle_mu};
      auto& list = idle[conn->key];
      if (!stopping && list.size() < opts.max_idle_per_endpoint) {
        conn->idle_since = steady::now();
        list.push_back(std::move(conn));
        return;
      }
    }
    conn->close();
  }

  void close_idle() {
    std::unordered_map<std::string, std::vector<std::unique_ptr<connection>>> gone;
    {
      std::lock_guard<std::mutex> lock{idle_mu};
      gone.swap(idle);
    }
    for (auto& [key, list] : gone)
      for (auto& conn : list) conn->close();
  }

  void cancel_active();
};

namespace {

std::string describe(const beast::error_code& ec) {
  if (ec == http::error::end_of_stream || ec == net::error::eof)
    return "connection closed by the server";
  if (ec == http::error::partial_message) return "connection closed before the response ended";
  return ec.message();
}

}  // namespace

struct call : std::enable_shared_from_this<call> {
  call(std::shared_ptr<http_client::impl> o, http_endpoint e, http_timeouts t,
       net::io_context& where)
      : owner(std::move(o)),
        io(where),
        ep(std::move(e)),
        ep_key(ep.key()),
        timeouts(t),
        resolver(io),
        phase_timer(io) {}

  // A call dropped unrun (queued when the client stopped) still answers its caller.
  ~call() {
    if (!finished && done) {
      result.failure = {"connection", "http client shut down before the call started"};
      done(std::move(result));
    }
  }

  std::shared_ptr<http_client::impl> owner;
  // Where the call's handlers run: the client's io_context, or the one send_here was
  // given (whose thread then runs the whole call).
  net::io_context& io;
  http_endpoint ep;
  std::string ep_key;  // ep.key(), computed once
  http_timeouts timeouts;
  std::string wire;  // the whole request as it goes on the wire
  // Set when send() already wrote `wire` (or failed to) on a pooled connection from the
  // caller's thread: how many bytes went out, and errno when it failed.
  bool sent_directly = false;
  ssize_t direct_sent = 0;
  int direct_errno = 0;
  http_done_handler done;
  http_chunk_handler on_chunk;
  uint64_t id = 0;

  tcp::resolver resolver;
  net::steady_timer phase_timer;
  uint64_t timer_generation = 0;
  std::unique_ptr<connection> conn;
  std::optional<http::response_parser<http::string_body>> parser;

  steady::time_point started;
  steady::time_point total_end;
  const char* phase = "connect";
  uint32_t phase_ms = 0;
  bool phase_is_total = false;
  bool timed_out = false;
  bool retried = false;
  bool finished = false;
  bool streaming_body = false;
  bool waiting = false;  // queued behind the endpoint's max_connections
  uint64_t streamed_bytes = 0;
  http_result result;

  // Starts a phase whose deadline is `ms` from now, capped by the total deadline.
  void arm(const char* name, uint32_t ms) {
    phase = name;
    auto deadline = total_end;
    phase_is_total = true;
    phase_ms = timeouts.total_ms;
    if (ms > 0 && (timeouts.total_ms == 0 || steady::now() + std::chrono::milliseconds(ms) <
                                                 total_end)) {
      deadline = steady::now() + std::chrono::milliseconds(ms);
      phase_is_total = false;
      phase_ms = ms;
    }
    auto gen = ++timer_generation;
    if (timeouts.total_ms == 0 && ms == 0) {
      phase_timer.cancel();
      return;
    }
    phase_timer.expires_at(deadline);
    phase_timer.async_wait([self = shared_from_this(), gen](const beast::error_code& ec) {
      if (ec || gen != self->timer_generation || self->finished) return;
      if (self->waiting) {
        self->set_waiting(false);  // the queue drops it lazily: it is finished now
        return self->fail_now("timeout",
                              fmt::format("no free connection to {} within the total timeout "
                                          "of {} ms ({} connections, all busy)",
                                          self->ep_key, self->timeouts.total_ms,
                                          self->ep.max_connections));
      }
      self->timed_out = true;
      self->resolver.cancel();
      if (self->conn) self->conn->close();
    });
  }

  template <class F>
  void with_stream(F&& f) {
    if (conn->secure)
      f(*conn->secure);
    else
      f(*conn->plain);
  }

  void set_waiting(bool on) {
    if (waiting == on) return;
    waiting = on;
    std::lock_guard<std::mutex> lock{owner->idle_mu};
    if (on)
      ++owner->waiting_calls;
    else
      --owner->waiting_calls;
  }

  // The call's clock starts: the total timeout counts from here.
  void start_clock() {
    started = steady::now();
    total_end = timeouts.total_ms > 0 ? started + std::chrono::milliseconds(timeouts.total_ms)
                                      : steady::time_point::max();
  }

  // Among the calls cancel_active() fails at shutdown.
  void register_active() {
    std::lock_guard<std::mutex> lock{owner->active_mu};
    owner->active.emplace(id, weak_from_this());
  }

  void start() {
    code_timer t{result.client_time};
    start_clock();
    if (owner->stopping) return fail_now("connection", "http client is shut down");
    register_active();
    if (sent_directly) return after_direct_send();
    if (owner->opts.keep_alive) conn = owner->take_idle(ep_key);
    if (!conn && owner->at_capacity(ep, ep_key)) {
      // Counted as waiting first, then the idle list looked at again: a connection
      // given back from another thread in between (give_back) is either seen here or
      // handed to this call by the io thread.
      set_waiting(true);
      if (owner->opts.keep_alive) conn = owner->take_idle(ep_key);
      if (conn) set_waiting(false);
    }
    if (conn) {
      result.reused_connection = true;
      ++owner->reused;
      write();
    } else if (waiting) {
      ++owner->waited;
      owner->slots[ep_key].waiting.push_back(weak_from_this());
      arm("connection slot", 0);  // bounded by the total timeout only
    } else {
      connect();
    }
  }

  // Called by the pool when this waiting call gets its turn: either a pooled
  // connection (`given`) or a free slot to open a new one (`given` null).
  void resume(std::unique_ptr<connection> given) {
    code_timer t{result.client_time};
    set_waiting(false);
    if (given) {
      conn = std::move(given);
      result.reused_connection = true;
      ++owner->reused;
      return write();
    }
    connect();
  }

  void connect() {
    if (!conn) conn = owner->new_connection(ep_key);
    arm("connect", timeouts.connect_ms);
    resolver.async_resolve(
        ep.host, std::to_string(ep.port),
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
          self->on_resolve(ec, std::move(results));
        });
  }

  void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
    code_timer t{result.client_time};
    if (ec) return fail(ec, "resolving the host");
    if (ep.tls())
      conn->secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io, owner->tls);
    else
      conn->plain = std::make_unique<beast::tcp_stream>(io);
    conn->home = &io;
    conn->lowest().async_connect(
        results, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint& where) {
          if (!ec && self->conn) self->conn->protocol = where.protocol();
          self->on_connect(ec);
        });
  }

  void on_connect(beast::error_code ec) {
    code_timer t{result.client_time};
    if (ec) return fail(ec, "connecting");
    beast::error_code ignored;
    conn->lowest().socket().set_option(tcp::no_delay(true), ignored);
    if (!conn->secure) return write();
    // SNI: servers hosting many names pick the certificate from it.
    if (!SSL_set_tlsext_host_name(conn->secure->native_handle(), ep.host.c_str()))
      return fail_now("connection", fmt::format("TLS: cannot set SNI host name for {}", ep.key()));
    if (owner->opts.verify_peer)
      conn->secure->set_verify_callback(ssl::host_name_verification(ep.host));
    conn->secure->async_handshake(ssl::stream_base::client,
                                  [self = shared_from_this()](beast::error_code ec) {
                                    code_timer t{self->result.client_time};
                                    if (ec) return self->fail(ec, "TLS handshake");
                                    self->write();
                                  });
  }

  void expect_response() {
    arm("response header", timeouts.first_byte_ms);
    parser.emplace();
    parser->body_limit(std::uint64_t{256} << 20);
    parser->header_limit(64 * 1024);
  }

  void write() { write_from(0); }

  // Sends wire[from..] and then reads the response.
  void write_from(size_t from) {
    expect_response();
    with_stream([&](auto& stream) {
      net::async_write(stream, net::buffer(wire.data() + from, wire.size() - from),
                       [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         code_timer t{self->result.client_time};
                         if (ec) return self->fail(ec, "sending the request");
                         self->read_header();
                       });
    });
  }

  // On the caller's thread, after send() wrote the whole request on a pooled
  // connection: what start() and after_direct_send() do, ending with the read of the
  // reply started from here as well (Asio lets any thread start an operation on an
  // object no other thread uses), so the io thread is not woken to start it: only the
  // reply wakes it. Nothing here touches the call once the read is started: its
  // completion may already run on the io thread.
  void start_reading_here() {
    {
      code_timer t{result.client_time};  // done before the read can complete elsewhere
      start_clock();
      register_active();
      result.reused_connection = true;
      ++owner->reused;
      expect_response();
    }
    read_header();
  }

  // On the io thread after send() wrote the request on a pooled connection itself.
  void after_direct_send() {
    result.reused_connection = true;
    ++owner->reused;
    if (direct_errno != 0) {
      expect_response();
      // A pooled connection the server closed: fail() retries it once on a new one.
      return fail(beast::error_code{direct_errno, boost::system::system_category()},
                  "sending the request");
    }
    auto sent = static_cast<size_t>(std::max<ssize_t>(0, direct_sent));
    if (sent < wire.size()) return write_from(sent);
    expect_response();
    read_header();
  }

  void read_header() {
    with_stream([&](auto& stream) {
      http::async_read_header(stream, conn->buffer, *parser,
                              [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                self->on_header(ec);
                              });
    });
  }

  void on_header(beast::error_code ec) {
    code_timer t{result.client_time};
    if (ec) return fail(ec, "reading the response header");
    arm("response body", 0);
    const auto& head = parser->get();
    result.status = head.result_int();
    result.headers.reserve(std::distance(head.begin(), head.end()));
    for (const auto& field : head)
      result.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    streaming_body = on_chunk && result.status >= 200 && result.status < 300;
    if (parser->is_done()) return complete(t);
    if (streaming_body) return read_some();
    with_stream([&](auto& stream) {
      http::async_read(stream, conn->buffer, *parser,
                       [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         code_timer t{self->result.client_time};
                         if (ec) return self->fail(ec, "reading the response body");
                         self->complete(t);
                       });
    });
  }

  void read_some() {
    with_stream([&](auto& stream) {
      http::async_read_some(stream, conn->buffer, *parser,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              self->on_some(ec);
                            });
    });
  }

  void on_some(beast::error_code ec) {
    code_timer t{result.client_time};
    auto& body = parser->get().body();
    if (!body.empty() && !finished) {
      streamed_bytes += body.size();
      t.outside([&] { on_chunk(body); });
      body.clear();
    }
    if (ec) return fail(ec, "reading the response stream");
    if (parser->is_done()) return complete(t);
    read_some();
  }

  void complete(code_timer& t) {
    if (finished) return;
    bool keep = owner->opts.keep_alive && parser->keep_alive() && !owner->stopping;
    if (!streaming_body) result.body = std::move(parser->get().body());
    parser.reset();
    if (keep)
      owner->give_back(std::move(conn));
    else if (conn)
      conn->close();
    conn.reset();
    deliver(&t);
  }

  // A transport error: retry a stale pooled connection once, otherwise report.
  void fail(const beast::error_code& ec, const char* doing) {
    if (finished) return;
    bool nothing_received = result.status == 0 && (!conn || conn->buffer.size() == 0);
    if (result.reused_connection && !retried && !timed_out && nothing_received &&
        is_stale_connection_error(ec) && !owner->stopping) {
      retried = true;
      ++owner->stale_retries;
      ++owner->opened;
      // Same connection object, fresh socket: the call keeps its slot of max_connections.
      conn->close();
      conn->plain.reset();
      conn->secure.reset();
      conn->buffer.consume(conn->buffer.size());
      result.reused_connection = false;
      return connect();
    }
    if (timed_out) {
      std::string what = phase_is_total
                             ? fmt::format("call exceeded its total timeout of {} ms", phase_ms)
                             : fmt::format("no {} within {} ms", phase, phase_ms);
      if (std::string_view{phase} == "connect")
        what = phase_is_total ? what : fmt::format("connect not done within {} ms", phase_ms);
      return fail_now("timeout", fmt::format("{} ({})", what, ep.key()));
    }
    std::string detail = describe(ec);
    if (streaming_body || (result.status != 0 && std::string_view{phase} == "response body"))
      detail = fmt::format("{} after {} body bytes", detail,
                           streaming_body ? streamed_bytes : parser ? parser->get().body().size()
                                                                    : 0);
    fail_now("connection", fmt::format("{} {}: {}", doing, ep.key(), detail));
  }

  void fail_now(const char* kind, std::string message) {
    if (conn) {
      conn->close();
      conn.reset();
    }
    result.failure.kind = kind;
    result.failure.message = std::move(message);
    if (parser && !streaming_body) result.body = std::move(parser->get().body());
    deliver(nullptr);
  }

  void deliver(code_timer* t) {
    if (finished) return;
    finished = true;
    set_waiting(false);
    ++timer_generation;
    phase_timer.cancel();
    resolver.cancel();
    {
      std::lock_guard<std::mutex> lock{owner->active_mu};
      owner->active.erase(id);
    }
    auto handler = std::move(done);
    done = nullptr;  // ~call answers only calls that never ran
    on_chunk = nullptr;
    auto run = [&] {
      try {
        handler(std::move(result));
      } catch (const std::exception& e) {
        spdlog::error("http client: a done handler threw: {}", e.what());
      }
    };
    if (t)
      t->outside(run);
    else
      run();
  }
};

void http_client::impl::release_slot(const std::string& key) {
  auto it = slots.find(key);
  if (it == slots.end()) return;
  auto& s = it->second;
  if (s.open > 0) --s.open;
  if (stopping) return;
  // A slot came free: the first live waiter opens a new connection with it. Starting
  // its connect here only queues asynchronous work, so this is safe inside another
  // call's handler or a connection's destructor.
  while (!s.waiting.empty()) {
    auto next = s.waiting.front().lock();
    s.waiting.pop_front();
    if (!next || next->finished || !next->waiting) continue;
    next->resume(nullptr);
    return;
  }
}

bool http_client::impl::hand_over(std::unique_ptr<connection>& conn) {
  auto it = slots.find(conn->key);
  if (it == slots.end()) return false;
  auto& queue = it->second.waiting;
  while (!queue.empty()) {
    auto next = queue.front().lock();
    queue.pop_front();
    if (!next || next->finished || !next->waiting) continue;
    next->resume(std::move(conn));
    return true;
  }
  return false;
}

void http_client::impl::cancel_active() {
  std::unordered_map<uint64_t, std::weak_ptr<call>> calls;
  {
    std::lock_guard<std::mutex> lock{active_mu};
    calls = std::move(active);
    active.clear();
  }
  for (auto& [id, weak] : calls)
    if (auto c = weak.lock()) {
      // A call running on another io_context (send_here) is that thread's: it ends in
      // forget_context, or with that io_context.
      if (&c->io == &ioc) c->fail_now("connection", "http client shut down during the call");
    }
}

// -- http_client ----------------------------------------------------------------

namespace {

// A header value or name must never split the header block.
void append_header_safe(std::string& out, const std::string& v) {
  for (char ch : v) out += (ch == '\r' || ch == '\n') ? ' ' : ch;
}

bool method_has_body(http::verb v) {
  return v == http::verb::post || v == http::verb::put || v == http::verb::patch;
}

}  // namespace

// The request as Beast's serializer wrote it from an http::request (request line, Host,
// User-Agent, the adapter's headers in order, Connection: close without keep-alive,
// Content-Length as prepare_payload() sets it, body), formatted straight into one string.
std::string request_bytes(const http_endpoint& endpoint, const http_request& request,
                          bool keep_alive) {
  auto verb = http::string_to_verb(request.method);
  if (verb == http::verb::unknown) verb = http::verb::post;
  std::string out;
  out.reserve(160 + request.target.size() + endpoint.base_path.size() + request.body.size() +
              request.headers.size() * 48);
  auto method = http::to_string(verb);
  out.append(method.data(), method.size());
  out += ' ';
  out += endpoint.base_path;
  out += request.target;
  out += " HTTP/1.1\r\nHost: ";
  bool default_port = endpoint.port == (endpoint.tls() ? 443 : 80);
  out += endpoint.host;
  if (!default_port) {
    out += ':';
    out += std::to_string(endpoint.port);
  }
  out += "\r\nUser-Agent: switchyard\r\n";
  for (const auto& [name, value] : request.headers) {
    append_header_safe(out, name);
    out += ": ";
    append_header_safe(out, value);
    out += "\r\n";
  }
  if (!keep_alive) out += "Connection: close\r\n";
  if (!request.body.empty() || method_has_body(verb)) {
    out += "Content-Length: ";
    out += std::to_string(request.body.size());
    out += "\r\n";
  }
  out += "\r\n";
  out += request.body;
  return out;
}


http_client::http_client(http_client_options options)
    : impl_(std::make_shared<impl>(std::move(options))) {
  impl_->thread = std::thread([self = impl_] {
    // Named for per-thread measurements (top -H, /proc/PID/task/*/comm).
    pthread_setname_np(pthread_self(), "sy.http_client");
    self->ioc.run();
    std::lock_guard<std::mutex> lock{self->mu};
    self->ran_out = true;
    self->cv.notify_all();
  });
  impl_->thread_id = impl_->thread.get_id();
}

http_client::~http_client() { shutdown(); }

void http_client::send(const http_endpoint& endpoint, http_request request,
                       const http_timeouts& timeouts, http_done_handler done,
                       http_chunk_handler on_chunk, boost::asio::io_context* here) {
  if (here != nullptr && !on_chunk &&
      send_here(*here, endpoint, request, timeouts, std::move(done)))
    return;
  if (impl_->stopping) {
    http_result result;
    result.failure = {"connection", "http client is shut down"};
    done(std::move(result));
    return;
  }
  auto c = std::make_shared<call>(impl_, endpoint, timeouts, impl_->ioc);
  {
    code_timer t{c->result.client_time};
    c->wire = request_bytes(endpoint, request, impl_->opts.keep_alive);
    c->done = std::move(done);
    c->on_chunk = std::move(on_chunk);
  }
  ++impl_->requests;
  // With an idle pooled connection at hand, the request goes out from this thread at
  // once: the provider starts on it while the io thread wakes up to read the answer,
  // instead of after that wake-up (tens of microseconds, more on a busy machine).
  if (impl_->opts.keep_alive && !endpoint.tls() && !impl_->stopping) {
    if (auto conn = impl_->take_fresh_plain(c->ep_key)) {
      rehome(*conn, impl_->ioc);  // it may have served a call on another io_context
      int fd = conn->plain->socket().native_handle();
      c->direct_sent = ::send(fd, c->wire.data(), c->wire.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      c->direct_errno = c->direct_sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK ? errno : 0;
      c->sent_directly = true;
      c->conn = std::move(conn);
      ++impl_->sent_from_caller;
      if (c->direct_errno == 0 &&
          static_cast<size_t>(std::max<ssize_t>(0, c->direct_sent)) == c->wire.size()) {
        // All of it went out: read the reply from here too (start_reading_here).
        c->id = impl_->next_call++;
        c->start_reading_here();
        return;
      }
    }
  }
  net::post(impl_->ioc, [c] {
    c->id = c->owner->next_call++;
    c->start();
  });
}

bool http_client::send_here(boost::asio::io_context& here, const http_endpoint& endpoint,
                            const http_request& request, const http_timeouts& timeouts,
                            http_done_handler&& done) {
  if (impl_->stopping || !impl_->opts.keep_alive || endpoint.tls() ||
      !here.get_executor().running_in_this_thread())
    return false;
  auto conn = impl_->take_fresh_plain(endpoint.key());
  if (!conn) return false;
  auto c = std::make_shared<call>(impl_, endpoint, timeouts, here);
  {
    code_timer t{c->result.client_time};
    c->wire = request_bytes(endpoint, request, true);
    c->done = std::move(done);
    rehome(*conn, here);
  }
  ++impl_->requests;
  ++impl_->run_elsewhere;
  ++impl_->sent_from_caller;
  int fd = conn->plain->socket().native_handle();
  c->direct_sent = ::send(fd, c->wire.data(), c->wire.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  c->direct_errno = c->direct_sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK ? errno : 0;
  c->sent_directly = true;
  c->conn = std::move(conn);
  c->id = impl_->next_call++;
  if (c->direct_errno == 0 &&
      static_cast<size_t>(std::max<ssize_t>(0, c->direct_sent)) == c->wire.size()) {
    c->start_reading_here();
    return true;
  }
  // The rest of the request, or the retry of a connection the server had closed, from
  // here too: this thread runs `here`.
  c->start();
  return true;
}

void http_client::forget_context(boost::asio::io_context& here) {
  auto& s = *impl_;
  std::vector<std::shared_ptr<call>> running;
  {
    std::lock_guard<std::mutex> lock{s.active_mu};
    for (auto& [id, weak] : s.active)
      if (auto c = weak.lock(); c && &c->io == &here) running.push_back(std::move(c));
  }
  for (auto& c : running)
    c->fail_now("connection", fmt::format("the thread running the call to {} stopped", c->ep_key));
  std::vector<std::unique_ptr<connection>> gone;  // destroyed outside the lock
  {
    std::lock_guard<std::mutex> lock{s.idle_mu};
    for (auto& [key, list] : s.idle) {
      auto keep = std::stable_partition(list.begin(), list.end(),
                                        [&](const auto& conn) { return conn->home != &here; });
      for (auto it = keep; it != list.end(); ++it) gone.push_back(std::move(*it));
      list.erase(keep, list.end());
    }
  }
}

void http_client::shutdown(std::chrono::milliseconds grace) {
  auto& s = *impl_;
  {
    std::lock_guard<std::mutex> lock{s.mu};
    if (s.joined) return;
    s.joined = true;
  }
  s.stopping = true;
  if (std::this_thread::get_id() == s.thread_id) {
    // Called from a callback: cancel what is left and let the thread end on its own.
    s.cancel_active();
    s.close_idle();
    s.work.reset();
    s.thread.detach();
    return;
  }
  net::post(s.ioc, [p = impl_] { p->close_idle(); });
  s.work.reset();
  {
    std::unique_lock<std::mutex> lock{s.mu};
    if (!s.cv.wait_for(lock, grace, [&] { return s.ran_out; })) {
      lock.unlock();
      net::post(s.ioc, [p = impl_] {
        p->cancel_active();
        p->close_idle();
      });
    }
  }
  s.thread.join();
  s.io_done = true;
  // Calls queued in the shutdown window: run them so they fail and answer.
  s.ioc.restart();
  s.ioc.poll();
}

http_client_stats http_client::stats() const {
  return {impl_->requests.load(),      impl_->opened.load(), impl_->reused.load(),
          impl_->stale_retries.load(), impl_->waited.load(), impl_->sent_from_caller.load(),
          impl_->run_elsewhere.load()};
}

}  // namespace switchyard
