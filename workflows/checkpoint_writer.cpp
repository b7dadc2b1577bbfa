#include "workflows/checkpoint_writer.hpp"

#include <spdlog/spdlog.h>

#include <utility>

#include "caf/make_message.hpp"

namespace switchyard {

namespace {

constexpr auto write_failure_category = caf::atom("ckpt_write");

void answer(const caf::strong_actor_ptr& to, caf::message_id id, std::string problem) {
  if (to) to->enqueue(caf::make_mailbox_element(nullptr, id, {}, std::move(problem)), nullptr);
}

}  // namespace

caf::error write_failure(std::string problem) {
  return caf::error{static_cast<uint8_t>(1), write_failure_category,
                    caf::make_message(std::move(problem))};
}

const std::string* write_failure_problem(const caf::error& err) {
  if (err.category() != write_failure_category || !err.context().match_elements<std::string>())
    return nullptr;
  return &err.context().get_as<std::string>(0);
}

checkpoint_writer::checkpoint_writer(std::shared_ptr<checkpoint_store> store)
    : store_(std::move(store)) {
  thread_ = std::thread{[this] { loop(); }};
}

checkpoint_writer::~checkpoint_writer() {
  stop();
}

void checkpoint_writer::submit(prepared_write&& write, caf::strong_actor_ptr reply_to,
                               caf::message_id response_id) {
  queue(std::move(write), pending{std::move(reply_to), response_id, {}, false});
}

void checkpoint_writer::submit_then_send(prepared_write&& write, follow_up&& next,
                                         caf::strong_actor_ptr reply_to,
                                         caf::message_id failure_id) {
  queue(std::move(write), pending{std::move(reply_to), failure_id, std::move(next), true});
}

void checkpoint_writer::queue(prepared_write&& write, pending&& p) {
  std::unique_lock<std::mutex> lock{mu_};
  if (stopping_) {
    lock.unlock();
    settle(p, write.run_id, "checkpoint writer: stopped");
    return;
  }
  queued_.push_back(std::move(write));
  waiting_.push_back(std::move(p));
  // Only a thread asleep needs the wake-up (a futex call); a busy one finds the write
  // when it comes back for the next group.
  bool wake = idle_;
  idle_ = false;
  lock.unlock();
  if (wake) wake_.notify_one();
}

// Tells the run how its write went: an answer (submit), or its next message sent on
// its behalf (submit_then_send; on failure the run is answered and the message dropped).
void checkpoint_writer::settle(pending& p, const std::string& run_id, std::string problem) {
  if (!p.handed_off) {
    answer(p.reply_to, p.response_id, std::move(problem));
    return;
  }
  if (problem.empty() || p.next.also_on_failure) {
    if (p.next.to && p.next.message) p.next.to->enqueue(std::move(p.next.message), nullptr);
  } else {
    p.next.message.reset();  // never sent: the run does not go on without its record
  }
  if (problem.empty()) return;
  if (p.reply_to)
    p.reply_to->enqueue(
        caf::make_mailbox_element(nullptr, p.response_id, {}, write_failure(std::move(problem))),
        nullptr);
  else
    spdlog::error(
        "run {}: its last checkpoint write failed ({}); it will be recovered from the "
        "checkpoint before",
        run_id, problem);
}

void checkpoint_writer::loop() {
  std::vector<prepared_write> group;
  std::vector<pending> answers;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock{mu_};
      while (queued_.empty() && !stopping_) {
        idle_ = true;
        wake_.wait(lock);
      }
      idle_ = false;
      if (queued_.empty()) return;  // stopping, and everything answered
      group.swap(queued_);
      answers.swap(waiting_);
    }
    // Every write that queued while the previous group was written: one WriteBatch.
    auto outcomes = store_->write_group(group);
    for (size_t i = 0; i < answers.size(); ++i)
      settle(answers[i], group[i].run_id, std::move(outcomes[i].error));
    group.clear();
    answers.clear();
  }
}

void checkpoint_writer::stop() {
  {
    std::lock_guard<std::mutex> lock{mu_};
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  store_.reset();
}

}  // namespace switchyard
