#include "workflows/checkpoint_writer.hpp"

#include <utility>

#include "caf/mailbox_element.hpp"
#include "caf/make_message.hpp"

namespace switchyard {

namespace {

void answer(const caf::strong_actor_ptr& to, caf::message_id id, std::string problem) {
  if (to) to->enqueue(caf::make_mailbox_element(nullptr, id, {}, std::move(problem)), nullptr);
}

}  // namespace

checkpoint_writer::checkpoint_writer(std::shared_ptr<checkpoint_store> store)
    : store_(std::move(store)) {
  thread_ = std::thread{[this] { loop(); }};
}

checkpoint_writer::~checkpoint_writer() {
  stop();
}

void checkpoint_writer::submit(prepared_write write, caf::strong_actor_ptr reply_to,
                               caf::message_id response_id) {
  std::unique_lock<std::mutex> lock{mu_};
  if (stopping_) {
    lock.unlock();
    answer(reply_to, response_id, "checkpoint writer: stopped");
    return;
  }
  queued_.push_back(std::move(write));
  waiting_.push_back({std::move(reply_to), response_id});
  // Only a thread asleep needs the wake-up (a futex call); a busy one finds the write
  // when it comes back for the next group.
  bool wake = idle_;
  idle_ = false;
  lock.unlock();
  if (wake) wake_.notify_one();
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
      answer(answers[i].reply_to, answers[i].response_id, std::move(outcomes[i].error));
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
