#include "workflows/run_actor.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>

#include "caf/all.hpp"
#include "runtime/messages.hpp"
#include "runtime/supervisor.hpp"
#include "workflows/checkpoint_writer.hpp"
#include "workflows/engine.hpp"
#include "workflows/thin_vector.hpp"

namespace switchyard {

namespace {

using clock_type = std::chrono::steady_clock;

// How a step's model calls were routed, while its transcript line is being closed.
struct step_routing {
  std::string route;
  bool downgraded = false;
  bool packed = false;    // decisions went through engine_shared::traces
  std::string decisions;  // one compact trace per call, in a row (or their packed form)
};

// A closed step's output and routing in one heap block: their sizes, then the output's,
// the route's and the decisions' bytes. Most of a transcript's memory while ten thousand
// runs are in flight, and one allocation per step instead of three.
class step_text {
 public:
  step_text() = default;
  step_text(std::string_view output, const step_routing* routing) {
    std::string_view route = routing ? std::string_view{routing->route} : std::string_view{};
    std::string_view decisions =
        routing ? std::string_view{routing->decisions} : std::string_view{};
    if (output.empty() && !routing) return;
    auto* h = static_cast<header*>(
        ::operator new(sizeof(header) + output.size() + route.size() + decisions.size()));
    *h = header{static_cast<uint32_t>(output.size()),    static_cast<uint32_t>(route.size()),
                static_cast<uint32_t>(decisions.size()), routing != nullptr,
                routing && routing->downgraded,          routing && routing->packed};
    char* at = reinterpret_cast<char*>(h + 1);
    std::memcpy(at, output.data(), output.size());
    std::memcpy(at + output.size(), route.data(), route.size());
    std::memcpy(at + output.size() + route.size(), decisions.data(), decisions.size());
    block_.reset(h);
  }

  std::string_view output() const { return part(0, block_ ? block_->output_size : 0); }
  /// Whether the step's calls were routed (route, downgraded and decisions say how).
  bool routed() const { return block_ && block_->routed; }
  std::string_view route() const {
    return block_ ? part(block_->output_size, block_->route_size) : std::string_view{};
  }
  std::string_view decisions() const {
    return block_ ? part(block_->output_size + block_->route_size, block_->decisions_size)
                  : std::string_view{};
  }
  bool downgraded() const { return block_ && block_->downgraded; }
  bool packed() const { return block_ && block_->packed; }

 private:
  struct header {
    uint32_t output_size;
    uint32_t route_size;
    uint32_t decisions_size;
    bool routed;
    bool downgraded;
    bool packed;
  };
  struct release {
    void operator()(header* h) const { ::operator delete(h); }
  };
  std::string_view part(size_t from, size_t size) const {
    if (size == 0) return {};
    return {reinterpret_cast<const char*>(block_.get() + 1) + from, size};
  }
  std::unique_ptr<header, release> block_;
};

// The rarely set parts of a transcript line, kept apart.
struct step_extra {
  std::string label;
  std::string error;
  std::string model_id;  // a model the catalog does not know, as the reply named it
};

// One transcript line while the run is going: node indexes instead of names, the
// model as its place in the catalog. A step_record is three times the size, and ten
// thousand runs of several steps each may be in flight: 56 bytes, so that four lines
// and thin_vector's 8-byte header fill jemalloc's 256-byte class and no more.
struct step_entry {
  step_text text;                     // output and routing, set when the step closes
  std::unique_ptr<step_extra> extra;  // label, error, unknown model id
  clock_type::time_point began;
  double cost_usd = 0;
  float latency_ms = 0;
  uint32_t input_tokens = 0;
  uint32_t output_tokens = 0;
  uint16_t hops = 0;  // at most max_hops_limit (10,000)
  int16_t node = -1;
  int16_t caller = -1;
  uint16_t model = 0;  // of the step's last model call: catalog index + 1, 0 for none
  uint16_t model_calls = 0;
  step_kind kind = step_kind::node;
};
static_assert(sizeof(step_entry) <= 56, "four transcript lines must fit 256 bytes with a header");

// Where a checkpointed run continues after a crash or an outage, and what it has not
// written yet. The records of closed steps wait in `unsaved` for the next write, which
// also carries the state they lead to: one WriteBatch per step.
struct durable_state {
  std::string input;       // the run's first input
  std::string next_input;  // input of the node the run continues from
  int next_node = -1;
  step_kind next_kind = step_kind::node;
  uint32_t next_step = 0;
  uint32_t next_hops = 0;
  uint32_t recorded = 0;      // highest step number recorded + 1
  uint32_t attempt_from = 0;  // steps below this may have been written by an earlier attempt
  uint32_t writes = 0;        // checkpoint writes so far (run_checkpoint::seq)
  uint64_t input_tokens = 0;
  uint64_t output_tokens = 0;
  int64_t nano_usd = 0;
  int64_t created_ms = 0;
  std::vector<encoded_step> unsaved;  // encoded as they closed (note_closed)
  std::vector<ledger_entry> unsaved_calls;
  // The first `handed_records` of unsaved (and `handed_calls` of unsaved_calls) are in
  // a write handed to the checkpoint writer with the run's next step (save_then_run_node):
  // kept until the step's reply shows the write is in the WAL (confirm_handed).
  uint32_t handed_records = 0;
  uint32_t handed_calls = 0;
  std::map<uint32_t, step_record> replay;  // recorded steps from next_step on
};

// The run's answer to whoever asked for it: a caf::response_promise without its
// forwarding stack (nobody forwards a run request to a run), 24 bytes instead of 48.
class run_promise {
 public:
  run_promise() = default;
  run_promise(caf::local_actor* self, const caf::response_promise& made)
      : self_(caf::actor_cast<caf::strong_actor_ptr>(self)),
        source_(made.source()),
        id_(made.id()) {}

  bool pending() const { return source_ != nullptr; }

  template <class T>
  void deliver(T&& x) {
    if (!pending()) return;
    caf::response_promise(std::move(self_), std::move(source_), {}, id_)
        .deliver(std::forward<T>(x));
  }

  /// Hands the answer to the checkpoint writer with `write`: sent once the write is
  /// in the WAL, and also if it fails (a run's end is answered even if not written).
  void deliver_after(checkpoint_writer& writer, prepared_write&& write, caf::message answer) {
    follow_up next;
    if (pending()) {
      next.message =
          caf::make_mailbox_element(std::move(self_), id_.response_id(), {}, std::move(answer));
      next.to = std::move(source_);
      next.also_on_failure = true;
    }
    writer.submit_then_send(std::move(write), std::move(next), nullptr, {});
  }

  /// What a handler returns once it has taken on the answer (CAF then sends none).
  template <class... Ts>
  operator caf::result<Ts...>() const {
    return caf::delegated<Ts...>{};
  }

 private:
  caf::strong_actor_ptr self_;
  caf::strong_actor_ptr source_;
  caf::message_id id_;
};

// Per-run state. Kept lean: ten thousand runs may be in flight at once, and CAF's
// actor object with this state inside must stay within jemalloc's 1,280-byte size
// class (checked below). The run_result is only assembled when the run ends.
struct run_state {
  std::shared_ptr<engine_shared> shared;
  const workflow_instance* wf = nullptr;
  run_promise promise;
  std::string run_id;
  std::string thread_id;
  bool own_thread = false;  // the thread was made up for this run alone
  bool finished = false;
  uint32_t hops = 0;
  clock_type::time_point started;
  thin_vector<step_entry> steps;     // the transcript so far; index == step number
  thin_vector<uint32_t> open_steps;  // in start order: front is the oldest
  // Calls forwarded for agents and not yet answered, by step. When the run ends they
  // are answered with an error: CAF 0.17 drops unanswered promises silently, which
  // would leave the calling agents (shared by all runs) waiting forever.
  thin_vector<std::pair<uint32_t, caf::typed_response_promise<step_reply>>> open_calls;
  // In the engine's watchdog table from the run's start until this state goes.
  struct watch_handle {
    step_watchdog::watch entry;
    step_watchdog::watch* operator->() { return &entry; }
    explicit operator bool() const { return static_cast<bool>(entry.run); }
  } watch;
  // While an escalation agent works: why the run was escalated (rare, so off-line).
  std::unique_ptr<std::pair<std::string, std::string>> escalation;
  // What a checkpointed run needs besides the above; null without a store, so an
  // in-memory run pays one pointer for durability.
  std::unique_ptr<durable_state> dur;

  run_state() = default;
  run_state(const run_state&) = delete;
  run_state& operator=(const run_state&) = delete;
  ~run_state() {
    if (watch) shared->watchdog.remove(watch.entry);
  }

  void start_watch(caf::actor_addr self) {
    shared->watchdog.insert(watch.entry, std::move(self),
                            std::chrono::milliseconds{wf->settings.step_timeout_ms});
  }

  static inline const char* name = "run";
};

using run_actor = caf::stateful_actor<run_state>;

// jemalloc's size classes near here are 1,024, 1,280 and 1,536 bytes: 8 bytes over
// 1,280 would cost 256 per run. CAF allocates the actor behind its control block.
static_assert(sizeof(caf::actor_storage<run_actor>) <= 1280,
              "a run's actor object no longer fits jemalloc's 1,280-byte size class");

step_extra& extra_of(step_entry& e) {
  if (!e.extra) e.extra = std::make_unique<step_extra>();
  return *e.extra;
}

void set_label(step_entry& e, std::string label) {
  if (!label.empty() || e.extra) extra_of(e).label = std::move(label);
}

void set_error(step_entry& e, std::string error) {
  extra_of(e).error = std::move(error);
}

void set_model(run_actor* self, step_entry& e, const std::string& id) {
  const auto& catalog = self->state.shared->cfg->models;
  const auto* known = id.empty() ? nullptr : self->state.shared->cfg->find_model(id);
  auto index = known ? static_cast<size_t>(known - catalog.data()) : catalog.size();
  e.model =
      index < std::min<size_t>(catalog.size(), UINT16_MAX) ? static_cast<uint16_t>(index + 1) : 0;
  if (!e.model && (!id.empty() || e.extra)) extra_of(e).model_id = id;
}

// The catalog entry of a step's last model call; null when it had none or the catalog
// does not know it (its id is then in the step's extra).
const model_config* model_of(run_actor* self, const step_entry& e) {
  return e.model ? &self->state.shared->cfg->models[e.model - 1u] : nullptr;
}

using check_steps_atom = caf::atom_constant<caf::atom("chk_steps")>;
using replay_atom = caf::atom_constant<caf::atom("replay")>;

constexpr const char* reason_provider_down = "provider_down";
constexpr const char* reason_write_failed = "checkpoint_write_failed";

int64_t to_nano(double usd) {
  return static_cast<int64_t>(std::llround(usd * 1e9));
}

double ms_between(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

const std::string& node_name(run_actor* self, int node) {
  return self->state.wf->definition->nodes()[static_cast<size_t>(node)].name;
}

void publish_oldest_open(run_actor* self) {
  auto& st = self->state;
  if (st.open_steps.empty())
    st.watch->clear();
  else
    st.watch->set_oldest_open(st.steps[st.open_steps.front()].began);
}

// Opens a step: numbers it, writes its transcript line (completed by close_step) and
// returns the request to send. Steps are numbered from 0, so a step's number is its
// index in the transcript.
step_request begin_step(run_actor* self, step_kind kind, int node, int caller, std::string input) {
  auto& st = self->state;
  auto step = static_cast<uint32_t>(st.steps.size());
  step_request req{{st.run_id, st.thread_id, step, st.hops},
                   kind,
                   node_name(self, node),
                   caller >= 0 ? node_name(self, caller) : std::string{},
                   std::move(input)};
  auto& e = st.steps.emplace_back();
  e.began = clock_type::now();
  e.hops = st.hops;
  e.node = static_cast<int16_t>(node);
  e.caller = static_cast<int16_t>(caller);
  e.kind = kind;
  st.open_steps.push_back(step);
  if (st.open_steps.size() == 1) publish_oldest_open(self);
  return req;
}

// Packs a step's decision traces: they are held packed until the run ends (see
// trace_packer).
void pack(run_actor* self, step_routing& r) {
  if (r.packed || r.decisions.empty()) return;
  r.decisions = self->state.shared->traces.pack(r.decisions);
  r.packed = true;
}

// Completes a step's transcript line with what the agent did.
void close_step(run_actor* self, uint32_t step, step_reply& reply) {
  auto& st = self->state;
  auto& e = st.steps[step];
  set_label(e, reply.label);  // branch conditions still read the reply
  e.model_calls = static_cast<uint16_t>(reply.calls.size());
  for (auto& c : reply.calls) {
    e.input_tokens += c.input_tokens;
    e.output_tokens += c.output_tokens;
    e.cost_usd += c.cost_usd;
  }
  std::optional<step_routing> routing;
  const bool one_trace = reply.calls.size() == 1 && !st.dur && !reply.calls[0].decision.empty();
  if (one_trace) {
    // One call's trace, packed at once (see below): straight from it, no joined copy.
    auto& c = reply.calls[0];
    routing.emplace();
    routing->route = c.route;
    routing->downgraded = c.downgraded;
    routing->decisions = st.shared->traces.pack(c.decision.bytes);
    routing->packed = true;
  }
  for (auto& c : reply.calls) {
    if (one_trace || c.decision.empty()) continue;
    if (!routing) {
      routing.emplace();
      size_t size = 0;  // one allocation for all of them
      for (const auto& d : reply.calls) size += d.decision.size();
      routing->decisions.reserve(size);
    }
    auto& r = *routing;
    r.route = c.route;
    r.downgraded = r.downgraded || c.downgraded;
    r.decisions += c.decision.bytes;
  }
  // Packed now unless a checkpoint record is still to be copied from the raw traces
  // (note_closed; pack_decisions packs it then).
  if (routing && !st.dur) pack(self, *routing);
  if (!reply.calls.empty()) set_model(self, e, reply.calls.back().model_id);
  e.latency_ms = static_cast<float>(ms_between(e.began, clock_type::now()));
  if (!reply.error.ok())
    set_error(e, reply.error.kind + ": " + reply.error.message);
  // A copy: the next step gets the reply's output as its input.
  e.text = step_text(reply.output, routing ? &*routing : nullptr);
  auto it = std::find(st.open_steps.begin(), st.open_steps.end(), step);
  if (it != st.open_steps.end()) {
    bool was_oldest = it == st.open_steps.begin();
    st.open_steps.erase(it);
    if (was_oldest) publish_oldest_open(self);
  }
}

// A transcript line's route and decision traces (unpacked) into its public record.
void routing_to_record(run_actor* self, const step_entry& e, step_record& rec) {
  if (!e.text.routed()) return;
  rec.route = e.text.route();
  rec.downgraded = e.text.downgraded();
  rec.decisions.bytes = e.text.packed() ? self->state.shared->traces.unpack(e.text.decisions())
                                        : std::string{e.text.decisions()};
}

// The public form of a transcript line.
// Filled in place (a step_record is a dozen strings: moving one costs as much as filling).
void to_record(run_actor* self, uint32_t step, step_entry& e, step_record& rec) {
  rec.step = step;
  rec.kind = e.kind;
  rec.agent = node_name(self, e.node);
  if (e.caller >= 0) rec.caller = node_name(self, e.caller);
  rec.hops = e.hops;
  rec.output = e.text.output();
  if (const auto* model = model_of(self, e)) {
    rec.model = model->id;
    rec.tier = model->tier;
  }
  if (e.extra) {
    rec.label = std::move(e.extra->label);
    if (!e.model) rec.model = std::move(e.extra->model_id);
  }
  rec.model_calls = e.model_calls;
  rec.input_tokens = e.input_tokens;
  rec.output_tokens = e.output_tokens;
  rec.cost_usd = e.cost_usd;
  rec.latency_ms = e.latency_ms;
  if (e.extra) rec.error = std::move(e.extra->error);
  routing_to_record(self, e, rec);
}

// The step's decision traces are held packed until the run ends (see trace_packer); a
// checkpointed run's step kept them raw until its record was copied (note_closed).
void pack_decisions(run_actor* self, uint32_t step) {
  auto& e = self->state.steps[step];
  if (!e.text.routed() || e.text.packed() || e.text.decisions().empty()) return;
  step_routing r{std::string{e.text.route()}, e.text.downgraded(), false,
                 std::string{e.text.decisions()}};
  pack(self, r);
  e.text = step_text(e.text.output(), &r);
}

// A recorded step's output and routing, back in a transcript line (replayed or resumed
// steps).
void restore_text(run_actor* self, step_entry& e, const std::string& output, step_record& rec) {
  if (rec.route.empty() && rec.decisions.empty() && !rec.downgraded) {
    e.text = step_text(output, nullptr);
    return;
  }
  step_routing r{std::move(rec.route), rec.downgraded, false, std::move(rec.decisions.bytes)};
  pack(self, r);
  e.text = step_text(output, &r);
}

// -- durability ---------------------------------------------------------------------

// A transcript line encoded as its checkpoint record, straight from the line (no
// step_record copy in between).
encoded_step encode_entry(run_actor* self, uint32_t step, const step_entry& e) {
  step_view v;
  v.step = step;
  v.kind = e.kind;
  v.agent = node_name(self, e.node);
  if (e.caller >= 0) v.caller = node_name(self, e.caller);
  v.hops = e.hops;
  v.output = e.text.output();
  if (const auto* model = model_of(self, e)) {
    v.model = model->id;
    v.tier = model->tier;
  }
  if (e.extra) {
    v.label = e.extra->label;
    if (!e.model) v.model = e.extra->model_id;
    v.error = e.extra->error;
  }
  v.model_calls = e.model_calls;
  v.input_tokens = e.input_tokens;
  v.output_tokens = e.output_tokens;
  v.cost_usd = e.cost_usd;
  v.latency_ms = e.latency_ms;
  std::string unpacked;  // a checkpointed run's traces are raw until recorded
  if (e.text.routed()) {
    v.route = e.text.route();
    v.downgraded = e.text.downgraded();
    if (e.text.packed())
      v.decisions = unpacked = self->state.shared->traces.unpack(e.text.decisions());
    else
      v.decisions = e.text.decisions();
  }
  return encode_step_parts(v);
}

// Queues a closed step's record and its paid calls for the next checkpoint write.
void note_closed(run_actor* self, uint32_t step, const step_reply& reply) {
  auto& st = self->state;
  if (!st.dur) return;
  auto& d = *st.dur;
  const auto& e = st.steps[step];
  d.input_tokens += e.input_tokens;
  d.output_tokens += e.output_tokens;
  d.nano_usd += to_nano(e.cost_usd);
  d.unsaved.push_back(encode_entry(self, step, e));
  for (size_t i = 0; i < reply.calls.size(); ++i) {
    const auto& c = reply.calls[i];
    if (c.input_tokens + c.output_tokens == 0 && c.cost_usd == 0) continue;  // unpaid
    ledger_entry l;
    l.call_id = st.run_id + "/" + std::to_string(step) + "." + std::to_string(i);
    l.run_id = st.run_id;
    l.thread_id = st.thread_id;
    l.model = c.model_id;
    l.tokens = uint64_t{c.input_tokens} + c.output_tokens;
    l.nano_usd = to_nano(c.cost_usd);
    d.unsaved_calls.push_back(std::move(l));
  }
}

// The fields of a state that a running write's continuation encodes
// (append_binary_continuation), `status` set first: where the run goes on, what it
// spent, the write's number and time.
void fill_continuation(run_actor* self, run_checkpoint& c) {
  auto& st = self->state;
  auto& d = *st.dur;
  if (d.next_node >= 0) c.next_node = node_name(self, d.next_node);
  c.next_kind = d.next_kind;
  c.next_step = d.next_step;
  c.next_hops = d.next_hops;
  c.hops = st.hops;
  for (const auto& rec : d.unsaved) d.recorded = std::max(d.recorded, rec.step + 1);
  c.steps = d.recorded;
  c.input_tokens = d.input_tokens;
  c.output_tokens = d.output_tokens;
  c.spent_nano_usd = d.nano_usd;
  if (st.escalation && c.status == run_status::running) {
    c.escalating = true;
    c.reason = st.escalation->first;
    c.detail = st.escalation->second;
  }
  c.updated_ms = unix_now_ms();
  c.seq = ++d.writes;
}

run_checkpoint make_state(run_actor* self, run_status status, const std::string& reason,
                          const std::string& detail, const std::string& waits_for,
                          const std::string& output) {
  auto& st = self->state;
  auto& d = *st.dur;
  run_checkpoint c;
  c.run_id = st.run_id;
  c.workflow = st.wf->definition->name();
  c.input = d.input;
  c.thread_id = st.thread_id;
  c.own_thread = st.own_thread;
  c.status = status;
  c.reason = reason;
  c.detail = detail;
  c.waits_for = waits_for;
  c.output = output;
  c.next_input = d.next_input;
  c.created_ms = d.created_ms;
  fill_continuation(self, c);
  return c;
}

// Writes `state` with the steps closed since the last write (one run's part of a
// WriteBatch the checkpoint writer group-commits with other runs'), then calls
// then(problem), problem empty when written. The run awaits the answer: it handles
// nothing else meanwhile, so it never acts on a step that is not on disk.
prepared_write prepare_write(run_actor* self, const run_checkpoint& state,
                             std::optional<uint32_t> drop_from) {
  auto& d = *self->state.dur;
  bool may_repeat = false;
  for (const auto& rec : d.unsaved) may_repeat = may_repeat || rec.step < d.attempt_from;
  return checkpoint_store::prepare_encoded(state, d.unsaved, d.unsaved_calls, drop_from,
                                           may_repeat);
}

// The running state's write. With steps closed since the last write, the last one's
// record carries the state as its continuation, which encodes only the fields
// fill_continuation sets: the run's input, workflow and thread are not copied for each
// step, and its next input is lent to the encoder, not copied (~550 instructions a running write).
prepared_write prepare_running_write(run_actor* self) {
  auto& st = self->state;
  auto& d = *st.dur;
  if (d.unsaved.empty())
    return prepare_write(self, make_state(self, run_status::running, {}, {}, {}, {}), std::nullopt);
  run_checkpoint c;
  c.run_id = st.run_id;  // short: inside the string's own buffer
  c.status = run_status::running;
  c.next_input = std::move(d.next_input);
  fill_continuation(self, c);
  auto write = prepare_write(self, c, std::nullopt);
  d.next_input = std::move(c.next_input);
  return write;
}

template <class Then>
void save_then(run_actor* self, prepared_write write, Then then) {
  auto& st = self->state;
  // Awaited like a request's response, but handed over through the writer's queue: no
  // request message, no promise on the writer's side (checkpoint_writer.hpp).
  auto answer_id = self->new_request_id(caf::message_priority::normal).response_id();
  self->add_awaited_response_handler(
      answer_id, caf::behavior{[self, then](std::string& problem) mutable {
                                 auto& st = self->state;
                                 if (problem.empty()) {
                                   if (st.dur) {
                                     st.dur->unsaved.clear();
                                     st.dur->unsaved_calls.clear();
                                     st.dur->handed_records = st.dur->handed_calls = 0;
                                   }
                                 } else {
                                   spdlog::error("run {}: {}", st.run_id, problem);
                                 }
                                 then(problem);
                               },
                               [self, then](caf::error& err) mutable {
                                 auto problem = "checkpoint writer: " + caf::to_string(err);
                                 spdlog::error("run {}: {}", self->state.run_id, problem);
                                 then(problem);
                               }});
  st.shared->writer->submit(std::move(write), caf::strong_actor_ptr{self->ctrl()}, answer_id);
}

// save_then() of the running state; without a store, then("") at once.
template <class Then>
void save_running_then(run_actor* self, Then then) {
  if (!self->state.dur) {
    then(std::string{});
    return;
  }
  save_then(self, prepare_running_write(self), std::move(then));
}

// Where the run continues from if it has to resume: the node about to run.
void set_boundary(run_actor* self, int node, step_kind kind, const std::string& input) {
  auto& st = self->state;
  if (!st.dur) return;
  auto& d = *st.dur;
  d.next_node = node;
  d.next_kind = kind;
  d.next_input = input;
  d.next_step = static_cast<uint32_t>(st.steps.size());
  d.next_hops = st.hops;
}

void park_done(run_actor* self, std::string reason, std::string detail, std::string waits_for,
               uint32_t retry_after_ms);

// Parks the run: writes it as blocked, answers pending calls, tells the resumer and
// quits. The run keeps no actor and no thread: only its record and its id in the
// resumer's schedule.
void park(run_actor* self, std::string reason, std::string detail, std::string waits_for,
          uint32_t retry_after_ms) {
  auto& st = self->state;
  if (st.finished) return;
  st.finished = true;
  st.shared->parked_total.fetch_add(1);
  if (st.watch) st.watch->clear();
  if (!st.dur) {
    park_done(self, std::move(reason), std::move(detail), std::move(waits_for), retry_after_ms);
    return;
  }
  // Steps closed since the last write are complete and go with the blocked state;
  // the blocked step itself was not closed and will run again.
  // Encoded before the lambda below takes the strings.
  auto write = prepare_write(
      self, make_state(self, run_status::blocked, reason, detail, waits_for, {}), std::nullopt);
  save_then(self, std::move(write),
            [self, reason = std::move(reason), detail = std::move(detail),
             waits_for = std::move(waits_for), retry_after_ms](const std::string& problem) mutable {
              if (!problem.empty())
                spdlog::error(
                    "run {}: the blocked state was not written ({}); its last checkpoint stands",
                    self->state.run_id, problem);
              park_done(self, std::move(reason), std::move(detail), std::move(waits_for),
                        retry_after_ms);
            });
}

// The rest of park(), once the blocked state is written (or failed to be).
void park_done(run_actor* self, std::string reason, std::string detail, std::string waits_for,
               uint32_t retry_after_ms) {
  auto& st = self->state;
  spdlog::info("run {} ({}) blocked: {}: {}", st.run_id, st.wf->definition->name(), reason, detail);
  for (auto& [_, call] : st.open_calls) {
    step_reply ended;
    ended.error.kind = "run_ended";
    ended.error.message = "the run was parked (blocked) before the call returned";
    call.deliver(std::move(ended));
  }
  st.open_calls.clear();
  if (st.own_thread) st.shared->ledger.close_thread(st.thread_id);
  if (st.shared->resumer)
    self->send(st.shared->resumer, run_parked_atom::value, st.run_id, waits_for, retry_after_ms);
  run_result r;
  r.run_id = std::move(st.run_id);
  r.thread_id = std::move(st.thread_id);
  r.workflow = st.wf->definition->name();
  r.status = run_status::blocked;
  r.reason = std::move(reason);
  r.detail = std::move(detail);
  r.hops = st.hops;
  r.latency_ms = ms_between(st.started, clock_type::now());
  for (uint32_t i = 0; i < st.steps.size(); ++i) {
    if (std::find(st.open_steps.begin(), st.open_steps.end(), i) != st.open_steps.end()) continue;
    to_record(self, i, st.steps[i], r.steps.emplace_back());
    r.cost_usd += r.steps.back().cost_usd;
  }
  st.steps.clear();
  st.dur.reset();
  st.promise.deliver(std::move(r));
  self->quit();
}

// A failed checkpoint write: the run must not go on without its record.
void park_on_write_failure(run_actor* self, const std::string& problem) {
  park(self, reason_write_failed, problem, waits_for_store, 0);
}

void finish_done(run_actor* self, run_status status, std::string reason, std::string detail,
                 std::string output, bool with_handoff, prepared_write* last_write = nullptr);

void finish(run_actor* self, run_status status, std::string reason, std::string detail,
            std::string output, bool with_handoff = false) {
  auto& st = self->state;
  if (st.finished) return;
  st.finished = true;
  if (st.watch) st.watch->clear();
  // Read only for open steps: finish_done reads the clock for the run's own latency.
  auto now = st.open_steps.empty() ? clock_type::time_point{} : clock_type::now();
  for (auto step : st.open_steps) {
    auto& e = st.steps[step];
    e.latency_ms = static_cast<float>(ms_between(e.began, now));
    set_error(e, "unfinished: the run ended before this step returned");
    if (st.dur) st.dur->unsaved.push_back(encode_entry(self, step, e));
  }
  if (!st.dur) {
    finish_done(self, status, std::move(reason), std::move(detail), std::move(output),
                with_handoff);
    return;
  }
  // The final state with the last steps; records a previous attempt left beyond
  // this one's end are dropped so the transcript is exactly this run's.
  // Only a resumed run can have such records; a range delete is not free (RocksDB
  // keeps range tombstones apart and each one costs every later write a little).
  auto total = static_cast<uint32_t>(st.steps.size());
  std::optional<uint32_t> drop_from;
  if (st.dur->recorded > total) drop_from = total;
  st.dur->recorded = total;
  auto state = make_state(self, status, reason, detail, {}, output);
  if (!with_handoff) {
    // The result goes out with the final write (the writer sends it once the write is
    // in the WAL): no answer to this run and no turn of it in between.
    auto write = prepare_write(self, state, drop_from);
    st.dur.reset();
    finish_done(self, status, std::move(reason), std::move(detail), std::move(output), false,
                &write);
    return;
  }
  save_then(self, prepare_write(self, state, drop_from),
            [self, status, reason = std::move(reason), detail = std::move(detail),
             output = std::move(output), with_handoff](const std::string& problem) mutable {
              if (!problem.empty())
                spdlog::error(
                    "run {}: its end ({}) was not written; it will be recovered from its last "
                    "checkpoint",
                    self->state.run_id, to_string(status));
              self->state.dur.reset();
              finish_done(self, status, std::move(reason), std::move(detail), std::move(output),
                          with_handoff);
            });
}

// The rest of finish(), once the end is written (or failed to be): the result. With
// `last_write`, the end is not written yet: the result goes out with it.
void finish_done(run_actor* self, run_status status, std::string reason, std::string detail,
                 std::string output, bool with_handoff, prepared_write* last_write) {
  auto& st = self->state;
  auto now = clock_type::now();
  // Filled where its message holds it: a run_result is a dozen strings and two vectors,
  // and moving one into a message cost more than filling it.
  auto message_data = caf::make_counted<caf::detail::tuple_vals<run_result>>();
  run_result& r = std::get<0>(message_data->data());
  r.run_id = std::move(st.run_id);
  r.thread_id = std::move(st.thread_id);
  r.workflow = st.wf ? st.wf->definition->name() : std::string{};
  r.status = status;
  r.reason = std::move(reason);
  r.detail = std::move(detail);
  r.output = std::move(output);
  r.hops = st.hops;
  r.latency_ms = ms_between(st.started, now);

  r.steps.reserve(st.steps.size());
  for (uint32_t i = 0; i < st.steps.size(); ++i) {
    to_record(self, i, st.steps[i], r.steps.emplace_back());
    const auto& rec = r.steps.back();
    r.input_tokens += rec.input_tokens;
    r.output_tokens += rec.output_tokens;
    r.cost_usd += rec.cost_usd;
  }
  st.steps.clear();
  if (with_handoff) {
    r.has_handoff = true;
    auto& h = r.handoff;
    h.run_id = r.run_id;
    h.thread_id = r.thread_id;
    h.workflow = r.workflow;
    h.reason = r.reason;
    h.detail = r.detail;
    // The last step that produced something is what a person picks up from.
    auto last = std::find_if(r.steps.rbegin(), r.steps.rend(),
                             [](const step_record& s) { return !s.output.empty(); });
    if (last == r.steps.rend() && !r.steps.empty()) last = r.steps.rend() - 1;
    if (last != r.steps.rend()) {
      h.last_agent = last->agent;
      h.last_output = last->output;
    }
    const auto& file = st.wf->settings.escalation.handoff_file;
    if (!file.empty()) {
      auto problem = st.shared->handoffs.append(file, h);
      if (!problem.empty())
        spdlog::error("run {}: handoff record not written: {}", r.run_id, problem);
    }
  }
  if (status == run_status::failed)
    spdlog::warn("run {} ({}) failed: {}: {}", r.run_id, r.workflow, r.reason, r.detail);
  else if (status == run_status::escalated)
    spdlog::info("run {} ({}) escalated: {}: {}", r.run_id, r.workflow, r.reason, r.detail);
  for (auto& [_, call] : st.open_calls) {
    step_reply ended;
    ended.error.kind = "run_ended";
    ended.error.message = "the run ended (" + to_string(status) + ") before the call returned";
    call.deliver(std::move(ended));
  }
  st.open_calls.clear();
  if (st.own_thread) st.shared->ledger.close_thread(r.thread_id);
  caf::message answer{caf::message::data_ptr{std::move(message_data)}};
  if (last_write)
    st.promise.deliver_after(*st.shared->writer, std::move(*last_write), std::move(answer));
  else
    st.promise.deliver(std::move(answer));
  self->quit();
}

void run_node(run_actor* self, int node, std::string input, step_kind kind);
// What a run does when the write before its next node fails: park, or (checkpoint 0)
// fail.
enum class on_write_failure { park, fail };
void save_then_run_node(run_actor* self, int node, std::string input, step_kind kind,
                        on_write_failure if_failed);

// The supervisor stopped the run: hand it to the configured target.
void escalate(run_actor* self, std::string reason, std::string detail) {
  auto& st = self->state;
  if (st.finished) return;
  if (st.escalation) return;  // the escalation agent is already at work; one is enough
  const auto& esc = st.wf->settings.escalation;
  if (esc.target == "agent") {
    auto node = st.wf->definition->index_of(esc.agent);
    if (node >= 0) {
      auto input = fmt::format("escalated: {}: {}", reason, detail);
      st.escalation = std::make_unique<std::pair<std::string, std::string>>(std::move(reason),
                                                                            std::move(detail));
      set_boundary(self, node, step_kind::escalation, input);
      save_then_run_node(self, node, std::move(input), step_kind::escalation,
                         on_write_failure::park);
      return;
    }
  }
  finish(self, run_status::escalated, std::move(reason), std::move(detail), {}, true);
}

// A step reported an error: escalate on budget, fail otherwise.
void on_step_error(run_actor* self, const std::string& agent, const model_error& error) {
  auto verdict = supervisor::judge(error);
  auto detail = fmt::format("agent '{}': {}", agent, error.message);
  if (verdict.status == run_status::escalated)
    escalate(self, std::move(verdict.reason), std::move(detail));
  else
    finish(self, run_status::failed, std::move(verdict.reason), std::move(detail), {});
}

// Every candidate model is down: a run with a store parks until the provider is back;
// one without has nowhere to wait and fails, as before blocking existed.
bool parks_on(run_actor* self, const model_error& error) {
  auto& st = self->state;
  if (!st.dur || error.kind != "blocked") return false;  // in-memory runs never park
  park(self, reason_provider_down, error.message,
       error.provider.empty() ? std::string{"unknown"} : error.provider, error.retry_after_ms);
  return true;
}

// What the run does once node step `step` has closed (run or replayed).
void after_node_step(run_actor* self, int node, uint32_t step, step_reply& reply) {
  auto& st = self->state;
  const auto& agent = node_name(self, st.steps[step].node);
  // While the escalation agent works, other steps still unwind (with the errors of
  // the refused hop); they are recorded but no longer decide the run's fate.
  if (st.escalation && st.steps[step].kind != step_kind::escalation) {
    save_running_then(self, [self](const std::string& problem) {
      if (!problem.empty()) park_on_write_failure(self, problem);
    });
    return;
  }
  if (st.steps[step].kind == step_kind::escalation) {
    // The escalation agent has answered; it may not escalate again.
    auto reason = std::move(st.escalation->first);
    auto detail = std::move(st.escalation->second);
    if (!reply.error.ok())
      finish(self, run_status::escalated, std::move(reason),
             detail + "; escalation agent failed: " + reply.error.message, {}, true);
    else
      finish(self, run_status::escalated, std::move(reason), std::move(detail),
             std::move(reply.output));
    return;
  }
  if (!reply.error.ok()) {
    on_step_error(self, agent, reply.error);
    return;
  }
  auto next = st.wf->definition->next_after(node, reply);
  if (next.empty() || next == graph_end) {
    finish(self, run_status::completed, {}, {}, std::move(reply.output));
    return;
  }
  if (!st.wf->limits.admits_hop(st.hops)) {
    escalate(self, reason_hop_limit,
             fmt::format("run reached max_hops = {} before '{}' could hand over to '{}'",
                         st.wf->limits.max_hops(), agent, next));
    return;
  }
  st.hops += 1;
  auto next_node = st.wf->definition->index_of(next);
  // The step's record, its calls and the state pointing at the next node: one batch.
  set_boundary(self, next_node, step_kind::node, reply.output);
  save_then_run_node(self, next_node, std::move(reply.output), step_kind::node,
                     on_write_failure::park);
}

void on_node_reply(run_actor* self, int node, uint32_t step, step_reply& reply) {
  auto& st = self->state;
  if (st.finished) return;
  if (parks_on(self, reply.error)) return;
  close_step(self, step, reply);
  note_closed(self, step, reply);
  pack_decisions(self, step);
  after_node_step(self, node, step, reply);
}

void on_agent_lost(run_actor* self, uint32_t step, const caf::error& err) {
  const auto& rec = self->state.steps[step];
  finish(self, run_status::failed, "agent_error",
         fmt::format("agent '{}' at step {}: {}", node_name(self, rec.node), step,
                     caf::to_string(err)),
         {});
}

// A step recorded by an earlier attempt of this run is answered from its record, not
// asked again: its model calls were made and paid once.
bool replays(run_actor* self, uint32_t step, step_kind kind, int node) {
  auto& st = self->state;
  if (!st.dur || st.dur->replay.empty()) return false;
  auto it = st.dur->replay.find(step);
  if (it == st.dur->replay.end()) return false;
  if (it->second.kind != kind || it->second.agent != node_name(self, node)) {
    st.dur->replay.clear();  // this attempt went another way: the records do not apply
    return false;
  }
  self->send(self, replay_atom::value, step);
  return true;
}

// Steps carry no CAF request timeout (see step_watchdog.hpp); the watchdog pokes the
// run with check_steps_atom when its oldest open step looks overdue.
void run_node(run_actor* self, int node, std::string input, step_kind kind) {
  auto req = begin_step(self, kind, node, -1, std::move(input));
  auto step = req.ctx.step;
  if (replays(self, step, kind, node)) return;
  self->request(self->state.wf->agents[static_cast<size_t>(node)], caf::infinite, std::move(req))
      .then([self, node, step](step_reply& reply) { on_node_reply(self, node, step, reply); },
            [self, step](caf::error& err) { on_agent_lost(self, step, err); });
}

// The step's reply shows that the write handed over with its request is in the WAL:
// the records it carried are saved.
void confirm_handed(run_actor* self) {
  auto& st = self->state;
  if (!st.dur || (st.dur->handed_records == 0 && st.dur->handed_calls == 0)) return;
  auto& d = *st.dur;
  d.unsaved.erase(d.unsaved.begin(),
                  d.unsaved.begin() + std::min<size_t>(d.handed_records, d.unsaved.size()));
  d.unsaved_calls.erase(
      d.unsaved_calls.begin(),
      d.unsaved_calls.begin() + std::min<size_t>(d.handed_calls, d.unsaved_calls.size()));
  d.handed_records = d.handed_calls = 0;
}

// Takes back a step begin_step opened whose request was never sent.
void unbegin_step(run_actor* self, uint32_t step) {
  auto& st = self->state;
  auto open = std::find(st.open_steps.begin(), st.open_steps.end(), step);
  if (open == st.open_steps.end() || step + 1 != st.steps.size()) return;
  bool was_oldest = open == st.open_steps.begin();
  st.open_steps.erase(open);
  st.steps.erase(&st.steps.back());
  if (was_oldest) publish_oldest_open(self);
}

void write_failed(run_actor* self, on_write_failure then, const std::string& problem) {
  if (then == on_write_failure::park) {
    park_on_write_failure(self, problem);
    return;
  }
  self->state.dur.reset();
  finish(self, run_status::failed, reason_write_failed, problem, {});
}

// Writes the running state (with the steps closed since the last write), then runs
// `node`. The usual way (save_then, then run_node) costs an answer from the writer
// and a turn of this actor between the write and the next step's request; instead,
// when nothing else of this run is in flight, the next step is opened now and its
// request handed to the writer with the write: the writer sends it to the agent once
// the write is in the WAL (as this actor's request, the reply comes back here). No
// model call of the step starts before the record is written, as before; if the write
// fails the request is never sent and the run parks (or fails, for checkpoint 0).
void save_then_run_node(run_actor* self, int node, std::string input, step_kind kind,
                        on_write_failure if_failed) {
  auto& st = self->state;
  // With another step open, an agent may call into the run while the write is under
  // way; a step to replay answers itself. Both take the usual way.
  if (!st.dur || !st.open_steps.empty() || !st.dur->replay.empty()) {
    save_running_then(self, [self, node, input = std::move(input), kind,
                             if_failed](const std::string& problem) mutable {
      if (!problem.empty()) {
        write_failed(self, if_failed, problem);
        return;
      }
      run_node(self, node, std::move(input), kind);
    });
    return;
  }
  auto& d = *st.dur;
  auto write = prepare_running_write(self);
  d.handed_records = static_cast<uint32_t>(d.unsaved.size());
  d.handed_calls = static_cast<uint32_t>(d.unsaved_calls.size());
  auto req = begin_step(self, kind, node, -1, std::move(input));
  auto step = req.ctx.step;
  auto request_id = self->new_request_id(caf::message_priority::normal);
  self->add_multiplexed_response_handler(
      request_id.response_id(), caf::behavior{[self, node, step](step_reply& reply) {
                                                confirm_handed(self);
                                                on_node_reply(self, node, step, reply);
                                              },
                                              [self, step, if_failed](caf::error& err) {
                                                if (auto* problem = write_failure_problem(err)) {
                                                  spdlog::error("run {}: {}", self->state.run_id,
                                                                *problem);
                                                  unbegin_step(self, step);
                                                  write_failed(self, if_failed, *problem);
                                                  return;
                                                }
                                                confirm_handed(self);
                                                on_agent_lost(self, step, err);
                                              }});
  const auto& agent = st.wf->agents[static_cast<size_t>(node)];
  follow_up next{caf::actor_cast<caf::strong_actor_ptr>(agent),
                 caf::make_mailbox_element(caf::strong_actor_ptr{self->ctrl()}, request_id, {},
                                           std::move(req))};
  st.shared->writer->submit_then_send(std::move(write), std::move(next),
                                      caf::strong_actor_ptr{self->ctrl()},
                                      request_id.response_id());
}

caf::result<step_reply> refuse_call(std::string kind, std::string message) {
  step_reply reply;
  reply.error.kind = std::move(kind);
  reply.error.message = std::move(message);
  return reply;
}

// What the run does once call step `step` has closed (run or replayed).
void after_call_step(run_actor* self, uint32_t step, step_reply& reply) {
  auto& st = self->state;
  if (!reply.error.ok() && supervisor::judge(reply.error).status == run_status::escalated) {
    on_step_error(self, node_name(self, st.steps[step].node), reply.error);
    return;
  }
  // The call's record goes to disk before its answer goes back to the caller.
  save_running_then(self, [self, step, reply = std::move(reply)](
                              const std::string& problem) mutable {
    if (!problem.empty()) {
      park_on_write_failure(self, problem);
      return;
    }
    auto& st = self->state;
    auto it = std::find_if(st.open_calls.begin(), st.open_calls.end(),
                           [&](const auto& c) { return c.first == step; });
    if (it == st.open_calls.end()) return;
    auto promise = std::move(it->second);
    st.open_calls.erase(it);
    promise.deliver(std::move(reply));
  });
}

void on_call_reply(run_actor* self, uint32_t step, step_reply& reply) {
  auto& st = self->state;
  if (st.finished) return;
  if (parks_on(self, reply.error)) return;
  close_step(self, step, reply);
  note_closed(self, step, reply);
  pack_decisions(self, step);
  after_call_step(self, step, reply);
}

caf::result<step_reply> on_agent_call(run_actor* self, agent_call& call) {
  auto& st = self->state;
  if (st.finished || !st.wf) return refuse_call("run_ended", "the run has already ended");
  if (st.escalation) return refuse_call("run_ended", "the run is being escalated");
  const auto& g = *st.wf->definition;
  auto from = g.index_of(call.from);
  auto to = g.index_of(call.to);
  if (from < 0 || to < 0 || !g.may_call(from, call.to))
    return refuse_call("bad_request", fmt::format("agent '{}' may not call '{}': the graph "
                                                  "declares no such call",
                                                  call.from, call.to));
  if (!st.wf->limits.admits_hop(st.hops)) {
    auto detail = fmt::format("run reached max_hops = {} when '{}' tried to call '{}'",
                              st.wf->limits.max_hops(), call.from, call.to);
    escalate(self, reason_hop_limit, detail);
    return refuse_call(reason_hop_limit, std::move(detail));
  }
  st.hops += 1;
  auto req = begin_step(self, step_kind::call, to, from, std::move(call.input));
  auto step = req.ctx.step;
  auto promise = self->make_response_promise<step_reply>();
  st.open_calls.emplace_back(step, promise);
  if (replays(self, step, step_kind::call, to)) return promise;
  self->request(st.wf->agents[static_cast<size_t>(to)], caf::infinite, std::move(req))
      .then([self, step](step_reply& reply) { on_call_reply(self, step, reply); },
            [self, step](caf::error& err) { on_agent_lost(self, step, err); });
  return promise;
}

// Answers a step from its record (see replays()).
void replay_step(run_actor* self, uint32_t step) {
  auto& st = self->state;
  if (st.finished || !st.dur) return;
  auto it = st.dur->replay.find(step);
  if (it == st.dur->replay.end()) return;
  auto rec = std::move(it->second);
  st.dur->replay.erase(it);
  auto& e = st.steps[step];
  set_label(e, rec.label);
  set_model(self, e, rec.model);
  e.model_calls = static_cast<uint16_t>(rec.model_calls);
  e.input_tokens = rec.input_tokens;
  e.output_tokens = rec.output_tokens;
  e.cost_usd = rec.cost_usd;
  e.latency_ms = static_cast<float>(rec.latency_ms);
  restore_text(self, e, rec.output, rec);
  step_reply reply;
  reply.output = std::move(rec.output);
  reply.label = std::move(rec.label);
  if (!rec.error.empty()) {
    set_error(e, rec.error);
    auto colon = rec.error.find(": ");
    reply.error.kind = rec.error.substr(0, colon);
    reply.error.message = colon == std::string::npos ? rec.error : rec.error.substr(colon + 2);
  }
  auto open = std::find(st.open_steps.begin(), st.open_steps.end(), step);
  if (open != st.open_steps.end()) {
    bool was_oldest = open == st.open_steps.begin();
    st.open_steps.erase(open);
    if (was_oldest) publish_oldest_open(self);
  }
  st.dur->recorded = std::max(st.dur->recorded, step + 1);
  if (e.kind == step_kind::call)
    after_call_step(self, step, reply);
  else
    after_node_step(self, e.node, step, reply);
}

void check_steps(run_actor* self) {
  auto& st = self->state;
  if (st.finished || st.open_steps.empty()) return;
  auto oldest = st.open_steps.front();
  auto waited = clock_type::now() - st.steps[oldest].began;
  auto limit = std::chrono::milliseconds{st.wf->settings.step_timeout_ms};
  if (waited <= limit) return;
  const auto& rec = st.steps[oldest];
  finish(self, run_status::failed, "step_timeout",
         fmt::format("agent '{}' did not answer step {} within step_timeout_ms = {}",
                     node_name(self, rec.node), oldest, st.wf->settings.step_timeout_ms),
         {});
}

// Ends a run whose record cannot be continued: marked failed in the store (the other
// runs go on) and answered as failed.
run_result fail_record(run_actor* self, const std::string& run_id, const std::string& reason,
                       const std::string& detail, const run_checkpoint* known) {
  auto& st = self->state;
  run_checkpoint c;
  if (known) c = *known;
  c.run_id = run_id;
  c.status = run_status::failed;
  c.reason = reason;
  c.detail = detail;
  c.updated_ms = unix_now_ms();
  if (c.created_ms == 0) c.created_ms = c.updated_ms;
  auto written = st.shared->store->write_step(c, {}, {});
  if (!written.ok()) spdlog::error("run {}: {}", run_id, written.error);
  spdlog::warn("run {} failed: {}: {}", run_id, reason, detail);
  run_result r;
  r.run_id = run_id;
  r.thread_id = c.thread_id;
  r.workflow = c.workflow;
  r.status = run_status::failed;
  r.reason = reason;
  r.detail = detail;
  return r;
}

// The run as its record says it ended (a resume of an ended run changes nothing).
run_result ended_result(const run_checkpoint& c, const checkpoint_store& store) {
  return stored_result(c, store.steps(c.run_id));
}

// Continues a run from its last checkpoint (see resume_run_atom).
caf::result<run_result> resume_from_store(run_actor* self, const std::string& run_id) {
  auto& st = self->state;
  auto unanswered = [&](run_result r) -> caf::result<run_result> {
    st.finished = true;
    self->quit();
    return r;
  };
  if (!st.shared->store) {
    run_result r;
    r.run_id = run_id;
    r.status = run_status::failed;
    r.reason = "no_store";
    r.detail = "runs can only be resumed with a checkpoint store";
    return unanswered(std::move(r));
  }
  auto& store = *st.shared->store;
  auto loaded = store.load(run_id);
  if (!loaded) {
    run_result r;
    r.run_id = run_id;
    r.status = run_status::failed;
    r.reason = "unknown_run";
    r.detail = fmt::format("no run '{}' in the checkpoint store '{}'", run_id, store.path());
    return unanswered(std::move(r));
  }
  if (!loaded->state)
    return unanswered(fail_record(self, run_id, "bad_checkpoint", loaded->error, nullptr));
  auto& c = *loaded->state;
  if (is_ended(c.status)) return unanswered(ended_result(c, store));
  auto it = st.shared->workflows.find(c.workflow);
  if (it == st.shared->workflows.end())
    return unanswered(fail_record(self, run_id, "unknown_workflow",
                                  fmt::format("no workflow named '{}' is registered", c.workflow),
                                  &c));
  const auto& g = *it->second.definition;
  auto next_node = g.index_of(c.next_node);
  if (next_node < 0)
    return unanswered(fail_record(
        self, run_id, "bad_checkpoint",
        fmt::format("the checkpoint continues at node '{}', which workflow '{}' does not have",
                    c.next_node, c.workflow),
        &c));
  std::vector<std::string> step_errors;
  auto records = store.steps(run_id, &step_errors);
  if (!step_errors.empty())
    return unanswered(fail_record(self, run_id, "bad_checkpoint", step_errors.front(), &c));
  st.started = clock_type::now();
  st.promise = run_promise(self, self->make_response_promise());
  st.run_id = c.run_id;
  st.thread_id = c.thread_id;
  st.own_thread = c.own_thread;
  st.wf = &it->second;
  st.hops = c.next_hops;
  st.dur = std::make_unique<durable_state>();
  auto& d = *st.dur;
  d.input = c.input;
  d.next_node = next_node;
  d.next_kind = c.next_kind;
  d.next_input = c.next_input;
  d.next_step = c.next_step;
  d.next_hops = c.next_hops;
  d.recorded = c.steps;
  d.attempt_from = c.steps;
  d.writes = c.seq;
  d.input_tokens = c.input_tokens;
  d.output_tokens = c.output_tokens;
  d.nano_usd = c.spent_nano_usd;
  d.created_ms = c.created_ms;
  for (auto& rec : records) {
    if (rec.step >= c.next_step) {
      auto step = rec.step;
      d.replay.emplace(step, std::move(rec));
      continue;
    }
    if (g.index_of(rec.agent) < 0)
      return unanswered(fail_record(
          self, run_id, "bad_checkpoint",
          fmt::format("step record {} names agent '{}', which workflow '{}' does not have",
                      rec.step, rec.agent, c.workflow),
          &c));
    // A step still open when the checkpoint was written (an unwinding step while an
    // escalation agent took over) has no record: it keeps a placeholder line.
    while (st.steps.size() < rec.step) {
      auto& gap = st.steps.emplace_back();
      gap.began = st.started;
      gap.node = static_cast<int16_t>(next_node);
      set_error(gap, "not recorded: open when the run was checkpointed");
    }
    auto& e = st.steps.emplace_back();
    set_label(e, std::move(rec.label));
    set_model(self, e, rec.model);
    if (!rec.error.empty()) set_error(e, std::move(rec.error));
    e.began = st.started;
    e.cost_usd = rec.cost_usd;
    e.latency_ms = static_cast<float>(rec.latency_ms);
    e.input_tokens = rec.input_tokens;
    e.output_tokens = rec.output_tokens;
    e.hops = rec.hops;
    e.node = static_cast<int16_t>(g.index_of(rec.agent));
    e.caller = static_cast<int16_t>(rec.caller.empty() ? -1 : g.index_of(rec.caller));
    e.kind = rec.kind;
    e.model_calls = static_cast<uint16_t>(rec.model_calls);
    restore_text(self, e, rec.output, rec);
  }
  while (st.steps.size() < c.next_step) {
    auto& gap = st.steps.emplace_back();
    gap.began = st.started;
    gap.node = static_cast<int16_t>(next_node);
    set_error(gap, "not recorded: open when the run was checkpointed");
  }
  if (c.escalating)
    st.escalation = std::make_unique<std::pair<std::string, std::string>>(c.reason, c.detail);
  st.start_watch(self->address());
  // The thread's spending so far is in the record; a thread made for this run alone
  // was forgotten when it parked (or died with the process), so it is charged again.
  if (st.shared->ledger.open_thread(st.thread_id, st.wf->settings.thread_budget) || st.own_thread)
    st.shared->ledger.record_spent(st.thread_id, c.input_tokens + c.output_tokens,
                                   static_cast<double>(c.spent_nano_usd) / 1e9);
  auto promise = st.promise;
  save_then_run_node(self, next_node, c.next_input, c.next_kind, on_write_failure::park);
  return promise;
}

// A run written as checkpoint 0 by whoever started it (engine::run_all): its
// thread, and when.
struct recorded_start {
  bool own_thread = false;
  int64_t created_ms = 0;
};

caf::result<run_result> start_run(run_actor* self, run_request& req,
                                  const recorded_start* recorded) {
  auto& st = self->state;
  if (st.promise.pending() || st.finished) return caf::make_error(caf::sec::unexpected_message);
  st.started = clock_type::now();
  st.promise = run_promise(self, self->make_response_promise());
  st.run_id = req.run_id.empty() ? st.shared->new_id("r") : std::move(req.run_id);
  st.own_thread = recorded ? recorded->own_thread : req.thread_id.empty();
  st.thread_id = req.thread_id.empty() ? st.shared->new_id("t") : std::move(req.thread_id);
  auto promise = st.promise;
  auto it = st.shared->workflows.find(req.workflow);
  if (it == st.shared->workflows.end()) {
    finish(self, run_status::failed, "unknown_workflow",
           fmt::format("no workflow named '{}' is registered", req.workflow), {});
    return promise;
  }
  st.wf = &it->second;
  st.start_watch(self->address());
  st.shared->ledger.open_thread(st.thread_id, st.wf->settings.thread_budget);
  const auto& g = *st.wf->definition;
  auto entry = g.index_of(g.entry());
  // Most runs make about one step per node: one allocation instead of regrowing.
  st.steps.reserve(std::min<size_t>(g.nodes().size(), 8));
  if (st.shared->store) {
    st.dur = std::make_unique<durable_state>();
    st.dur->input = req.input;
    st.dur->created_ms = recorded ? recorded->created_ms : unix_now_ms();
    set_boundary(self, entry, step_kind::node, req.input);
    if (recorded) {
      // Checkpoint 0 is on disk already: the first write is the first step's.
      run_node(self, entry, std::move(req.input), step_kind::node);
      return promise;
    }
    // Checkpoint 0: a run nobody can find after a crash must not start.
    save_then_run_node(self, entry, std::move(req.input), step_kind::node, on_write_failure::fail);
    return promise;
  }
  run_node(self, entry, std::move(req.input), step_kind::node);
  return promise;
}

caf::behavior run_behavior(run_actor* self, std::shared_ptr<engine_shared> shared) {
  self->state.shared = std::move(shared);
  return {
      [self](run_request& req) -> caf::result<run_result> {
        if (!req.checkpoint_written) return start_run(self, req, nullptr);
        auto& st = self->state;
        // Without a store, or for a workflow this engine lacks, the resume path knows
        // what to write (it marks the stored run failed).
        if (!st.shared->store || req.run_id.empty() || req.thread_id.empty() ||
            st.shared->workflows.count(req.workflow) == 0) {
          if (st.promise.pending() || st.finished)
            return caf::make_error(caf::sec::unexpected_message);
          return resume_from_store(self, req.run_id);
        }
        recorded_start recorded{req.own_thread, req.created_ms};
        return start_run(self, req, &recorded);
      },
      [self](resume_run_atom, const std::string& run_id) -> caf::result<run_result> {
        auto& st = self->state;
        if (st.promise.pending() || st.finished)
          return caf::make_error(caf::sec::unexpected_message);
        return resume_from_store(self, run_id);
      },
      [self](agent_call& call) { return on_agent_call(self, call); },
      [self](replay_atom, uint32_t step) { replay_step(self, step); },
      [self](check_steps_atom) { check_steps(self); },
  };
}

}  // namespace

caf::actor spawn_run_actor(caf::actor_system& sys, std::shared_ptr<engine_shared> shared) {
  return sys.spawn(run_behavior, std::move(shared));
}

void poke_overdue_run(const caf::actor_addr& run) {
  if (auto handle = caf::actor_cast<caf::actor>(run))
    caf::anon_send(handle, check_steps_atom::value);
}

}  // namespace switchyard
