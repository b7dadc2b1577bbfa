#include "gateway/model_caller.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "caf/actor_companion.hpp"
#include "caf/all.hpp"
#include "caf/scoped_execution_unit.hpp"
#include "router/call_core.hpp"

namespace switchyard::gateway {

namespace {

using clock_type = std::chrono::steady_clock;

struct pending_call {
  std::shared_ptr<model_call_handler> handler;
  std::string call_id;
  bool streaming = false;
  clock_type::time_point deadline;
  std::mutex mu;  // one handler call at a time: the sweep may race the service
  bool finished = false;
};

model_response error_reply(const std::string& call_id, std::string kind, std::string message) {
  model_response r;
  r.call_id = call_id;
  r.error.kind = std::move(kind);
  r.error.message = std::move(message);
  return r;
}

}  // namespace

struct model_caller::impl {
  caf::actor_system* sys = nullptr;
  caf::actor service;
  caf::actor companion;
  std::chrono::milliseconds timeout;
  std::shared_ptr<call_core> direct;  // null: every call goes through the mailbox
  std::atomic<boost::asio::io_context*> here{nullptr};  // run_calls_on
  std::atomic<uint64_t> direct_started{0};

  mutable std::mutex mu;
  std::map<uint64_t, std::shared_ptr<pending_call>> calls;  // by request id: oldest first
  std::unordered_map<std::string, uint64_t> streams;        // call_id -> request id
  uint64_t next_id = 1;
  bool stopping = false;
  std::condition_variable wake;
  std::thread sweeper;

  caf::actor_companion* companion_ptr() {
    return static_cast<caf::actor_companion*>(caf::actor_cast<caf::abstract_actor*>(companion));
  }

  // Removes the call from the tables; whoever gets it ends it.
  std::shared_ptr<pending_call> take(uint64_t id) {
    std::lock_guard<std::mutex> lock{mu};
    auto it = calls.find(id);
    if (it == calls.end()) return nullptr;
    auto p = std::move(it->second);
    calls.erase(it);
    if (p->streaming) streams.erase(p->call_id);
    return p;
  }

  std::shared_ptr<pending_call> find_stream(const std::string& call_id) {
    std::lock_guard<std::mutex> lock{mu};
    auto s = streams.find(call_id);
    if (s == streams.end()) return nullptr;
    auto it = calls.find(s->second);
    return it == calls.end() ? nullptr : it->second;
  }

  static void finish(pending_call& p, model_response& r) {
    std::lock_guard<std::mutex> lock{p.mu};
    if (p.finished) return;
    p.finished = true;
    p.handler->done(r);
  }

  template <class F>
  void on_stream_event(const std::string& call_id, F&& f) {
    auto p = find_stream(call_id);
    if (!p) return;
    std::lock_guard<std::mutex> lock{p->mu};
    if (!p->finished) f(*p->handler);
  }

  // Runs on the sender's thread (a CAF worker), inside the companion's enqueue.
  void on_message(caf::mailbox_element& element) {
    auto msg = element.move_content_to_message();
    if (element.mid.is_response()) {
      auto p = take(element.mid.request_id().integer_value());
      if (!p) return;
      if (msg.match_elements<model_response>()) {
        finish(*p, msg.get_mutable_as<model_response>(0));
      } else if (msg.match_elements<caf::error>()) {
        auto r = error_reply(p->call_id, "server_error",
                             "model service: " + to_string(msg.get_as<caf::error>(0)));
        finish(*p, r);
      } else {
        auto r = error_reply(p->call_id, "server_error",
                             "model service: unexpected answer " + to_string(msg));
        finish(*p, r);
      }
      return;
    }
    if (msg.match_elements<stream_delta>()) {
      auto& d = msg.get_mutable_as<stream_delta>(0);
      on_stream_event(d.call_id, [&](model_call_handler& h) { h.delta(d); });
    } else if (msg.match_elements<stream_routed>()) {
      const auto& r = msg.get_as<stream_routed>(0);
      on_stream_event(r.call_id, [&](model_call_handler& h) { h.routed(r); });
    } else if (msg.match_elements<stream_switch>()) {
      const auto& sw = msg.get_as<stream_switch>(0);
      on_stream_event(sw.call_id, [&](model_call_handler& h) { h.switched(sw); });
    }
    // Anything else (e.g. an exit message) is not for a call: dropped.
  }

  void sweep_loop() {
    auto period = std::clamp<std::chrono::milliseconds>(timeout / 10, std::chrono::milliseconds{1},
                                                        std::chrono::milliseconds{100});
    std::unique_lock<std::mutex> lock{mu};
    while (!stopping) {
      wake.wait_for(lock, period);
      if (stopping) break;
      auto now = clock_type::now();
      std::vector<std::shared_ptr<pending_call>> expired;
      while (!calls.empty() && calls.begin()->second->deadline <= now) {
        auto p = std::move(calls.begin()->second);
        calls.erase(calls.begin());
        if (p->streaming) streams.erase(p->call_id);
        expired.push_back(std::move(p));
      }
      if (expired.empty()) continue;
      lock.unlock();
      for (auto& p : expired) {
        auto r = error_reply(p->call_id, "timeout",
                             "the model call took longer than the gateway's request_timeout_ms");
        finish(*p, r);
      }
      expired.clear();
      lock.lock();
    }
  }
};

model_caller::model_caller(caf::actor_system& sys, caf::actor model_service,
                           std::chrono::milliseconds timeout, std::shared_ptr<call_core> direct)
    : impl_(std::make_unique<impl>()) {
  impl_->sys = &sys;
  impl_->service = std::move(model_service);
  impl_->timeout = timeout;
  impl_->direct = std::move(direct);
  impl_->companion = sys.spawn<caf::actor_companion>();
  auto* self = impl_.get();
  // The handler runs under the companion's shared lock; shutdown() takes it exclusively
  // (to clear the handler), so no handler is running once shutdown() has passed that.
  impl_->companion_ptr()->on_enqueue(
      [self](caf::mailbox_element_ptr element) { self->on_message(*element); });
  impl_->sweeper = std::thread([self] { self->sweep_loop(); });
}

model_caller::~model_caller() {
  shutdown();
}

void model_caller::call(model_request request, std::shared_ptr<model_call_handler> handler,
                        bool want_trace) {
  auto p = std::make_shared<pending_call>();
  p->handler = std::move(handler);
  p->call_id = request.call_id;
  p->streaming = request.stream;
  p->deadline = clock_type::now() + impl_->timeout;
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock{impl_->mu};
    if (impl_->stopping) return;
    id = impl_->next_id++;
    if (p->streaming) impl_->streams[p->call_id] = id;
    impl_->calls.emplace(id, std::move(p));
  }
  // A request from the companion: the service's answer comes back to it with this id.
  auto mid = caf::make_message_id(caf::normal_message_priority_constant{}, id);
  auto requester = caf::actor_cast<caf::strong_actor_ptr>(impl_->companion);
  if (impl_->direct) {
    auto service = caf::actor_cast<caf::strong_actor_ptr>(impl_->service);
    if (impl_->direct->try_direct(request, requester, mid, service,
                                  impl_->here.load(std::memory_order_relaxed), want_trace)) {
      impl_->direct_started.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  caf::actor_cast<caf::abstract_actor*>(impl_->service)
      ->enqueue(std::move(requester), mid, caf::make_message(std::move(request)), nullptr);
}

uint64_t model_caller::direct_calls() const {
  return impl_->direct_started.load(std::memory_order_relaxed);
}

void model_caller::run_calls_on(boost::asio::io_context* here) {
  if (impl_->direct && impl_->direct->http) impl_->here = here;
}

void model_caller::io_context_stopped(boost::asio::io_context& here) {
  if (impl_->here == &here) impl_->here = nullptr;
  if (impl_->direct && impl_->direct->http) impl_->direct->http->forget_context(here);
}

size_t model_caller::in_flight() const {
  std::lock_guard<std::mutex> lock{impl_->mu};
  return impl_->calls.size();
}

void model_caller::shutdown() {
  {
    std::lock_guard<std::mutex> lock{impl_->mu};
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->sweeper.joinable()) impl_->sweeper.join();
  // An empty handler, set under the companion's exclusive lock: once this returns, no
  // handler runs and later messages are dropped. (CAF 0.17.6 declares
  // actor_companion::disconnect but does not define it.)
  impl_->companion_ptr()->on_enqueue({});
  caf::scoped_execution_unit unit{impl_->sys};
  impl_->companion_ptr()->cleanup(caf::error{}, &unit);
  std::map<uint64_t, std::shared_ptr<pending_call>> dropped;
  {
    std::lock_guard<std::mutex> lock{impl_->mu};
    dropped.swap(impl_->calls);
    impl_->streams.clear();
  }
  dropped.clear();  // handlers may hold what owns this caller: released outside the lock
}

}  // namespace switchyard::gateway
