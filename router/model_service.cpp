#include "router/model_service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <new>
#include <nlohmann/json.hpp>
#include <queue>
#include <typeinfo>
#include <unordered_map>
#include <vector>

#include "caf/all.hpp"
#include "router/call_core.hpp"
#include "router/cascade.hpp"
#include "router/circuit_breaker.hpp"
#include "router/cost.hpp"
#include "router/fallback_chain.hpp"
#include "router/providers/error_mapping.hpp"
#include "router/providers/http_client.hpp"
#include "router/providers/http_provider.hpp"
#include "router/providers/sim_provider.hpp"
#include "router/providers/wire_adapter.hpp"
#include "router/rate_limiter.hpp"
#include "router/response_cache.hpp"
#include "router/route_training.hpp"
#include "router/routing_policy.hpp"
#include "router/token_estimate.hpp"
#include "runtime/clock.hpp"
#include "runtime/messages.hpp"
#include "runtime/supervisor.hpp"
#include "runtime/trace_codec.hpp"

namespace switchyard {

namespace {

using sim_done_atom = caf::atom_constant<caf::atom("sim_done")>;
using sim_ready_atom = caf::atom_constant<caf::atom("sim_ready")>;
using http_done_atom = caf::atom_constant<caf::atom("http_done")>;
using direct_tick_atom = caf::atom_constant<caf::atom("direct_tck")>;
using http_delta_atom = caf::atom_constant<caf::atom("http_delta")>;
using wake_atom = caf::atom_constant<caf::atom("res_wake")>;
using embed_done_atom = caf::atom_constant<caf::atom("embed_done")>;
using clock_type = std::chrono::steady_clock;

clock_time now_ns() {
  return std::chrono::duration_cast<clock_time>(clock_type::now().time_since_epoch());
}

uint32_t to_ms(clock_time t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t).count();
  // Round up: "retry in 0 ms" would read as "unknown".
  if (ms == 0 && t.count() > 0) ms = 1;
  return static_cast<uint32_t>(std::clamp<int64_t>(ms, 0, UINT32_MAX));
}

struct service_counters {
  uint64_t calls = 0;
  uint64_t answered = 0;
  uint64_t attempts = 0;
  uint64_t retries = 0;
  uint64_t fallbacks = 0;  // answered by a candidate other than the routed model
  uint64_t downgraded = 0;
  uint64_t blocked = 0;
  uint64_t failed = 0;
  uint64_t rate_limit_waits = 0;
  uint64_t rate_limited = 0;  // gave up on a provider whose keys stayed saturated
  uint64_t key_failovers = 0;   // a key answered 401/429 and the call moved to another key
  uint64_t judge_calls = 0;     // cascade stages graded by the route's judge model
  uint64_t judge_failures = 0;  // the judge's call failed or its grade was unreadable
  uint64_t stream_switches = 0;
  uint64_t stream_tool_call_aborts = 0;
  uint64_t semantic_failures = 0;
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;
  uint64_t embeddings_asked = 0;    // routing embeddings requested from the service
  uint64_t embeddings_failed = 0;   // ... that failed: routed with TF-IDF instead
  uint64_t embeddings_skipped = 0;  // not asked: the service failed within cooldown_ms
};

// Streaming: what went out to the requester. Made at a call's first stream delta;
// the other calls (most of them) carry a null pointer instead.
struct stream_progress {
  std::string attempt_text;  // text deltas of the current attempt
  bool attempt_streamed = false;
  bool tool_call_out = false;
  std::string prefill;  // text kept from broken streams, sent as an assistant prefill
  bool prefill_in_messages = false;
  bool switch_pending = false;
  std::string switch_from;
  std::string switch_reason;
};

// The parts of a call that most calls never set, kept apart: ten thousand calls may be
// in flight. Cascade stages' answers were paid (their reservations settled) and are
// added to the final usage, so the usage matches the ledger.
struct call_extra {
  std::vector<float> prompt_embedding;  // from an embeddings service, for the cache
  nlohmann::json cascade_log;           // per scored cascade stage
  uint32_t paid_input_tokens = 0;
  uint32_t paid_output_tokens = 0;
  double paid_usd = 0;
  std::vector<std::string> events;  // for the trace: what resilience did
  model_error last_error;           // of the last failed attempt
};

// See model_service_state::answered_directly.
struct direct_answers {
  struct entry {
    uint64_t key = 0;
    uint64_t seq = 0;
    double attempt_ms = 0;
  };
  std::mutex mu;
  std::vector<entry> done;
  // Whether `done` has entries, set and cleared with `mu` held: the service reads it
  // without the lock, so a request on a service with no HTTP answers takes no lock.
  std::atomic<bool> any{false};
};
constexpr auto direct_tick = std::chrono::milliseconds(50);

// A call's model_request where its CAF message holds it (see hold_request): moving the
// request out into a block of its own cost a move and an allocation per call. One
// pointer, as the unique_ptr it replaces: a call record 8 bytes larger no longer fits
// jemalloc's 448-byte class, and ten thousand calls may wait at once.
class held_request {
 public:
  using block = caf::detail::tuple_vals<model_request>;
  held_request() = default;
  explicit held_request(caf::intrusive_ptr<block> data) : data_(std::move(data)) {}
  explicit operator bool() const { return data_ != nullptr; }
  model_request* operator->() const { return &std::get<0>(data_->data()); }
  model_request& operator*() const { return std::get<0>(data_->data()); }
  void reset() { data_.reset(); }

 private:
  caf::intrusive_ptr<block> data_;
};

// A request that arrived outside a message of its own (a call handed over by the gateway's
// direct path) in a block of its own.
held_request hold_request(model_request&& req) {
  return held_request{caf::make_counted<held_request::block>(std::move(req))};
}

// Takes the model_request being handled out of its mailbox element. A message that holds
// the request alone (the model agent's, and what a value moves into) is kept as it is;
// any other moves the request into a block of its own.
held_request hold_request(caf::mailbox_element& element) {
  caf::message msg = element.move_content_to_message();
  auto& data = msg.vals().unshared();  // the call changes its request (stream prefills)
  if (typeid(data) == typeid(held_request::block))
    return held_request{
        caf::intrusive_ptr<held_request::block>{static_cast<held_request::block*>(&data)}};
  return hold_request(std::move(msg.get_mutable_as<model_request>(0)));
}

// One model_request in flight, from routing to its answer.
struct call_state {
  caf::response_promise promise;
  caf::actor requester;  // stream deltas and switch events go here (streamed calls)
  // The request, off-line: ten thousand calls may wait at once and most need it no more
  // once a sim answer is pending (see start_attempt); then null, its id in `call_id`.
  held_request req;
  std::string call_id;  // only once `req` is dropped
  clock_type::time_point received;
  uint32_t prompt_tokens = 0;
  std::string route;
  std::string decision;                     // the policy's trace, compact (trace_codec)
  std::vector<const model_config*> models;  // per chain candidate
  // Null until an attempt fails or is skipped: most calls answer on their first attempt,
  // which goes out without a chain (first_attempt_without_chain); chain_of() builds it.
  std::unique_ptr<fallback_chain> chain;
  clock_time chain_start{0};  // when the call was routed: the retry budget starts there
  int requested_tier_rank = 0;
  shared_breaker* first_breaker = nullptr;  // set while the chainless first attempt is out
  bool first_probe = false;                 // ... and its breaker admission's probe flag
  latency_class cls = latency_class::interactive;
  // The current attempt. `seq` tags every message that may resume the call; a message
  // with an older tag (a call that was given up on) is dropped.
  uint64_t seq = 0;
  size_t candidate = 0;
  bool reserved = false;
  uint64_t reservation = 0;
  budget_ledger::account_ref account;  // the thread's ledger account, looked up once a call
  rate_limiter* limiter = nullptr;
  rate_grant grant;
  // Providers with per-key secrets: the attempt's key is an endpoint of its own.
  bool key_attempt = false;  // the grant's key chose the secret and the breaker
  bool key_probe = false;    // that key's breaker admitted this attempt as its probe
  key_mask keys_tried = 0;   // keys that answered 401/429 during this chain attempt
  clock_time rate_waited{0};
  bool waiting_for_rate = false;
  std::unique_ptr<stream_progress> stream;  // null until a stream delta went out
  // Routing on an embeddings service: the classifier's answer on the prompt's vector
  // (or the TF-IDF fallback's, with the reason); the vector is kept in `extra`.
  std::unique_ptr<route_guess> guess;
  std::unique_ptr<cache_request> cache_key;  // set when the answer may be stored
  cache_policy cache_rules;
  // Cascade mode (route in resilience.cascade): one stage per tier, cheapest first.
  std::unique_ptr<cascade> cascade_run;
  std::unique_ptr<model_response> judged;  // the stage answer the judge is grading
  // For the trace.
  uint32_t retries = 0;
  // What few calls need (call_extra): made on the first write (more()); seen() reads.
  std::unique_ptr<call_extra> extra;
  call_extra& more() {
    if (!extra) extra = std::make_unique<call_extra>();
    return *extra;
  }
  const call_extra& seen() const {
    static const call_extra none;
    return extra ? *extra : none;
  }
  // A sim attempt's answer until its latency has passed (see sim_ready_atom), its text
  // unwritten until then: ten thousand calls may be waiting.
  sim_deferred_reply sim_pending;
};

// A sim answer's due time (see sim_ready_atom): earliest first, then in call order.
struct sim_wake {
  clock_type::time_point due;
  uint64_t key = 0;
  uint64_t seq = 0;
};

struct due_later {
  bool operator()(const sim_wake& a, const sim_wake& b) const {
    return a.due != b.due ? a.due > b.due : a.key > b.key;
  }
};

struct model_service_state {
  // Routing, health, breakers, rate limiters, HTTP providers and client: shared with
  // callers that start plain calls themselves (router/call_core.hpp). The members below
  // point into it.
  std::shared_ptr<call_core> core;
  std::shared_ptr<const config> cfg;
  budget_ledger* ledger = nullptr;
  std::shared_ptr<const routing_policy> policy;
  model_request_observer observer;  // audit hook; may be empty
  breaker_registry* breakers = nullptr;
  observed_models* models = nullptr;
  std::unordered_map<std::string, sim_provider> sims;  // by provider name
  // What serves each catalog model (index: its position in cfg->models), from the
  // maps above, looked up once: an attempt does no string-keyed lookup.
  struct provider_binding {
    rate_limiter* limiter = nullptr;
    http_provider* http = nullptr;
    const std::string* broken = nullptr;
    sim_provider* sim = nullptr;
  };
  std::vector<provider_binding> served_by;
  // The classifier when it routes on an embeddings service (router.embeddings): the
  // prompt's embedding is awaited as a message before the call is routed.
  std::shared_ptr<const embedding_route_classifier> embedded;
  clock_type::time_point embeddings_down_until;  // failed lately: not asked before this
  std::string embeddings_down_why;
  // The response cache (resilience.cache.path), its wall clock (TTLs outlive the
  // process) and encoder (the router's: see cache_encoder_for). Declared before `cache`,
  // which uses them.
  wall_clock_source cache_clock;
  std::unique_ptr<embedding_encoder> cache_encoder;
  std::unique_ptr<response_cache> cache;
  // The core's; null when the config has no HTTP provider (its I/O thread is not free).
  http_client* http = nullptr;
  clock_type::time_point started = clock_type::now();
  std::unordered_map<uint64_t, call_state> calls;
  // The node of a call that ended (deliver), its call_state already reset: the next call
  // is built in it (new_call) instead of a node allocated and freed per call.
  std::unordered_map<uint64_t, call_state>::node_type spare_call;
  uint64_t next_call = 0;
  // Calls the HTTP client's thread answered itself (answer_directly) whose bookkeeping
  // here is still to do (settle_direct_answers): done at the start of the next request
  // or stats query, or at the latest by a tick every direct_tick, rather than by a
  // message per call, which would wake a worker per call.
  std::shared_ptr<direct_answers> answered_directly = std::make_shared<direct_answers>();
  bool direct_tick_armed = false;
  // Sim answers waiting out their latency, behind one delayed sim_ready message for the
  // soonest (armed for `sim_armed`; max() when none is): a delayed message per call would
  // cost a mailbox element and a clock entry (about 240 B) while ten thousand wait.
  std::priority_queue<sim_wake, std::vector<sim_wake>, due_later> sim_wakes;
  clock_type::time_point sim_armed = clock_type::time_point::max();
  service_counters counters;
  // The routing decision of the call being routed (route_call), kept from call to call.
  routing_decision decision;
  // While a model_request is handled, until an attempt ends: its arrival time, which
  // routing and the first attempt read instead of the clock (now_of). A read costs ~47 ns
  // on this VM; a call read it four times before its attempt was made, now once.
  clock_time request_now{0};
  bool request_now_set = false;

  static inline const char* name = "model_service";

  ~model_service_state() {
    // Nobody waits for the answers any more: cancel at once instead of draining.
    if (http) http->shutdown(std::chrono::milliseconds{0});
  }
};

using service_actor = caf::stateful_actor<model_service_state>;

model_service_state::provider_binding binding_for(model_service_state& st,
                                                  const std::string& provider) {
  model_service_state::provider_binding b;
  auto& core = *st.core;
  if (auto it = core.limiters.find(provider); it != core.limiters.end())
    b.limiter = it->second.get();
  if (auto it = core.http_providers.find(provider); it != core.http_providers.end())
    b.http = &it->second;
  if (auto it = core.broken_providers.find(provider); it != core.broken_providers.end())
    b.broken = &it->second;
  if (auto it = st.sims.find(provider); it != st.sims.end()) b.sim = &it->second;
  return b;
}

// The binding of a catalog model (every model a call holds comes from st.cfg).
model_service_state::provider_binding binding_of(model_service_state& st, const model_config& m) {
  const auto& models = st.cfg->models;
  auto index = static_cast<size_t>(std::distance(models.data(), &m));
  if (index < st.served_by.size() && &models[index] == &m) return st.served_by[index];
  return binding_for(st, m.provider);
}

// The position of a catalog model of st.cfg, or catalog_npos.
size_t catalog_index(const model_service_state& st, const model_config* m) {
  return catalog_position(st.cfg->models.data(), st.cfg->models.size(), m);
}

// The facts of a model a call holds: every one of them comes from st.cfg (plan_for).
const model_facts& facts_of(const model_service_state& st, const model_config& m) {
  return st.core->facts[catalog_index(st, &m)];
}

// The clock for routing and starting an attempt: the handled request's arrival time
// while a model_request is handled (request_now), else a fresh reading.
clock_time now_of(const model_service_state& st) {
  return st.request_now_set ? st.request_now : now_ns();
}

model_response error_response(const model_request& req, std::string kind, std::string message) {
  model_response resp;
  resp.call_id = req.call_id;
  resp.error.kind = std::move(kind);
  resp.error.message = std::move(message);
  return resp;
}

// Milliseconds until `model`'s sim outage window covering `since_start` ends; 0 when
// it is not in one.
uint32_t outage_remaining_ms(const model_config& model, std::chrono::milliseconds since_start) {
  if (since_start.count() < 0) return 0;
  auto now_ms = static_cast<uint64_t>(since_start.count());
  uint64_t end = 0;
  for (const auto& o : model.sim.outages)
    if (o.from_ms <= now_ms && now_ms < o.to_ms) end = std::max(end, o.to_ms);
  return end == 0 ? 0 : static_cast<uint32_t>(std::min<uint64_t>(end - now_ms, UINT32_MAX));
}

std::chrono::milliseconds since_start(const model_service_state& st) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - st.started);
}

// The candidates of a call: the routed model first, then fallbacks the policy judged
// eligible for this very request (a health verdict is fine: breakers decide at call
// time). A pinned model has no fallbacks: the caller asked for that model. Fills
// c.models and c.requested_tier_rank from the lists resolved when the config loaded;
// returns why no plan could be made, or "".
std::string plan_for(const model_service_state& st, const model_request& req,
                     const routing_decision& decision, call_state& c) {
  call_plan plan;
  plan.models = std::move(c.models);
  auto error = st.core->plan_for(req, decision, plan);
  c.models = std::move(plan.models);
  c.requested_tier_rank = plan.requested_tier_rank;
  return error;
}

// The decision trace with what resilience did, under key "resilience". Left out when
// the first attempt answered: most calls, and traces are kept per step.
// Whether resilience did anything the trace must tell (see trace_with_resilience).
bool resilience_to_trace(const call_state& c, const chain_result* result) {
  return !c.seen().events.empty() || c.retries > 0 ||
         (result != nullptr && result->downgraded) || !c.seen().cascade_log.empty();
}

decision_traces trace_with_resilience(const call_state& c, const chain_result* result,
                                      const std::string& answered_by) {
  if (!resilience_to_trace(c, result)) return decision_traces{c.decision};
  nlohmann::json r;
  if (result != nullptr) {
    r["outcome"] = to_string(result->what);
    r["attempts"] = result->attempts;
    if (!result->reason.empty()) r["reason"] = result->reason;
  }
  if (c.retries > 0) r["retries"] = c.retries;
  if (!answered_by.empty()) r["answered_by"] = answered_by;
  if (result != nullptr && result->downgraded) r["downgraded"] = true;
  if (!c.seen().events.empty()) r["events"] = c.seen().events;
  if (!c.seen().cascade_log.empty()) r["cascade"] = c.seen().cascade_log;
  decision_traces out{c.decision};
  add_resilience(out.bytes, r.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return out;
}

void schedule_wake(service_actor* self, uint64_t key, call_state& c, clock_time delay) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(delay);
  if (us.count() < 1) us = std::chrono::microseconds{1};
  self->delayed_send(self, us, wake_atom::value, key, c.seq);
}

// A call's answer written in the mailbox element that carries it to the requester
// (answer_promise sends that very element): built anywhere else, a model_response is
// moved into an element at the end, about 700 instructions per call for its strings.
using answer_element = caf::mailbox_element_vals<model_response>;
using answer_ptr = std::unique_ptr<answer_element, caf::detail::disposer>;

answer_ptr new_answer() {
  return answer_ptr{new answer_element(caf::strong_actor_ptr{}, caf::make_message_id(), {})};
}

answer_ptr boxed(model_response&& resp) {
  return answer_ptr{
      new answer_element(caf::strong_actor_ptr{}, caf::make_message_id(), {}, std::move(resp))};
}

model_response& body(answer_ptr& answer) { return std::get<0>(answer->data()); }

// What c.promise.deliver(resp) does, with the answer sent in its own element: deliver()
// moves it into a message first, then wraps that in an element (an allocation and a move
// more per call). A request from a forwarding chain (the model agent's: the step's
// sender with the agent as its one stage) goes to that stage as the same request, a
// plain one back to its sender as the response; anything else (more stages, an
// asynchronous message) through the promise.
void answer_promise(service_actor* self, caf::response_promise& promise, answer_ptr&& answer) {
  const auto& stages = promise.stages();
  if (stages.size() > 1 || !promise.id().is_request() || !promise.pending()) {
    promise.deliver(std::move(body(answer)));
    return;
  }
  if (!stages.empty()) {
    auto next = stages.back();
    answer->sender = promise.source();
    answer->mid = promise.id();
    next->enqueue(caf::mailbox_element_ptr{answer.release()}, self->context());
  } else {
    answer->sender = caf::actor_cast<caf::strong_actor_ptr>(self);
    answer->mid = promise.id().response_id();
    promise.source()->enqueue(caf::mailbox_element_ptr{answer.release()}, self->context());
  }
}

// A new call's record under `key`, in the node of one that ended when there is one.
call_state& new_call(model_service_state& st, uint64_t key) {
  if (st.spare_call.empty()) return st.calls.try_emplace(key).first->second;
  st.spare_call.key() = key;
  return st.calls.insert(std::move(st.spare_call)).position->second;
}

// Forgets an ended call. What it held goes now, as with an erase; its node is kept for
// the next call (new_call), and so is its candidate list's memory (plan_for fills it).
void forget_call(model_service_state& st, std::unordered_map<uint64_t, call_state>::iterator it) {
  auto node = st.calls.extract(it);
  call_state& c = node.mapped();
  std::vector<const model_config*> models = std::move(c.models);
  models.clear();
  c.~call_state();
  new (&c) call_state();
  c.models = std::move(models);
  st.spare_call = std::move(node);
}

// Ends the call: answers the requester and forgets it.
void deliver(service_actor* self, uint64_t key, answer_ptr&& answer) {
  auto& st = self->state;
  auto it = st.calls.find(key);
  if (it == st.calls.end()) return;
  auto& c = it->second;
  model_response& resp = body(answer);
  // The call ends here: its id and route move into the answer.
  resp.call_id = std::move(c.req ? c.req->call_id : c.call_id);
  if (resp.usage.route.empty()) resp.usage.route = std::move(c.route);
  resp.usage.latency_ms =
      std::chrono::duration<double, std::milli>(clock_type::now() - c.received).count();
  if (resp.ok()) ++st.counters.answered;
  // Let go of the ledger account before the answer can end the run: a run that closes
  // its thread finds no other holder, and the ledger keeps the account for the next one.
  c.account = budget_ledger::account_ref{};
  answer_promise(self, c.promise, std::move(answer));
  forget_call(st, it);
}

void deliver(service_actor* self, uint64_t key, model_response&& resp) {
  deliver(self, key, boxed(std::move(resp)));
}

// The chain ended without an answer: blocked or failed.
void finish_unanswered(service_actor* self, uint64_t key, call_state& c) {
  auto& st = self->state;
  const chain_result& r = c.chain->result();
  model_response resp;
  const model_config& routed = *c.models.front();
  resp.usage.model_id = routed.id;
  resp.usage.tier = routed.tier;
  resp.usage.decision = trace_with_resilience(c, &r, {});
  // Earlier cascade stages answered and were paid: the usage says so, like the ledger.
  resp.usage.input_tokens = c.seen().paid_input_tokens;
  resp.usage.output_tokens = c.seen().paid_output_tokens;
  resp.usage.cost_usd = c.seen().paid_usd;
  // The chain's account names each candidate's verdict; the last provider error says
  // what the provider actually answered (it may name a key variable, a limit, ...).
  std::string last;
  if (!c.seen().last_error.ok())
    last = " (last error: " + c.seen().last_error.kind +
           (c.seen().last_error.message.empty() ? "" : ": " + c.seen().last_error.message) + ")";
  if (r.what == chain_result::blocked) {
    ++st.counters.blocked;
    resp.error.kind = "blocked";
    resp.error.provider = routed.provider;
    // When a breaker admits again, or when the provider said to come back.
    resp.error.retry_after_ms = std::max(to_ms(r.retry_in), c.seen().last_error.retry_after_ms);
    resp.error.message = r.reason + last;
  } else {
    ++st.counters.failed;
    resp.error.kind = r.error_kind.empty() ? "no_model" : r.error_kind;
    resp.error.message = r.reason + last;
    if (c.seen().last_error.kind == resp.error.kind)
      resp.error.retry_after_ms = c.seen().last_error.retry_after_ms;
  }
  deliver(self, key, std::move(resp));
}

// What a chain reports for a call answered by its first attempt (candidate 0, routed
// tier or better) when that attempt went out without a chain.
const chain_result first_attempt_answered = [] {
  chain_result r;
  r.what = chain_result::success;
  r.attempts = 1;
  return r;
}();

// The call's fallback chain, built from its candidates on first need. A first attempt
// already out without it (first_attempt_without_chain) is handed over to it.
fallback_chain& chain_of(model_service_state& st, uint64_t key, call_state& c) {
  if (c.chain) return *c.chain;
  const config& cfg = *st.cfg;
  std::vector<fallback_candidate> candidates;
  candidates.reserve(c.models.size());
  for (const model_config* m : c.models) {
    const auto& facts = facts_of(st, *m);
    candidates.push_back(fallback_candidate{facts.endpoint, m->tier, facts.tier_rank,
                                            m->context_window, facts.per_key});
  }
  // The call id seeds the jitter: reproducible per call, different across calls.
  const std::string& call_id = c.req ? c.req->call_id : c.call_id;
  uint64_t seed = std::hash<std::string>{}(call_id) ^ (key * 0x9E3779B97F4A7C15ull);
  c.chain =
      std::make_unique<fallback_chain>(std::move(candidates), c.requested_tier_rank, st.breakers,
                                       cfg.resilience.retry, c.chain_start, seed);
  if (c.first_breaker != nullptr) c.chain->adopt_first_attempt(c.first_probe);
  c.first_breaker = nullptr;
  return *c.chain;
}

// The chain's first attempt without building the chain (most calls need no more): when
// its first candidate has one endpoint, is of the requested tier or better and its
// breaker admits, `a` is that attempt and true is returned. Otherwise the chain decides.
bool first_attempt_without_chain(model_service_state& st, call_state& c, chain_attempt& a) {
  if (c.chain || c.first_breaker != nullptr || c.models.empty()) return false;
  const config& cfg = *st.cfg;
  const model_config& m = *c.models.front();
  const auto& facts = facts_of(st, m);
  if (facts.per_key) return false;
  if (facts.tier_rank < c.requested_tier_rank) return false;  // a downgrade: explained
  auto now = now_of(st);
  if (now - c.chain_start > std::chrono::milliseconds(cfg.resilience.retry.max_total_ms))
    return false;
  shared_breaker& breaker = st.models->only_breaker(m);
  breaker_admission admission = breaker.admit(now);
  if (!admission.allowed) return false;  // a refusal changes nothing: the chain asks again
  c.first_breaker = &breaker;
  c.first_probe = admission.probe;
  a.what = chain_attempt::call;
  a.candidate = 0;
  a.probe = admission.probe;
  return true;
}

void pump(service_actor* self, uint64_t key);
enum class attempt_start { started, skipped, ended };
attempt_start start_attempt(service_actor* self, uint64_t key, call_state& c);
void arm_sim_timer(service_actor* self);
key_mask unusable_keys(const model_service_state& st, const std::string& provider);
key_mask open_keys(model_service_state& st, const model_config& model, const rate_limiter& limiter,
                   clock_time now);
std::string cached_text_of(const model_response& r);
bool start_stage(service_actor* self, uint64_t key, call_state& c);

void release_attempt(model_service_state& st, call_state& c, uint32_t actual_tokens) {
  if (c.limiter != nullptr && c.grant.granted) c.limiter->settle(c.grant, actual_tokens, now_ns());
  c.grant = {};
  c.limiter = nullptr;
  c.key_attempt = false;
  if (c.reserved) st.ledger->release(c.reservation);
  c.reserved = false;
}

// The call's answer (the chain's success, and in a cascade the accepted stage): adds
// what earlier cascade stages and judges cost, fills the usage, caches, delivers.
void finish_answered(service_actor* self, uint64_t key, call_state& c, const model_config& model,
                     answer_ptr&& answer) {
  auto& st = self->state;
  model_response& reply = body(answer);
  const chain_result& r = c.chain ? c.chain->result() : first_attempt_answered;
  if (c.cascade_run) {
    reply.usage.input_tokens += c.seen().paid_input_tokens;
    reply.usage.output_tokens += c.seen().paid_output_tokens;
    reply.usage.cost_usd += c.seen().paid_usd;
  }
  reply.usage.model_id = model.id;
  reply.usage.tier = model.tier;
  reply.usage.downgraded = r.downgraded;
  if (r.downgraded) ++st.counters.downgraded;
  if (c.candidate > 0) ++st.counters.fallbacks;
  if (c.stream && !c.stream->prefill.empty()) reply.text = c.stream->prefill + reply.text;
  // The call ends here: its trace moves into the answer when resilience adds nothing.
  if (resilience_to_trace(c, &r))
    reply.usage.decision = trace_with_resilience(c, &r, c.candidate > 0 ? model.id : "");
  else
    reply.usage.decision.bytes = std::move(c.decision);
  if (st.cache && c.cache_key &&
      !st.cache->store(*c.cache_key, cached_text_of(reply), c.cache_rules))
    spdlog::warn("model service: response cache store failed: {}", st.cache->error());
  deliver(self, key, std::move(answer));
}

void finish_answered(service_actor* self, uint64_t key, call_state& c, const model_config& model,
                     model_response&& reply) {
  finish_answered(self, key, c, model, boxed(std::move(reply)));
}

// A scored cascade stage: accept its answer, or escalate to the next tier (this
// answer was paid: its cost joins the final usage). `judge` is the judge's account
// for the trace, null when no judge was asked.
void decide_stage(service_actor* self, uint64_t key, call_state& c, const model_config& model,
                  model_response reply, double confidence, scoring_method method,
                  nlohmann::json judge) {
  bool accepted = c.cascade_run->report(confidence);
  nlohmann::json entry{{"tier", model.tier},       {"model", model.id},
                       {"confidence", confidence}, {"scored_by", to_string(method)},
                       {"accepted", accepted},     {"cost_usd", reply.usage.cost_usd}};
  if (!judge.is_null()) entry["judge"] = std::move(judge);
  c.more().cascade_log.push_back(std::move(entry));
  if (accepted) {
    finish_answered(self, key, c, model, std::move(reply));
    return;
  }
  c.more().paid_input_tokens += reply.usage.input_tokens;
  c.more().paid_output_tokens += reply.usage.output_tokens;
  c.more().paid_usd += reply.usage.cost_usd;
  if (!start_stage(self, key, c)) return;
  pump(self, key);
}

// The judge answered (or its call failed): its grade is the stage's confidence; an
// unreadable grade or a failed call counts as low confidence (0) and the trace says
// why. The judge call was an ordinary call, settled on the same thread's ledger; its
// cost joins the final usage like an escalated stage's.
void judge_done(service_actor* self, uint64_t key, uint64_t seq, model_response verdict) {
  auto& st = self->state;
  auto it = st.calls.find(key);
  if (it == st.calls.end() || it->second.seq != seq || !it->second.judged) return;
  auto& c = it->second;
  std::unique_ptr<model_response> stage = std::move(c.judged);
  const model_config& model = *c.models[c.candidate];
  c.more().paid_input_tokens += verdict.usage.input_tokens;
  c.more().paid_output_tokens += verdict.usage.output_tokens;
  c.more().paid_usd += verdict.usage.cost_usd;
  const auto& judge_cfg = st.cfg->resilience.cascade.at(c.route).judge;
  nlohmann::json account{{"model", judge_cfg.model}};
  double confidence = 0;
  if (!verdict.ok()) {
    ++st.counters.judge_failures;
    account["error"] =
        verdict.error.kind +
        (verdict.error.message.empty() ? std::string{} : ": " + verdict.error.message);
    c.more().events.push_back(
        fmt::format("judge {} failed ({}): stage scored 0", judge_cfg.model, verdict.error.kind));
  } else {
    judge_verdict v = parse_judge_verdict(verdict.text);
    if (v.parsed) {
      confidence = v.score;
      account["grade"] = v.score;
    } else {
      ++st.counters.judge_failures;
      account["unparseable"] = v.problem;
      c.more().events.push_back(
          fmt::format("judge {}: {}; stage scored 0", judge_cfg.model, v.problem));
    }
  }
  account["cost_usd"] = verdict.usage.cost_usd;
  decide_stage(self, key, c, model, std::move(*stage), confidence, scoring_method::judge,
               std::move(account));
}

// Scores a cascade stage's answer: logprobs or format checks at once; the route's
// judge through the model service itself, as an ordinary asynchronous call (pinned to
// the judge model, so it never cascades), answered in judge_done().
void score_stage(service_actor* self, uint64_t key, call_state& c, const model_config& model,
                 model_response reply) {
  auto& st = self->state;
  const auto& settings = st.cfg->resilience.cascade.at(c.route);
  cascade_answer answer{reply.text, reply.finish_reason, {}, c.req->json_mode};
  for (const auto& lp : reply.logprobs) answer.token_logprobs.push_back(lp.logprob);
  scoring_method method =
      choose_scoring(answer, !settings.judge.model.empty(), c.cascade_run->at_last_tier());
  if (method != scoring_method::judge) {
    double confidence = default_scorer{}.score(answer);
    decide_stage(self, key, c, model, std::move(reply), confidence, method, nullptr);
    return;
  }
  ++st.counters.judge_calls;
  model_request ask;
  ask.ctx = c.req->ctx;  // the judge is paid from the same thread's budget
  ask.call_id = fmt::format("{}/judge{}", c.req->call_id, c.seen().cascade_log.size());
  ask.model = settings.judge.model;
  ask.max_tokens = settings.judge.max_tokens;
  ask.temperature = 0;
  ask.latency_class = c.req->latency_class;
  ask.data_class = c.req->data_class;
  if (auto tenant = c.req->metadata.find("tenant"); tenant != c.req->metadata.end())
    ask.metadata.emplace("tenant", tenant->second);
  ask.messages = {
      {"user", fill_judge_prompt(settings.judge.prompt,
                                 std::string(latest_user_text(c.req->messages)), reply.text)}};
  c.judged = std::make_unique<model_response>(std::move(reply));
  auto seq = c.seq;
  // No timeout of its own: the judge call ends by itself (its retry budget,
  // resilience.retry.max_total_ms).
  self->request(caf::actor_cast<caf::actor>(self), caf::infinite, std::move(ask))
      .then([self, key,
             seq](model_response& verdict) { judge_done(self, key, seq, std::move(verdict)); },
            [self, key, seq](caf::error& e) {
              model_response failed;
              failed.error = make_error("internal", self->system().render(e));
              judge_done(self, key, seq, std::move(failed));
            });
}

// A key of a per-key provider answered 401 (its secret was rejected: its breaker opens
// at once) or 429 (the limiter holds it back until Retry-After). When another key of
// the provider can take the call, the same chain attempt goes out again on it, at
// once, and true is returned; otherwise false, and the chain judges the error as usual.
bool retry_on_another_key(service_actor* self, uint64_t key, call_state& c,
                          const model_config& model, const model_error& error) {
  auto& st = self->state;
  auto now = now_ns();
  size_t index = c.grant.key_index;
  rate_limiter& limiter = *c.limiter;
  shared_breaker& breaker = st.models->key_breaker(model, index);
  if (error.kind == "auth") {
    breaker.open_now(now, c.key_probe);
  } else {
    uint32_t back_ms = error.retry_after_ms > 0 ? error.retry_after_ms : 1000;
    limiter.throttle(index, now + std::chrono::milliseconds{back_ms});
    // A 429 says nothing about health, and answers a probe: the key is reachable.
    if (c.key_probe) breaker.report(call_outcome::success, now, true);
  }
  chain_of(st, key, c).use_breaker(&breaker, false);  // already judged: must not re-report
  c.keys_tried |= key_bit(index);
  c.more().events.push_back(
      fmt::format("{}: {} on key '{}'", model.id, error.kind, limiter.key_name(index)));
  key_mask out =
      c.keys_tried | unusable_keys(st, model.provider) | open_keys(st, model, limiter, now);
  key_mask all = limiter.key_count() >= 64 ? ~key_mask{0} : key_bit(limiter.key_count()) - 1;
  if ((out & all) == all) return false;
  ++st.counters.key_failovers;
  release_attempt(st, c, 0);
  c.more().last_error = error;
  ++c.seq;  // nothing of the finished attempt may resume the call
  if (start_attempt(self, key, c) == attempt_start::skipped) pump(self, key);
  return true;
}

// The outcome of the current attempt.
void attempt_done(service_actor* self, uint64_t key, answer_ptr&& answer) {
  auto& st = self->state;
  auto it = st.calls.find(key);
  if (it == st.calls.end()) return;
  auto& c = it->second;
  model_response& reply = body(answer);
  const model_config& model = *c.models[c.candidate];
  st.request_now_set = false;  // the call moved on: what follows reads the clock (now_of)
  auto now = now_ns();
  // No request: it was dropped when this very answer was found fine (start_attempt).
  std::string semantic = c.req ? semantic_problem_of(c.req->json_mode, reply) : std::string{};
  if (reply.ok() && semantic.empty()) {
    // The answer. Settle the ledger and the token bucket from the actual usage.
    if (c.chain)
      c.chain->report(model_error{}, now);
    else
      c.first_breaker->report(call_outcome::success, now, c.first_probe);
    reply.usage.cost_usd =
        call_cost_usd(model, reply.usage.input_tokens, reply.usage.output_tokens);
    auto tokens = reply.usage.input_tokens + reply.usage.output_tokens;
    if (c.limiter != nullptr && c.grant.granted) c.limiter->settle(c.grant, tokens, now);
    if (c.reserved) st.ledger->settle(c.reservation, uint64_t{tokens}, reply.usage.cost_usd);
    c.reserved = false;
    double attempt_ms =
        std::chrono::duration<double, std::milli>(
            now - std::chrono::duration_cast<clock_time>(c.received.time_since_epoch()))
            .count();
    st.models->record_latency(model, attempt_ms);
    if (c.cascade_run) {
      score_stage(self, key, c, model, std::move(reply));
      return;
    }
    finish_answered(self, key, c, model, std::move(answer));
    return;
  }
  if (c.key_attempt && !(c.stream && c.stream->attempt_streamed) &&
      (reply.error.kind == "auth" || reply.error.kind == "rate_limited") &&
      retry_on_another_key(self, key, c, model, reply.error))
    return;
  release_attempt(st, c, 0);
  model_error error = reply.error;
  if (error.ok()) {
    ++st.counters.semantic_failures;
    error.kind = "bad_response";
    error.message = fmt::format("model '{}': {}", model.id, semantic);
  }
  c.more().last_error = error;
  c.more().events.push_back(fmt::format("{}: {}", model.id, error.kind));
  if (c.stream && c.stream->attempt_streamed) {
    auto& sp = *c.stream;
    if (sp.tool_call_out) {
      // A tool call went out: continuing elsewhere could run it twice.
      chain_of(st, key, c).report(error, now, !semantic.empty());
      ++st.counters.stream_tool_call_aborts;
      ++st.counters.failed;
      model_response resp;
      resp.usage.model_id = model.id;
      resp.usage.tier = model.tier;
      resp.error.kind = error.kind;
      resp.error.message = fmt::format(
          "stream from model '{}' failed after a tool call was emitted ({}); not failed over, "
          "so the tool call cannot run twice",
          model.id, error.message);
      resp.usage.decision = trace_with_resilience(c, nullptr, {});
      deliver(self, key, std::move(resp));
      return;
    }
    // Text went out: continue on the next candidate with it as a prefill.
    sp.prefill += sp.attempt_text;
    sp.switch_pending = true;
    sp.switch_from = model.id;
    sp.switch_reason = error.kind + (error.message.empty() ? "" : ": " + error.message);
    chain_of(st, key, c)
        .skip(fmt::format("stream broke after {} chars ({})", sp.attempt_text.size(), error.kind),
              now, true, true);
    sp.attempt_text.clear();
    sp.attempt_streamed = false;
  } else {
    chain_of(st, key, c).report(error, now, !semantic.empty());
  }
  pump(self, key);
}

void attempt_done(service_actor* self, uint64_t key, model_response&& reply) {
  attempt_done(self, key, boxed(std::move(reply)));
}

// Keys of a per-key provider whose secret variable is unset: never granted.
key_mask unusable_keys(const model_service_state& st, const std::string& provider) {
  key_mask out = 0;
  auto hp = st.core->http_providers.find(provider);
  if (hp == st.core->http_providers.end()) return out;
  for (size_t i = 0; i < hp->second.keys.size(); ++i)
    if (!hp->second.keys[i].unusable.empty()) out |= key_bit(i);
  return out;
}

// Keys whose breaker for `model` is open (half-open ones are left to admit()).
key_mask open_keys(model_service_state& st, const model_config& model, const rate_limiter& limiter,
                   clock_time now) {
  key_mask out = 0;
  for (size_t i = 0; i < limiter.key_count(); ++i)
    if (st.models->key_breaker(model, i).state(now) == breaker_state::open) out |= key_bit(i);
  return out;
}

// What the HTTP client's thread needs to answer a call itself (answer_directly): for
// a call whose successful reply ends it with nothing left to decide here. That is the
// chain's first attempt made without a chain (no fallback, downgrade or retry), not
// streamed, with no cascade stage to score, no cache entry to store, nothing resilience
// adds to the trace, and a plain request (no forwarding stages). The answer then skips
// the hand-off back to the service's worker: tens of microseconds at p50 on a VM, and
// far more at p99. An error or an unusable reply goes back to the service as before.
struct direct_answer {
  caf::strong_actor_ptr service;  // the answer's sender, as the promise would set it
  caf::strong_actor_ptr requester;
  caf::message_id request_id;
  budget_ledger* ledger = nullptr;
  uint64_t reservation = 0;
  rate_limiter* limiter = nullptr;
  rate_grant grant;
  shared_breaker* breaker = nullptr;
  bool probe = false;
  bool json_mode = false;
  clock_type::time_point received;
  std::string route;
  std::string decision;
  std::shared_ptr<direct_answers> answered;  // the service's to-do list
};

std::shared_ptr<direct_answer> direct_answer_for(service_actor* self, const call_state& c) {
  if (c.chain || c.first_breaker == nullptr || c.candidate != 0 || c.stream || c.req->stream ||
      c.cascade_run || c.cache_key || !c.reserved || c.key_attempt ||
      resilience_to_trace(c, &first_attempt_answered) || !c.promise.source() ||
      !c.promise.stages().empty())
    return nullptr;
  auto d = std::make_shared<direct_answer>();
  d->service = caf::actor_cast<caf::strong_actor_ptr>(self);
  d->requester = c.promise.source();
  d->request_id = c.promise.id();
  d->ledger = self->state.ledger;
  d->reservation = c.reservation;
  d->limiter = c.grant.granted ? c.limiter : nullptr;
  d->grant = c.grant;
  d->breaker = c.first_breaker;
  d->probe = c.first_probe;
  d->json_mode = c.req->json_mode;
  d->received = c.received;
  d->route = c.route;
  d->decision = c.decision;
  d->answered = self->state.answered_directly;
  if (!self->state.direct_tick_armed) {
    self->state.direct_tick_armed = true;
    self->delayed_send(self, direct_tick, direct_tick_atom::value);
  }
  return d;
}

// The service's part of calls the HTTP client's thread answered (answer_directly): the
// breaker, rate limit and budget were settled there; the latency average, the counters
// and the call's entry are this actor's.
void settle_direct_answers(service_actor* self) {
  auto& st = self->state;
  if (!st.answered_directly->any.load(std::memory_order_acquire)) return;
  std::vector<direct_answers::entry> done;
  {
    std::lock_guard<std::mutex> lock{st.answered_directly->mu};
    done.swap(st.answered_directly->done);
    st.answered_directly->any.store(false, std::memory_order_relaxed);
  }
  for (const auto& e : done) {
    auto it = st.calls.find(e.key);
    if (it == st.calls.end() || it->second.seq != e.seq) continue;
    auto& c = it->second;
    c.reserved = false;
    c.grant = {};
    c.limiter = nullptr;
    c.first_breaker = nullptr;
    st.models->record_latency(*c.models[c.candidate], e.attempt_ms);
    ++st.counters.answered;
    st.calls.erase(it);
  }
}

// A call a caller's thread started itself (call_core::try_direct) whose attempt ended
// without a usable answer: this service takes it over as if it had started it, its
// chainless first attempt out, and handles that attempt's outcome as usual (retries,
// fallbacks, breakers, semantic failures). Counted as a call and an attempt already
// (call_core::direct).
caf::result<model_response> adopt_direct_call(service_actor* self, uint64_t id,
                                              model_response& reply) {
  auto& st = self->state;
  auto d = st.core->take_handed_over(id);
  if (!d) {
    model_response unknown;
    unknown.call_id = reply.call_id;
    unknown.error = make_error("server_error", "model service: no direct call to take over");
    return unknown;
  }
  auto key = st.next_call++;
  auto& c = st.calls.try_emplace(key).first->second;
  c.requester = caf::actor_cast<caf::actor>(self->current_sender());
  c.promise = self->make_response_promise();
  c.received = d->received;
  c.prompt_tokens = d->prompt_tokens;
  c.cls = d->cls;
  c.req = hold_request(std::move(d->req));
  c.route = std::move(d->route);
  c.decision = std::move(d->decision);
  c.models = std::move(d->plan.models);
  c.requested_tier_rank = d->plan.requested_tier_rank;
  c.chain_start = d->chain_start;
  c.first_breaker = d->breaker;
  c.first_probe = d->probe;
  c.seq = 1;  // as pump() sets it for the first attempt
  c.candidate = 0;
  c.account = std::move(d->account);
  c.limiter = d->limiter;
  c.grant = d->grant;
  c.reserved = true;
  c.reservation = d->reservation;
  auto promise = c.promise;
  attempt_done(self, key, std::move(reply));
  return promise;
}

// On the HTTP client's thread: when `reply` is a usable answer, does what attempt_done,
// finish_answered and deliver do for such a call with it (breaker, rate limit and budget
// settled here: all three are thread-safe) and returns true; the caller then queues the
// service's part (settle_direct_answers) and hands the answer to the requester.
bool answer_directly(direct_answer& d, model_response& reply, const model_config& model,
                     const std::string& call_id, double& attempt_ms) {
  if (!reply.ok() || !semantic_problem_of(d.json_mode, reply).empty()) return false;
  auto now = clock_type::now();
  auto t = now_ns();
  d.breaker->report(call_outcome::success, t, d.probe);
  reply.usage.cost_usd = call_cost_usd(model, reply.usage.input_tokens, reply.usage.output_tokens);
  auto tokens = reply.usage.input_tokens + reply.usage.output_tokens;
  if (d.limiter != nullptr) d.limiter->settle(d.grant, tokens, t);
  d.ledger->settle(d.reservation, uint64_t{tokens}, reply.usage.cost_usd);
  reply.usage.model_id = model.id;
  reply.usage.tier = model.tier;
  reply.usage.downgraded = false;
  reply.usage.decision = decision_traces{std::move(d.decision)};
  reply.call_id = call_id;
  if (reply.usage.route.empty()) reply.usage.route = std::move(d.route);
  attempt_ms = std::chrono::duration<double, std::milli>(now - d.received).count();
  reply.usage.latency_ms = attempt_ms;
  return true;
}

// Sends the call to the chain's current candidate, or skips it (outage, rate limits).
attempt_start start_attempt(service_actor* self, uint64_t key, call_state& c) {
  auto& st = self->state;
  const config& cfg = *st.cfg;
  const model_config& model = *c.models[c.candidate];
  auto now = now_of(st);
  c.waiting_for_rate = false;

  // A sim outage window: the endpoint fails at once; no point retrying inside it.
  // (Since the start, from the reading above: one clock read per attempt, not two.)
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      now - std::chrono::duration_cast<clock_time>(st.started.time_since_epoch()));
  if (auto down_for = outage_remaining_ms(model, elapsed); down_for > 0) {
    c.more().events.push_back(fmt::format("{}: sim outage for {} ms more", model.id, down_for));
    // Not fed to the breaker: the window's end is known, and an open breaker would keep
    // the endpoint out for open_ms after the provider is back.
    chain_of(st, key, c)
        .skip(fmt::format("provider '{}' down (sim outage, {} ms left)", model.provider, down_for),
              now, false, true, std::chrono::milliseconds{down_for});
    return attempt_start::skipped;
  }

  // Rate limits of the provider: estimate now, correct when the answer comes.
  auto estimate = c.prompt_tokens + c.req->max_tokens;
  const auto served = binding_of(st, model);
  rate_limiter* const limiter = served.limiter;
  // A per-key provider none of whose keys has a secret is not limited: the call fails
  // below with `auth`, naming the variables, like a provider whose one key is unset.
  bool no_usable_key = false;
  if (served.http != nullptr)
    no_usable_key = served.http->per_key() && !served.http->unusable.empty();
  if (limiter != nullptr && !c.grant.granted && !no_usable_key) {
    bool per_key = c.chain && c.chain->candidates()[c.candidate].per_key;  // see pump()
    key_mask excluded = 0;
    key_mask never = 0;  // keys that no wait brings back (their variable is unset)
    if (per_key) {
      never = unusable_keys(st, model.provider);
      excluded = never | c.keys_tried | open_keys(st, model, *limiter, now);
    }
    rate_grant grant = limiter->acquire(estimate, now, excluded);
    // A per-key provider: the granted key's breaker must admit too (a half-open one
    // lets one probe through); otherwise give the slot back and ask for another key.
    while (per_key && grant.granted) {
      shared_breaker& b = st.models->key_breaker(model, grant.key_index);
      breaker_admission admission = b.admit(now);
      if (admission.allowed) {
        chain_of(st, key, c).use_breaker(&b, admission.probe);
        c.key_attempt = true;
        c.key_probe = admission.probe;
        break;
      }
      limiter->cancel(grant, now);
      excluded |= key_bit(grant.key_index);
      grant = limiter->acquire(estimate, now, excluded);
    }
    if (!grant.granted && grant.all_excluded) {
      // Every key is out: breakers open, rejected or throttled during this call, or
      // without a secret. Time heals all but the last.
      clock_time back = st.models->open_remaining(model, now);
      c.more().events.push_back(
          fmt::format("{}: no key of provider '{}' is available", model.id, model.provider));
      chain_of(st, key, c)
          .skip(fmt::format("every key of provider '{}' is unavailable", model.provider), now,
                false, (excluded & ~never) != 0, back);
      return attempt_start::skipped;
    }
    if (!grant.granted) {
      if (grant.impossible) {
        c.more().events.push_back(
            fmt::format("{}: {} tokens exceed every key's tokens_per_minute", model.id, estimate));
        chain_of(st, key, c)
            .skip("request larger than the provider's tokens_per_minute", now, false, false);
        return attempt_start::skipped;
      }
      if (wait_allowed(c.cls, c.rate_waited, grant.wait, cfg.resilience.deadlines)) {
        ++st.counters.rate_limit_waits;
        c.rate_waited += grant.wait;
        c.waiting_for_rate = true;
        schedule_wake(self, key, c, grant.wait);
        return attempt_start::started;
      }
      ++st.counters.rate_limited;
      c.more().events.push_back(fmt::format("{}: rate limits saturated (next slot in {} ms)",
                                            model.id, to_ms(grant.wait)));
      c.more().last_error = make_error(
          "rate_limited", fmt::format("every key of provider '{}' is saturated", model.provider),
          to_ms(grant.wait));
      chain_of(st, key, c)
          .skip(fmt::format("rate limits of '{}' saturated past the {} deadline", model.provider,
                            to_string(c.cls)),
                now, false, true, grant.wait);
      return attempt_start::skipped;
    }
    c.limiter = limiter;
    c.grant = grant;
  }

  // Worst case on the thread's ledger: the whole prompt plus every token allowed.
  auto worst_usd = call_cost_usd(model, c.prompt_tokens, c.req->max_tokens);
  auto grant = st.ledger->reserve(c.req->ctx.thread_id, c.account, uint64_t{estimate}, worst_usd);
  if (!grant.granted) {
    release_attempt(st, c, 0);
    auto resp = error_response(*c.req, reason_budget_exhausted, grant.reason);
    resp.usage.model_id = model.id;
    resp.usage.tier = model.tier;
    resp.usage.decision = trace_with_resilience(c, nullptr, {});
    ++st.counters.failed;
    deliver(self, key, std::move(resp));
    return attempt_start::ended;
  }
  c.reserved = true;
  c.reservation = grant.id;
  ++st.counters.attempts;

  if (c.stream) {
    auto& sp = *c.stream;
    if (!sp.prefill.empty()) {
      if (!sp.prefill_in_messages) {
        c.req->messages.emplace_back("assistant", sp.prefill);
        sp.prefill_in_messages = true;
      } else {
        c.req->messages.back().content = sp.prefill;
      }
    }
    if (sp.switch_pending && c.requester) {
      ++st.counters.stream_switches;
      c.more().events.push_back(fmt::format("stream switched from {} to {} after {} chars",
                                            sp.switch_from, model.id, sp.prefill.size()));
      self->send(c.requester,
                 stream_switch{c.req->call_id, sp.switch_from, model.id, sp.switch_reason,
                               static_cast<uint32_t>(sp.prefill.size())});
    }
    sp.switch_pending = false;
  }

  if (served.http != nullptr) {
    const http_provider& provider = *served.http;
    if (!provider.unusable.empty()) {
      attempt_done(self, key, error_response(*c.req, "auth", provider.unusable));
      return attempt_start::ended;
    }
    // The secret of the key the limiter granted (per-key providers), else the one.
    const std::string& secret =
        c.key_attempt ? provider.secret_for(c.grant.key_index) : provider.api_key;
    auto built = build_provider_request(*c.req, model, provider.cfg, secret);
    if (!built.ok()) {
      attempt_done(self, key, error_response(*c.req, built.error.kind, built.error.message));
      return attempt_start::ended;
    }
    auto me = caf::actor_cast<caf::actor>(self);
    auto seq = c.seq;
    std::shared_ptr<stream_decoder> decoder;
    if (c.req->stream && provider_streams(provider.cfg))
      decoder = make_stream_decoder(provider.cfg, c.req->call_id, model, secret);
    if (decoder && c.requester)  // a streamed attempt starts: say where it goes first
      self->send(c.requester, stream_routed{c.req->call_id, model.id, model.tier, c.route});
    http_chunk_handler on_chunk;
    if (decoder) {
      // Deltas go through the service, which knows what went out (for failover).
      on_chunk = [decoder, me, key, seq](std::string_view bytes) {
        for (auto& delta : decoder->feed(bytes))
          caf::anon_send(me, http_delta_atom::value, key, seq, std::move(delta));
      };
    }
    // `provider` and `model` live in the state and the config, which outlive the
    // client's calls (the state's destructor shuts the client down first).
    auto call_id = c.req->call_id;
    if (st.observer) st.observer(model, *c.req);
    auto direct = decoder ? nullptr : direct_answer_for(self, c);
    st.http->send(
        provider.endpoint, std::move(built.request), provider.timeouts,
        [me, key, seq, &provider, &model, &secret, call_id, decoder, direct](http_result result) {
          model_response reply;
          if (!result.ok()) {
            auto message =
                fmt::format("provider '{}': {}", provider.cfg.name, result.failure.message);
            redact_secret(message, secret);
            reply.error = make_error(result.failure.kind, std::move(message));
          } else if (decoder && result.status >= 200 && result.status < 300) {
            reply = decoder->finish();
          } else {
            reply = parse_provider_response(provider.cfg, static_cast<int>(result.status),
                                            result.headers, result.body, model, call_id, secret);
          }
          double attempt_ms = 0;
          if (direct && answer_directly(*direct, reply, model, call_id, attempt_ms)) {
            // The service's part is queued first: any request this answer leads to
            // finds it there (settle_direct_answers runs before a request is handled).
            {
              std::lock_guard<std::mutex> lock{direct->answered->mu};
              direct->answered->done.push_back({key, seq, attempt_ms});
              direct->answered->any.store(true, std::memory_order_release);
            }
            direct->requester->enqueue(direct->service, direct->request_id.response_id(),
                                       caf::make_message(std::move(reply)), nullptr);
            return;
          }
          caf::anon_send(me, http_done_atom::value, key, seq, std::move(reply));
        },
        std::move(on_chunk));
    return attempt_start::started;
  }
  if (served.broken != nullptr) {
    attempt_done(self, key, error_response(*c.req, "no_model", *served.broken));
    return attempt_start::ended;
  }
  if (served.sim == nullptr) {
    attempt_done(self, key,
                 error_response(*c.req, "no_model",
                                fmt::format("model '{}' is served by provider '{}', which is "
                                            "not available",
                                            model.id, model.provider)));
    return attempt_start::ended;
  }
  if (st.observer) st.observer(model, *c.req);
  // A success's text is written when its latency has passed: ten thousand calls may be
  // waiting at once.
  sim_outcome outcome = served.sim->call(model, c.req->messages, c.req->max_tokens, elapsed,
                                         c.stream && c.stream->prefill_in_messages
                                             ? estimate_prompt_tokens(c.req->messages)
                                             : c.prompt_tokens,
                                         true);
  if (outcome.deferred) {
    // An answer that will be the call's (no cascade stage to score, no prefill, nothing
    // semantically wrong: a sim text is never empty and only json_mode finds it unusable)
    // needs its request no more, only the id: no retry or later stage resends it.
    if (!c.cascade_run && !c.stream && !c.req->json_mode) {
      c.call_id = std::move(c.req->call_id);
      c.req.reset();
    }
    c.sim_pending = std::move(outcome.deferred);
    st.sim_wakes.push(sim_wake{clock_type::now() + outcome.latency, key, c.seq});
    arm_sim_timer(self);
    return attempt_start::started;
  }
  answer_ptr answer = new_answer();
  model_response& reply = body(answer);
  if (!outcome.error.blank())
    reply.error = std::move(outcome.error);  // the answer's own is blank, as a success's
  if (reply.ok()) {
    reply.text = std::move(outcome.text);
    reply.finish_reason = std::move(outcome.finish_reason);
    reply.usage.input_tokens = outcome.input_tokens;
    reply.usage.output_tokens = outcome.output_tokens;
  }
  if (outcome.latency.count() <= 0) {
    attempt_done(self, key, std::move(answer));
    return attempt_start::ended;
  }
  self->delayed_send(self, outcome.latency, sim_done_atom::value, key, c.seq, std::move(reply));
  return attempt_start::started;
}

// Makes sure a sim_ready message comes when the soonest waiting sim answer is due.
void arm_sim_timer(service_actor* self) {
  auto& st = self->state;
  if (st.sim_wakes.empty()) return;
  auto due = st.sim_wakes.top().due;
  if (due >= st.sim_armed) return;  // an armed message comes soon enough
  st.sim_armed = due;
  auto delay = std::chrono::duration_cast<std::chrono::microseconds>(due - clock_type::now());
  if (delay.count() < 0) delay = std::chrono::microseconds{0};
  self->delayed_send(self, delay, sim_ready_atom::value,
                     static_cast<int64_t>(due.time_since_epoch().count()));
}

// Answers handed out per sim_ready message. When thousands fall due at once, the rest
// wait behind what the first ones set off (the callers' next steps) instead of all
// their answers sitting in mailboxes at the same time.
constexpr size_t sim_answers_per_turn = 64;

// The sim_ready message armed for `armed_for`: hands the answers that are due to their
// calls (one whose call moved on or ended is dropped), at most sim_answers_per_turn, and
// arms the next message: at once while more are due.
void sim_answers_due(service_actor* self, int64_t armed_for) {
  auto& st = self->state;
  if (st.sim_armed.time_since_epoch().count() == armed_for)
    st.sim_armed = clock_type::time_point::max();
  auto now = clock_type::now();
  size_t handed = 0;
  while (!st.sim_wakes.empty() && st.sim_wakes.top().due <= now) {
    if (handed == sim_answers_per_turn) {
      st.sim_armed = st.sim_wakes.top().due;
      self->send(self, sim_ready_atom::value,
                 static_cast<int64_t>(st.sim_armed.time_since_epoch().count()));
      return;
    }
    sim_wake wake = st.sim_wakes.top();
    st.sim_wakes.pop();
    auto it = st.calls.find(wake.key);
    if (it == st.calls.end() || it->second.seq != wake.seq || !it->second.sim_pending) continue;
    auto pending = std::move(it->second.sim_pending);
    answer_ptr answer = new_answer();
    model_response& reply = body(answer);
    reply.text = pending.write_text(it->second.models[it->second.candidate]->id);
    reply.finish_reason = pending.finish_reason();
    reply.usage.input_tokens = pending.input_tokens();
    reply.usage.output_tokens = pending.output_tokens();
    attempt_done(self, wake.key, std::move(answer));
    ++handed;
  }
  arm_sim_timer(self);
}

// Asks the chain what to do next and does it, until an attempt is under way or the
// call has ended.
void pump(service_actor* self, uint64_t key) {
  auto& st = self->state;
  for (;;) {
    auto it = st.calls.find(key);
    if (it == st.calls.end()) return;
    auto& c = it->second;
    ++c.seq;  // whatever was pending for this call is stale from here on
    chain_attempt a;
    if (first_attempt_without_chain(st, c, a)) {
      // the chain's first attempt, made without it
    } else if (fallback_chain& chain = chain_of(st, key, c); chain.done()) {
      finish_unanswered(self, key, c);
      return;
    } else {
      a = chain.next_attempt(now_ns());
    }
    if (a.what == chain_attempt::done) {
      if (!c.chain->done()) {
        // Cannot happen: an attempt would still be in flight. Never hang the caller.
        deliver(self, key, error_response(*c.req, "no_model", "internal: fallback chain stalled"));
        return;
      }
      continue;
    }
    if (a.what == chain_attempt::wait) {
      ++c.retries;
      ++st.counters.retries;
      schedule_wake(self, key, c, a.delay);
      return;
    }
    c.candidate = a.candidate;
    c.rate_waited = clock_time{0};
    c.grant = {};
    c.limiter = nullptr;
    c.key_attempt = false;
    c.keys_tried = 0;
    if (c.stream) {
      c.stream->attempt_text.clear();
      c.stream->attempt_streamed = false;
    }
    if (start_attempt(self, key, c) != attempt_start::skipped) return;
  }
}

// The cache key of a call: scope (tenant = metadata "tenant", else the thread; the
// agent's workflow, node and tool-state hash from metadata) and the canonical request.
cache_request cache_request_of(const model_request& req, const std::string& route) {
  auto meta = [&](const char* k) {
    auto it = req.metadata.find(k);
    return it == req.metadata.end() ? std::string{} : it->second;
  };
  cache_request out;
  out.scope.tenant = meta("tenant").empty() ? "thread:" + req.ctx.thread_id : meta("tenant");
  out.scope.workflow = meta("workflow");
  out.scope.node = meta("node");
  out.scope.tool_state_hash = meta("tool_state");
  out.messages = req.messages;
  for (const auto& t : req.tools) out.tools.push_back(t.name + "\n" + t.parameters_json);
  out.params = {{"model", req.model},
                {"tier", req.tier},
                {"route", route},
                {"max_tokens", std::to_string(req.max_tokens)},
                {"json_mode", req.json_mode ? "1" : "0"},
                {"tool_choice", req.tool_choice},
                {"data_class", req.data_class}};
  for (size_t i = 0; i < req.stop.size(); ++i) out.params["stop" + std::to_string(i)] = req.stop[i];
  // Unset (negative) is the caller not asking for sampling: cacheable.
  out.temperature = std::max(0.0, req.temperature);
  return out;
}

std::string cached_text_of(const model_response& r) {
  nlohmann::json j{{"text", r.text},
                   {"finish_reason", r.finish_reason},
                   {"model", r.usage.model_id},
                   {"tier", r.usage.tier}};
  auto calls = nlohmann::json::array();
  for (const auto& t : r.tool_calls) calls.push_back({t.id, t.name, t.arguments_json});
  j["tool_calls"] = std::move(calls);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Answers the call from the cache when it can. True when it did (the call has ended).
bool answer_from_cache(service_actor* self, uint64_t key, call_state& c) {
  auto& st = self->state;
  if (!st.cache || c.req->stream) return false;
  const auto& routes = st.cfg->resilience.cache.temperature_routes;
  c.cache_rules.allow_nonzero_temperature =
      std::find(routes.begin(), routes.end(), c.route) != routes.end();
  auto request = std::make_unique<cache_request>(cache_request_of(*c.req, c.route));
  request->embedding = c.seen().prompt_embedding;  // empty unless an embeddings service gave it
  cache_lookup found = st.cache->lookup(*request, c.cache_rules);
  if (found.what == cache_lookup::not_cacheable) return false;
  if (found.what == cache_lookup::miss) {
    ++st.counters.cache_misses;
    c.cache_key = std::move(request);
    return false;
  }
  auto j = nlohmann::json::parse(found.response, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    ++st.counters.cache_misses;
    c.cache_key = std::move(request);
    return false;
  }
  ++st.counters.cache_hits;
  model_response resp;
  resp.text = j.value("text", "");
  resp.finish_reason = j.value("finish_reason", "");
  resp.usage.model_id = j.value("model", "");
  resp.usage.tier = j.value("tier", "");
  if (j.contains("tool_calls"))
    for (const auto& t : j["tool_calls"])
      if (t.is_array() && t.size() == 3)
        resp.tool_calls.push_back(
            {t[0].get<std::string>(), t[1].get<std::string>(), t[2].get<std::string>()});
  // A hit costs nothing and is marked: usage.cost_usd 0, no tokens, and the trace.
  c.more().events.push_back(
      found.what == cache_lookup::exact
          ? std::string("cache hit (exact)")
          : fmt::format("cache hit (semantic, similarity {:.3f})", found.similarity));
  // Rare enough to go through a JSON tree; the result is kept as JSON text.
  auto trace = nlohmann::json::parse(trace_json(trace_with_resilience(c, nullptr, {}).bytes),
                                     nullptr, false);
  if (trace.is_object()) {
    trace["resilience"]["cache"] = found.what == cache_lookup::exact ? "exact" : "semantic";
    resp.usage.decision.bytes =
        json_trace(trace.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    resp.usage.decision.bytes = c.decision;
  }
  deliver(self, key, std::move(resp));
  return true;
}

// Routes the call (a cascade stage: to the stage's tier via req.tier) and sets up its
// fallback chain. False when the call has ended: answered with the policy's refusal.
bool route_call(service_actor* self, uint64_t key, call_state& c) {
  auto& st = self->state;
  routing_input input{*c.req, latest_user_text(c.req->messages), c.prompt_tokens,
                      budget_left(st.ledger->usage(c.req->ctx.thread_id, c.account)),
                      c.guess.get()};
  const auto now = now_of(st);  // the breakers' verdicts and the retry budget's start
  routing_decision& decision = st.decision;  // one, reused: see routing_policy::decide
  st.core->decide(input, now, decision);
  if (decision.outcome != routing_outcome::routed) {
    static const char* kinds[] = {"", "blocked", reason_budget_exhausted, "no_model"};
    auto resp = error_response(*c.req, kinds[static_cast<int>(decision.outcome)],
                               std::move(decision.message));
    if (decision.outcome == routing_outcome::blocked) {
      ++st.counters.blocked;
      // Name the provider and when its soonest breaker lets a probe through.
      clock_time soonest = clock_time::max();
      for (const auto& note : decision.trace.candidates) {
        if (note.filtered_by != candidate_filter::health) continue;
        if (resp.error.provider.empty()) resp.error.provider = note.model->provider;
        auto left = st.models->open_remaining(*note.model, now);
        soonest = std::min(soonest, left);
      }
      if (soonest != clock_time::max()) resp.error.retry_after_ms = to_ms(soonest);
    } else {
      ++st.counters.failed;
    }
    resp.usage.route = std::move(decision.route);
    c.decision = to_compact(decision.trace);
    resp.usage.decision = trace_with_resilience(c, nullptr, {});
    deliver(self, key, std::move(resp));
    return false;
  }
  if (std::string error = plan_for(st, *c.req, decision, c); !error.empty()) {
    deliver(self, key, error_response(*c.req, "no_model", error));
    return false;
  }
  c.route = std::move(decision.route);
  c.decision = to_compact(decision.trace);
  c.decision.shrink_to_fit();  // held while the call waits; built with room to spare
  c.chain.reset();  // built when needed (chain_of), from `models`
  c.chain_start = now;
  c.first_breaker = nullptr;
  return true;
}

// The cascade's tiers for this call, cheapest first, or none when the call does not
// cascade: its route has no `resilience.cascade` entry, or it pins a model or a tier
// (the caller decided), or it streams (a cheap answer would be streamed before it
// could be rejected). The cascade ends at the first tier without a threshold: that
// tier accepts any answer, so no tier above it could ever be reached.
std::vector<std::string> cascade_tiers(const config& cfg, const call_state& c) {
  auto settings = cfg.resilience.cascade.find(c.route);
  if (settings == cfg.resilience.cascade.end()) return {};
  if (!c.req->model.empty() || !c.req->tier.empty() || c.req->stream) return {};
  std::vector<std::string> tiers;
  for (const auto& tier : cfg.tiers) {
    tiers.push_back(tier);
    if (settings->second.thresholds.count(tier) == 0) break;
  }
  return tiers.size() > 1 ? tiers : std::vector<std::string>{};
}

// Routes the call to the cascade's next tier. False when the call has ended.
bool start_stage(service_actor* self, uint64_t key, call_state& c) {
  const std::string* tier = c.cascade_run->next_tier();
  if (tier == nullptr) return true;  // cannot happen: a stage was rejected, so one is left
  c.req->tier = *tier;
  std::string route = c.route;
  c.req->route = route;  // keep the stage on the cascading route
  return route_call(self, key, c);
}

// Routes the call and starts it: from the cache, as a cascade, or along its chain.
void proceed(service_actor* self, uint64_t key, call_state& call) {
  auto& st = self->state;
  if (!route_call(self, key, call)) return;
  if (answer_from_cache(self, key, call)) return;
  if (auto stages = cascade_tiers(*st.cfg, call); !stages.empty()) {
    auto& settings = st.cfg->resilience.cascade.at(call.route);
    call.cascade_run = std::make_unique<cascade>(std::move(stages), settings);
    if (!start_stage(self, key, call)) return;
  }
  pump(self, key);
}

// With router.embeddings, asks the service for the prompt's embedding when the
// classifier will be consulted or the cache can use it. True when the request went out:
// the call resumes on embed_done. Within cooldown_ms of a failure the service is not
// asked and the classifier's TF-IDF fallback routes, saying why in the trace.
bool request_embedding(service_actor* self, uint64_t key, call_state& c) {
  auto& st = self->state;
  if (!st.embedded || !st.http) return false;
  const std::string_view text = latest_user_text(c.req->messages);
  if (text.empty()) return false;
  routing_input input{*c.req, text, c.prompt_tokens, budget_note{}};
  const bool classify = st.policy->consults_classifier(input);
  const bool for_cache = st.cache && !c.req->stream && c.req->temperature <= 0 &&
                         c.req->messages.back().role == "user";
  if (!classify && !for_cache) return false;
  const auto now = clock_type::now();
  if (now < st.embeddings_down_until) {
    ++st.counters.embeddings_skipped;
    if (classify) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(st.embeddings_down_until - now);
      c.guess = std::make_unique<route_guess>(st.embedded->classify_fallback(
          text, fmt::format("the service failed {} ms ago ({}); asking again in {} ms",
                            st.cfg->router.embeddings.cooldown_ms - left.count(),
                            st.embeddings_down_why, left.count())));
    }
    return false;
  }
  ++st.counters.embeddings_asked;
  auto me = caf::actor_cast<caf::actor>(self);
  auto embedded = st.embedded;
  const auto& encoder = embedded->encoder();
  st.http->send(encoder.endpoint(), encoder.request_for({std::string(text)}), encoder.timeouts(),
                [me, key, embedded](http_result result) {
                  std::vector<std::vector<float>> vectors;
                  std::string error;
                  if (embedded->encoder().parse(result, 1, vectors, error))
                    caf::anon_send(me, embed_done_atom::value, key, std::move(vectors.front()),
                                   std::string{});
                  else
                    caf::anon_send(me, embed_done_atom::value, key, std::vector<float>{},
                                   std::move(error));
                });
  return true;
}

// The embedding service answered (or failed) for call `key`: route and start it.
void embedding_arrived(service_actor* self, uint64_t key, std::vector<float>& vector,
                       const std::string& error) {
  auto& st = self->state;
  auto it = st.calls.find(key);
  if (it == st.calls.end()) return;
  auto& c = it->second;
  const std::string_view text = latest_user_text(c.req->messages);
  if (error.empty()) {
    c.guess = std::make_unique<route_guess>(st.embedded->classify_embedding(vector));
    c.more().prompt_embedding = std::move(vector);
  } else {
    ++st.counters.embeddings_failed;
    const auto& s = st.cfg->router.embeddings;
    st.embeddings_down_until = clock_type::now() + std::chrono::milliseconds(s.cooldown_ms);
    st.embeddings_down_why = error;
    spdlog::warn("model service: routing with TF-IDF for {} ms: {}", s.cooldown_ms, error);
    c.guess = std::make_unique<route_guess>(st.embedded->classify_fallback(text, error));
    c.more().events.push_back("routing embeddings failed, TF-IDF fallback: " + error);
  }
  proceed(self, key, c);
}

// The cache's vectors come from the router's encoder: the embeddings service's (passed
// in with each request), else the classifier's TF-IDF features projected to 512
// dimensions, else (no classifier) a hashed bag of words.
std::unique_ptr<embedding_encoder> cache_encoder_for(const model_service_state& st) {
  if (st.embedded)
    return std::make_unique<precomputed_embeddings>(st.embedded->encoder().identity(),
                                                    st.embedded->encoder().dimension());
  const auto& classifier = st.policy->classifier();
  if (auto features = classifier ? classifier->features() : nullptr)
    return std::make_unique<projected_text_encoder>(std::move(features));
  return std::make_unique<hashed_bag_of_words_encoder>(256);
}

caf::behavior model_service(service_actor* self, std::shared_ptr<call_core> core) {
  auto& st = self->state;
  st.core = std::move(core);
  st.observer = st.core->observer;
  st.cfg = st.core->cfg;
  st.ledger = st.core->ledger;
  st.policy = st.core->policy;
  st.breakers = st.core->breakers.get();
  st.models = st.core->models.get();
  for (const auto& p : st.cfg->providers)
    if (p.kind == "sim") st.sims.emplace(p.name, sim_provider{p.seed});
  for (const auto& m : st.cfg->models) st.served_by.push_back(binding_for(st, m.provider));
  st.embedded =
      std::dynamic_pointer_cast<const embedding_route_classifier>(st.policy->classifier());
  st.http = st.core->http.get();
  if (const auto& cache_cfg = st.cfg->resilience.cache; !cache_cfg.path.empty()) {
    std::string path = cache_cfg.path;
    if (path.front() != '/' && !st.cfg->base_dir.empty()) path = st.cfg->base_dir + "/" + path;
    std::string error;
    st.cache_encoder = cache_encoder_for(st);
    st.cache = response_cache::open(path, cache_cfg, st.cache_clock, st.cache_encoder.get(), error);
    if (!st.cache) spdlog::error("model service: response cache off: {}", error);
  }
  return {
      [=](model_request& req) -> caf::result<model_response> {
        auto& st = self->state;
        auto received = clock_type::now();
        settle_direct_answers(self);
        if (req.max_tokens == 0)
          return error_response(req, "bad_request", "max_tokens must be >= 1");
        latency_class cls = latency_class::interactive;
        if (!req.latency_class.empty() && !parse_latency_class(req.latency_class, cls))
          return error_response(req, "bad_request",
                                fmt::format("latency_class must be realtime, interactive or "
                                            "batch, got '{}'",
                                            req.latency_class));
        ++st.counters.calls;
        auto key = st.next_call++;
        // Built in place: a call_state is large, and moving it in cost more than filling it.
        auto& c = new_call(st, key);
        // Only streamed calls send the requester anything besides the answer.
        if (req.stream) c.requester = caf::actor_cast<caf::actor>(self->current_sender());
        c.promise = self->make_response_promise();
        c.received = received;
        c.req = hold_request(*self->current_mailbox_element());  // `req` is moved from
        c.prompt_tokens = estimate_prompt_tokens(c.req->messages);
        c.cls = cls;
        auto& call = c;
        st.request_now = std::chrono::duration_cast<clock_time>(received.time_since_epoch());
        st.request_now_set = true;
        if (!request_embedding(self, key, call)) proceed(self, key, call);
        st.request_now_set = false;
        // The call's promise answers (the call may be gone already); a copy of it to
        // return would copy its forwarding stack, an allocation per call.
        return caf::delegated<model_response>{};
      },
      [=](embed_done_atom, uint64_t key, std::vector<float>& vector, const std::string& error) {
        embedding_arrived(self, key, vector, error);
      },
      [=](http_delta_atom, uint64_t key, uint64_t seq, stream_delta& delta) {
        auto& st = self->state;
        auto it = st.calls.find(key);
        if (it == st.calls.end() || it->second.seq != seq) return;
        auto& c = it->second;
        if (!c.stream) c.stream = std::make_unique<stream_progress>();
        c.stream->attempt_streamed = true;
        if (delta.kind == stream_delta_kind::text) c.stream->attempt_text += delta.text;
        if (delta.kind == stream_delta_kind::tool_call) c.stream->tool_call_out = true;
        if (c.requester) self->send(c.requester, std::move(delta));
      },
      [=](http_done_atom, uint64_t key, uint64_t seq, model_response& reply) {
        auto& st = self->state;
        auto it = st.calls.find(key);
        if (it == st.calls.end() || it->second.seq != seq) return;
        attempt_done(self, key, std::move(reply));
      },
      [=](direct_failed_atom, uint64_t id, model_response& reply) -> caf::result<model_response> {
        settle_direct_answers(self);
        return adopt_direct_call(self, id, reply);
      },
      [=](direct_tick_atom) {
        auto& st = self->state;
        st.direct_tick_armed = false;
        settle_direct_answers(self);
        if (!st.calls.empty()) {  // some may still be answered directly
          st.direct_tick_armed = true;
          self->delayed_send(self, direct_tick, direct_tick_atom::value);
        }
      },
      [=](sim_done_atom, uint64_t key, uint64_t seq, model_response& reply) {
        auto& st = self->state;
        auto it = st.calls.find(key);
        if (it == st.calls.end() || it->second.seq != seq) return;
        attempt_done(self, key, std::move(reply));
      },
      [=](sim_ready_atom, int64_t armed_for) { sim_answers_due(self, armed_for); },
      [=](wake_atom, uint64_t key, uint64_t seq) {
        auto& st = self->state;
        auto it = st.calls.find(key);
        if (it == st.calls.end() || it->second.seq != seq) return;
        auto& c = it->second;
        if (c.waiting_for_rate) {
          if (start_attempt(self, key, c) == attempt_start::skipped) pump(self, key);
          return;
        }
        pump(self, key);
      },
      [=](provider_status_atom, const std::string& provider) -> uint32_t {
        auto& st = self->state;
        auto elapsed = since_start(st);
        auto now = now_ns();
        uint32_t longest = 0;
        for (const auto& m : st.cfg->models) {
          if (m.provider != provider) continue;
          longest = std::max(longest, outage_remaining_ms(m, elapsed));
          longest = std::max(longest, to_ms(st.models->open_remaining(m, now)));
        }
        return longest;
      },
      [=](resilience_stats_atom) -> std::string {
        auto& st = self->state;
        settle_direct_answers(self);
        const auto& k = st.counters;
        nlohmann::json j;
        // Calls callers started themselves (call_core::try_direct) count as the service's.
        const auto& direct = st.core->direct;
        j["calls"] = k.calls + direct.calls.load();
        j["answered"] = k.answered + direct.answered.load();
        j["attempts"] = k.attempts + direct.calls.load();
        j["retries"] = k.retries;
        j["fallbacks"] = k.fallbacks;
        j["downgraded"] = k.downgraded;
        j["blocked"] = k.blocked;
        j["failed"] = k.failed;
        j["rate_limit_waits"] = k.rate_limit_waits;
        j["rate_limited"] = k.rate_limited;
        j["key_failovers"] = k.key_failovers;
        j["judge"] = {{"calls", k.judge_calls}, {"failures", k.judge_failures}};
        j["stream_switches"] = k.stream_switches;
        j["stream_tool_call_aborts"] = k.stream_tool_call_aborts;
        j["semantic_failures"] = k.semantic_failures;
        j["cache"] = {{"hits", k.cache_hits}, {"misses", k.cache_misses}};
        if (st.embedded)
          j["embeddings"] = {{"asked", k.embeddings_asked},
                             {"failed", k.embeddings_failed},
                             {"skipped", k.embeddings_skipped}};
        j["in_flight"] = st.calls.size() + std::max<int64_t>(0, direct.in_flight.load());
        auto breakers = nlohmann::json::array();
        for (const auto& [endpoint, state] : st.breakers->snapshot(now_ns()))
          breakers.push_back(
              nlohmann::json::object({{"endpoint", endpoint}, {"state", to_string(state)}}));
        j["breakers"] = std::move(breakers);
        return j.dump();
      },
  };
}

}  // namespace

caf::actor spawn_model_service(caf::actor_system& sys, std::shared_ptr<const config> cfg,
                               budget_ledger& ledger,
                               std::shared_ptr<const routing_policy> policy,
                               model_request_observer observer) {
  if (!policy) policy = std::make_shared<routing_policy>(cfg);
  return spawn_model_service(
      sys,
      std::make_shared<call_core>(std::move(cfg), ledger, std::move(policy), std::move(observer)));
}

caf::actor spawn_model_service(caf::actor_system& sys, std::shared_ptr<call_core> core) {
  return sys.spawn(model_service, std::move(core));
}

}  // namespace switchyard
