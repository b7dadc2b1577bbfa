#include "workflows/step_watchdog.hpp"

#include <algorithm>
#include <limits>

namespace switchyard {

step_watchdog::registration::registration(step_watchdog* owner, watch* w)
    : owner_(owner), watch_(w) {}

step_watchdog::registration::registration(registration&& other) noexcept
    : owner_(other.owner_), watch_(other.watch_) {
  other.owner_ = nullptr;
  other.watch_ = nullptr;
}

step_watchdog::registration& step_watchdog::registration::operator=(registration&& other) noexcept {
  if (this != &other) {
    reset();
    owner_ = other.owner_;
    watch_ = other.watch_;
    other.owner_ = nullptr;
    other.watch_ = nullptr;
  }
  return *this;
}

step_watchdog::registration::~registration() {
  reset();
}

void step_watchdog::registration::reset() {
  if (owner_ && watch_) owner_->remove(watch_);
  watch_ = nullptr;
  owner_ = nullptr;
}

step_watchdog::registration step_watchdog::add(watch& w, caf::actor_addr run,
                                               std::chrono::nanoseconds timeout) {
  insert(w, std::move(run), timeout);
  return registration{this, &w};
}

void step_watchdog::insert(watch& w, caf::actor_addr run, std::chrono::nanoseconds timeout) {
  using timeout_type = decltype(w.timeout);
  w.run = std::move(run);
  // Rounded up, so a timeout is never shorter than asked; at most ~49 days.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout).count();
  w.timeout = timeout_type{
      static_cast<uint32_t>(std::clamp<int64_t>(ms, 0, std::numeric_limits<uint32_t>::max()))};
  w.clear();
  std::lock_guard<std::mutex> guard{mutex_};
  if (w.slot < watches_.size() && watches_[w.slot] == &w) return;  // already in
  w.slot = static_cast<uint32_t>(watches_.size());
  watches_.push_back(&w);
}

void step_watchdog::remove(watch* w) {
  std::lock_guard<std::mutex> guard{mutex_};
  if (w->slot >= watches_.size() || watches_[w->slot] != w) return;  // not in the table
  // The last watch takes its place.
  watch* last = watches_.back();
  watches_[w->slot] = last;
  last->slot = w->slot;
  watches_.pop_back();
  w->slot = watch::no_slot;
  // After a burst (ten thousand runs at once) the table's memory goes back.
  if (watches_.empty() && watches_.capacity() > 4096) watches_ = {};
}

std::vector<caf::actor_addr> step_watchdog::overdue(clock_type::time_point now) const {
  std::vector<caf::actor_addr> result;
  auto now_ticks = now.time_since_epoch();
  std::lock_guard<std::mutex> guard{mutex_};
  for (const auto* w : watches_) {
    auto oldest = w->oldest_open.load(std::memory_order_relaxed);
    if (oldest != 0 && now_ticks - clock_type::duration{oldest} > w->timeout)
      result.push_back(w->run);
  }
  return result;
}

size_t step_watchdog::size() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return watches_.size();
}

}  // namespace switchyard
