#include "workflows/checkpoint_writer.hpp"

#include <vector>

#include "caf/all.hpp"

namespace switchyard {

namespace {

using flush_atom = caf::atom_constant<caf::atom("ckp_flush")>;

struct writer_state {
  std::shared_ptr<checkpoint_store> store;
  std::vector<prepared_write> queued;
  std::vector<caf::typed_response_promise<std::string>> waiting;  // one per queued write
  bool flush_sent = false;

  static inline const char* name = "checkpoint_writer";
};

using writer_actor = caf::stateful_actor<writer_state>;

caf::behavior writer_behavior(writer_actor* self, std::shared_ptr<checkpoint_store> store) {
  self->state.store = std::move(store);
  return {
      [self](prepared_write& write) -> caf::result<std::string> {
        auto& st = self->state;
        st.queued.push_back(std::move(write));
        auto promise = self->make_response_promise<std::string>();
        st.waiting.push_back(promise);
        // The flush message queues behind every write already in the mailbox: they
        // all go into the next batch.
        if (!st.flush_sent) {
          st.flush_sent = true;
          self->send(self, flush_atom::value);
        }
        return promise;
      },
      [self](flush_atom) {
        auto& st = self->state;
        st.flush_sent = false;
        auto outcomes = st.store->write_group(st.queued);
        for (size_t i = 0; i < st.waiting.size(); ++i)
          st.waiting[i].deliver(std::move(outcomes[i].error));
        st.queued.clear();
        st.waiting.clear();
      },
  };
}

}  // namespace

caf::actor spawn_checkpoint_writer(caf::actor_system& sys,
                                   std::shared_ptr<checkpoint_store> store) {
  return sys.spawn<caf::detached>(writer_behavior, std::move(store));
}

}  // namespace switchyard
