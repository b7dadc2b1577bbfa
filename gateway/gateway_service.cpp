#include "gateway/gateway_service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <chrono>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <unordered_map>

#include "caf/all.hpp"
#include "gateway/api_error.hpp"
#include "gateway/chat_request.hpp"
#include "gateway/chat_response.hpp"
#include "gateway/model_caller.hpp"
#include "router/model_service.hpp"
#include "runtime/checkpoint_store.hpp"
#include "runtime/run_result_json.hpp"
#include "runtime/trace_codec.hpp"
#include "workflows/engine.hpp"

namespace switchyard::gateway {

namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now().time_since_epoch())
      .count();
}

std::string iso_now() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, ms);
}

std::string fixed_usd(double usd) {
  return fmt::format("{:.8f}", usd);
}

// A run the gateway started: its owner and, once ended, its result.
struct run_entry {
  std::string key_id;
  std::string workflow;
  bool done = false;
  run_result result;
};

// What one prompt hashes to: roles and contents, separated so "ab"+"c" != "a"+"bc".
std::string prompt_hash(const std::vector<chat_message>& messages) {
  std::string text;
  for (const auto& m : messages) {
    text += m.role;
    text += '\0';
    text += m.content;
    text += '\0';
  }
  return sha256_hex(text);
}

json prompt_json(const std::vector<chat_message>& messages) {
  json out = json::array();
  for (const auto& m : messages) out.push_back({{"role", m.role}, {"content", m.content}});
  return out;
}

bool truthy(const std::string& v) {
  return v == "1" || v == "true" || v == "yes";
}

}  // namespace

struct gateway_service::core : std::enable_shared_from_this<gateway_service::core> {
  gateway_parts parts;
  gateway_settings settings;
  caf::actor_system* sys = nullptr;
  caf::actor models;
  std::unique_ptr<model_caller> caller;
  std::atomic<bool> ready{false};
  std::string id_prefix;
  std::atomic<uint64_t> next_id{1};
  key_rate_limiter limiter;

  std::mutex runs_mu;
  std::unordered_map<std::string, run_entry> runs;
  std::deque<std::string> runs_order;  // oldest first, to bound the table
  static constexpr size_t max_runs_kept = 10000;

  std::string new_id(const char* kind) {
    return fmt::format("{}-{}{}", kind, id_prefix, next_id.fetch_add(1));
  }

  // -- answering ---------------------------------------------------------------------
  void respond(response_channel& ch, const std::string& endpoint, clock_type::time_point start,
               outgoing_response r) {
    parts.metrics->record_request(endpoint, r.status, seconds_since(start));
    ch.send(std::move(r));
  }

  void respond_error(response_channel& ch, const std::string& endpoint,
                     clock_type::time_point start, const api_error& e) {
    outgoing_response r{e.status, "application/json", {}, error_body(e)};
    if (e.retry_after_s > 0) r.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s));
    if (e.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
    respond(ch, endpoint, start, std::move(r));
  }

  void respond_json(response_channel& ch, const std::string& endpoint, clock_type::time_point start,
                    unsigned status, const json& body, header_list headers = {}) {
    respond(ch, endpoint, start,
            {status, "application/json", std::move(headers),
             body.dump(-1, ' ', false, json::error_handler_t::replace)});
  }

  // -- authentication ------------------------------------------------------------------
  // The caller's key, or an error to send. With auth "none" every caller is "anonymous".
  std::optional<key_record> authenticate(const incoming_request& req, api_error& error) {
    if (!parts.keys) {
      key_record anonymous;
      anonymous.id = "anonymous";
      return anonymous;
    }
    auto auth = req.header("authorization");
    std::string key;
    if (auth.size() > 7 &&
        (auth.compare(0, 7, "Bearer ") == 0 || auth.compare(0, 7, "bearer ") == 0))
      key = auth.substr(7);
    else if (auto api_key = req.header("api-key"); !api_key.empty())
      key = api_key;
    if (key.empty()) {
      error = unauthorized(
          "You didn't provide an API key. Send it as `Authorization: Bearer <key>` (create one "
          "with `switchyard keys create`).");
      parts.metrics->record_rejection("auth");
      return std::nullopt;
    }
    auto record = parts.keys->authenticate(key);
    if (!record) {
      error = unauthorized("Incorrect API key provided, or the key was revoked.");
      parts.metrics->record_rejection("auth");
      return std::nullopt;
    }
    if (auto wait = limiter.acquire(record->id, record->rpm, steady_ms()); wait > 0) {
      error = api_error{429,
                        "rate_limit_error",
                        "rate_limit_exceeded",
                        "",
                        fmt::format("Rate limit of {} requests per minute reached for key {}",
                                    record->rpm, record->id),
                        (wait + 999) / 1000};
      parts.metrics->record_rejection("rate_limit");
      return std::nullopt;
    }
    if (record->budget_usd > 0 && record->spent_usd >= record->budget_usd) {
      error = api_error{
          429,
          "insufficient_quota",
          "insufficient_quota",
          "",
          fmt::format("Key {} has spent its budget of ${:.4f}", record->id, record->budget_usd),
          0};
      parts.metrics->record_rejection("budget");
      return std::nullopt;
    }
    return record;
  }

  // The budget thread of a request: scoped by key so one key never spends another's.
  static std::string thread_for(const key_record& key, const std::string& asked,
                                const std::string& fallback) {
    return "key:" + key.id + ":" + (asked.empty() ? fallback : asked);
  }

  // -- endpoints -------------------------------------------------------------------------
  void models_list(response_channel& ch, clock_type::time_point start) {
    const auto& cfg = *parts.cfg;
    json data = json::array();
    data.push_back({{"id", "auto"},
                    {"object", "model"},
                    {"created", 0},
                    {"owned_by", "switchyard"},
                    {"x_switchyard", {{"kind", "router"}}}});
    for (const auto& t : cfg.tiers)
      data.push_back({{"id", t},
                      {"object", "model"},
                      {"created", 0},
                      {"owned_by", "switchyard"},
                      {"x_switchyard", {{"kind", "tier"}}}});
    for (const auto& m : cfg.models)
      data.push_back({{"id", m.id},
                      {"object", "model"},
                      {"created", 0},
                      {"owned_by", m.provider},
                      {"x_switchyard",
                       {{"kind", "model"},
                        {"tier", m.tier},
                        {"context_window", m.context_window},
                        {"capabilities", m.capabilities},
                        {"price_in_per_mtok", m.price_in_per_mtok},
                        {"price_out_per_mtok", m.price_out_per_mtok}}}});
    respond_json(ch, "/v1/models", start, 200, {{"object", "list"}, {"data", data}});
  }

  void audit_call(const key_record& key, const model_request& call, const model_response& r,
                  double latency_ms, bool stream) {
    if (!parts.audit) return;
    json rec = {{"ts", iso_now()},
                {"kind", "chat_completion"},
                {"request_id", call.call_id},
                {"key_id", key.id},
                {"thread", call.ctx.thread_id},
                {"model", r.usage.model_id},
                {"tier", r.usage.tier},
                {"route", r.usage.route},
                {"downgraded", r.usage.downgraded},
                {"input_tokens", r.usage.input_tokens},
                {"output_tokens", r.usage.output_tokens},
                {"cost_usd", r.usage.cost_usd},
                {"latency_ms", latency_ms},
                {"stream", stream},
                {"outcome", r.ok() ? "ok" : r.error.kind},
                {"prompt_sha256", prompt_hash(call.messages)}};
    // The trace becomes text here, for the record, and in the answer only when asked.
    auto text = trace_json(r.usage.decision.bytes);
    auto trace = json::parse(text, nullptr, false);
    rec["decision"] = trace.is_discarded() ? json(text) : trace;
    if (settings.audit_prompts) rec["prompt"] = prompt_json(call.messages);
    parts.audit->write(rec);
  }

  void admin_keys(const incoming_request& req, response_channel& ch, clock_type::time_point start,
                  const std::string& path);
  void chat_completions(const incoming_request& req, std::shared_ptr<response_channel> ch,
                        clock_type::time_point start, const key_record& key);
  void start_run(const incoming_request& req, std::shared_ptr<response_channel> ch,
                 clock_type::time_point start, const key_record& key, const std::string& name);
  void get_run(std::shared_ptr<response_channel> ch, clock_type::time_point start,
               const key_record& key, const std::string& id);
  void finish_run(const key_record& key, const run_result& r, const std::string& input_hash);
};

namespace {

header_list switchyard_headers(const model_usage& u, const std::string& request_id) {
  return {{"x-request-id", request_id},
          {"x-switchyard-model", u.model_id},
          {"x-switchyard-tier", u.tier},
          {"x-switchyard-route", u.route},
          {"x-switchyard-downgraded", u.downgraded ? "true" : "false"},
          {"x-switchyard-cost-usd", fixed_usd(u.cost_usd)}};
}

// The state of one chat completion while the model service works on it. Once sent,
// touched only by the model_caller's handler calls, which come one at a time.
struct call_state final : model_call_handler {
  std::shared_ptr<gateway_service::core> core;
  std::shared_ptr<response_channel> channel;
  model_request call;  // what was sent (kept for the audit record)
  key_record key;
  clock_type::time_point start;
  bool stream = false;
  bool include_usage = false;
  bool want_trace = false;
  int64_t created = 0;
  std::optional<chunk_stream> chunks;
  bool stream_started = false;
  bool own_thread = false;  // the budget thread exists for this call alone
  bool routed_known = false;
  stream_routed route;  // the latest streamed attempt's model, tier and route

  void routed(const stream_routed& r) override;
  void delta(stream_delta& d) override;
  void switched(const stream_switch& sw) override;
  void done(model_response& r) override;
};

void start_stream_if_needed(call_state& s, const model_usage* usage) {
  if (s.stream_started) return;
  s.stream_started = true;
  header_list headers = {{"x-request-id", s.call.call_id}};
  if (usage) {
    headers = switchyard_headers(*usage, s.call.call_id);
  } else if (s.routed_known) {
    // Whether the reply ends up downgraded (a fallback after this) is only known at
    // the end: it is in the final chunk's x_switchyard, not in a header.
    headers.emplace_back("x-switchyard-model", s.route.model_id);
    headers.emplace_back("x-switchyard-tier", s.route.tier);
    headers.emplace_back("x-switchyard-route", s.route.route);
  } else if (!s.call.model.empty()) {
    headers.emplace_back("x-switchyard-model", s.call.model);
  }
  s.channel->start_stream(200, std::move(headers));
  s.channel->write(s.chunks->role_event());
}

void on_delta(call_state& s, const stream_delta& d) {
  if (!s.stream) return;
  auto event = s.chunks->delta_event(d);
  if (event.empty()) return;
  start_stream_if_needed(s, nullptr);
  s.channel->write(std::move(event));
}

// The reply continues on another model after a provider failed mid-stream. OpenAI's
// chunk format has no event for that, so it goes out as an SSE comment, which clients
// skip and anyone reading the raw stream sees; the final chunk's x_switchyard names
// the model that finished the reply.
void on_switch(call_state& s, const stream_switch& sw) {
  if (!s.stream) return;
  start_stream_if_needed(s, nullptr);
  s.channel->write(chunk_stream::switch_comment(sw));
}

void on_response(call_state& s, model_response& r) {
  auto& core = *s.core;
  double latency_s = seconds_since(s.start);
  if (s.own_thread) core.parts.eng->ledger().close_thread(s.call.ctx.thread_id);
  core.parts.metrics->record_model_call(r, latency_s);
  core.audit_call(s.key, s.call, r, latency_s * 1000, s.stream);
  if (r.ok() && core.parts.keys)
    core.parts.keys->record_usage(s.key.id, r.usage.cost_usd,
                                  uint64_t{r.usage.input_tokens} + r.usage.output_tokens);
  const std::string endpoint = "/v1/chat/completions";
  if (!r.ok()) {
    auto e = from_model_error(r.error);
    if (s.stream && s.stream_started) {
      // The status line is gone: the error goes inside the stream, as OpenAI does.
      for (auto& ev : chunk_stream::error_events(error_body(e))) s.channel->write(std::move(ev));
      s.channel->end();
      core.parts.metrics->record_request(endpoint, 200, latency_s);
      return;
    }
    outgoing_response out{e.status, "application/json", switchyard_headers(r.usage, s.call.call_id),
                          error_body(e)};
    if (e.retry_after_s > 0)
      out.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s));
    core.respond(*s.channel, endpoint, s.start, std::move(out));
    return;
  }
  if (s.stream) {
    start_stream_if_needed(s, &r.usage);
    for (auto& ev : s.chunks->finish_events(r, s.include_usage, s.want_trace))
      s.channel->write(std::move(ev));
    s.channel->end();
    core.parts.metrics->record_request(endpoint, 200, latency_s);
    return;
  }
  core.respond(*s.channel, endpoint, s.start,
               {200, "application/json", switchyard_headers(r.usage, s.call.call_id),
                completion_text(r, s.call.call_id, s.created, s.want_trace)});
}

void call_state::routed(const stream_routed& r) {
  route = r;
  routed_known = true;
}
void call_state::delta(stream_delta& d) {
  on_delta(*this, d);
}
void call_state::switched(const stream_switch& sw) {
  on_switch(*this, sw);
}
void call_state::done(model_response& r) {
  on_response(*this, r);
}

}  // namespace

void gateway_service::core::chat_completions(const incoming_request& req,
                                             std::shared_ptr<response_channel> ch,
                                             clock_type::time_point start, const key_record& key) {
  const std::string endpoint = "/v1/chat/completions";
  chat_request parsed;
  if (auto e = parse_chat_request(req.body, *parts.cfg, settings.default_max_tokens, parsed);
      !e.ok()) {
    parts.metrics->record_rejection(e.status == 404 ? "model_not_found" : "invalid_request");
    return respond_error(*ch, endpoint, start, e);
  }
  auto s = std::make_shared<call_state>();
  s->core = shared_from_this();
  s->channel = std::move(ch);
  s->key = key;
  s->start = start;
  s->stream = parsed.stream;
  s->include_usage = parsed.include_usage;
  s->want_trace = truthy(req.header("x-switchyard-trace"));
  s->created = unix_seconds();
  s->call = std::move(parsed.call);
  auto& call = s->call;
  call.call_id = new_id("chatcmpl");
  call.ctx.run_id = call.call_id;
  // A call names its conversation thread (x-switchyard-thread) to share that thread's
  // budget across calls; without one it gets a thread of its own, closed afterwards.
  auto asked_thread = req.header("x-switchyard-thread");
  call.ctx.thread_id = thread_for(key, asked_thread, call.call_id);
  s->own_thread = asked_thread.empty();
  parts.eng->ledger().open_thread(call.ctx.thread_id, parts.cfg->thread_budget);
  if (auto v = req.header("x-switchyard-route"); !v.empty()) call.route = v;
  if (auto v = req.header("x-switchyard-data-class"); !v.empty()) call.data_class = v;
  if (auto v = req.header("x-switchyard-latency-class"); !v.empty()) call.latency_class = v;
  if (s->stream)
    s->chunks.emplace(call.call_id, s->created,
                      call.model.empty() ? parsed.requested_model : call.model);
  // The audit record needs the prompt after the call: send a copy only then.
  model_request request;
  if (parts.audit) {
    request = s->call;
  } else {
    request = std::move(s->call);
    s->call.call_id = request.call_id;
    s->call.ctx = request.ctx;
    s->call.model = request.model;
  }
  // The decision trace is read only for the trace header and the audit record.
  const bool want_trace = s->want_trace || parts.audit != nullptr;
  caller->call(std::move(request), std::move(s), want_trace);
}

// -- admin: keys while the server holds the key database -----------------------------

namespace {

// Compares without stopping at the first difference, so timing tells nothing.
bool same_secret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

void gateway_service::core::admin_keys(const incoming_request& req, response_channel& ch,
                                       clock_type::time_point start, const std::string& path) {
  const std::string endpoint = "/admin/keys";
  if (!parts.keys || parts.admin_token.empty())
    return respond_error(ch, "other", start,
                         not_found(fmt::format("no endpoint {} {}", req.method, path)));
  auto auth = req.header("authorization");
  if (auth.size() <= 7 || auth.compare(0, 7, "Bearer ") != 0 ||
      !same_secret(auth.substr(7), parts.admin_token)) {
    parts.metrics->record_rejection("auth");
    return respond_error(ch, endpoint, start,
                         unauthorized("/admin/keys needs the admin token of this server "
                                      "(`switchyard keys` finds it next to the key database)"));
  }
  const std::string prefix = "/admin/keys/", revoke_suffix = "/revoke";
  if (path == "/admin/keys" && req.method == "GET") {
    json data = json::array();
    for (const auto& k : parts.keys->list()) data.push_back(key_json(k));
    return respond_json(ch, endpoint, start, 200, {{"object", "list"}, {"data", data}});
  }
  if (path == "/admin/keys" && req.method == "POST") {
    auto doc = json::parse(req.body, nullptr, false);
    auto bad = [&](const std::string& param, const std::string& message) {
      parts.metrics->record_rejection("invalid_request");
      respond_error(ch, endpoint, start, invalid_request(param, param + ": " + message));
    };
    if (doc.is_discarded() || !doc.is_object()) return bad("body", "must be a JSON object");
    std::string name;
    double budget = 0;
    uint32_t rpm = 0;
    for (const auto& item : doc.items()) {
      const auto& k = item.key();
      const auto& v = item.value();
      if (k == "name") {
        if (!v.is_string() || v.get<std::string>().empty())
          return bad("name", "must be a non-empty string");
        name = v.get<std::string>();
      } else if (k == "budget_usd") {
        if (!v.is_number() || v.get<double>() < 0 || !std::isfinite(v.get<double>()))
          return bad("budget_usd", "must be a number >= 0");
        budget = v.get<double>();
      } else if (k == "rpm") {
        if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX)
          return bad("rpm", "must be an integer from 0 to 4294967295");
        rpm = static_cast<uint32_t>(v.get<uint64_t>());
      } else {
        return bad(k, "unknown field (allowed: name, budget_usd, rpm)");
      }
    }
    if (name.empty()) return bad("name", "is required");
    auto made = parts.keys->create(name, budget, rpm);
    if (!made.error.empty()) return bad("name", made.error);
    spdlog::info("gateway: key {} ('{}') created through /admin/keys", made.record.id, name);
    auto body = key_json(made.record);
    body["key"] = made.key;
    return respond_json(ch, endpoint, start, 201, body);
  }
  if (path.rfind(prefix, 0) == 0 && path.size() > prefix.size() + revoke_suffix.size() &&
      path.compare(path.size() - revoke_suffix.size(), revoke_suffix.size(), revoke_suffix) ==
          0 &&
      req.method == "POST") {
    auto id = path.substr(prefix.size(), path.size() - prefix.size() - revoke_suffix.size());
    if (auto error = parts.keys->revoke(id); !error.empty())
      return respond_error(ch, endpoint, start, not_found(error, "key_not_found"));
    spdlog::info("gateway: key {} revoked through /admin/keys", id);
    return respond_json(ch, endpoint, start, 200, {{"id", id}, {"revoked", true}});
  }
  respond_error(ch, endpoint, start,
                not_found(fmt::format("no endpoint {} {} (use GET or POST /admin/keys, POST "
                                      "/admin/keys/ID/revoke)",
                                      req.method, path)));
}

// -- workflows ---------------------------------------------------------------------------

void gateway_service::core::finish_run(const key_record& key, const run_result& r,
                                       const std::string& input_hash) {
  if (parts.on_run_end) parts.on_run_end(r.run_id);
  parts.metrics->record_run(r.workflow, r.status, r.reason);
  for (const auto& step : r.steps) parts.metrics->record_step(step);
  if (parts.keys && r.cost_usd > 0)
    parts.keys->record_usage(key.id, r.cost_usd, uint64_t{r.input_tokens} + r.output_tokens);
  if (parts.audit) {
    for (const auto& step : r.steps) {
      if (step.model_calls == 0) continue;
      json rec = {{"ts", iso_now()},
                  {"kind", "workflow_step"},
                  {"request_id", r.run_id + "/" + std::to_string(step.step)},
                  {"key_id", key.id},
                  {"thread", r.thread_id},
                  {"workflow", r.workflow},
                  {"agent", step.agent},
                  {"model", step.model},
                  {"tier", step.tier},
                  {"route", step.route},
                  {"downgraded", step.downgraded},
                  {"model_calls", step.model_calls},
                  {"input_tokens", step.input_tokens},
                  {"output_tokens", step.output_tokens},
                  {"cost_usd", step.cost_usd},
                  {"latency_ms", step.latency_ms},
                  {"outcome", step.error.empty() ? "ok" : step.error},
                  {"input_sha256", input_hash}};
      auto text = traces_json_array(step.decisions.bytes);
      auto trace = json::parse(text, nullptr, false);
      rec["decision"] = trace.is_discarded() ? json(text) : trace;
      parts.audit->write(rec);
    }
  }
  std::lock_guard<std::mutex> lock{runs_mu};
  auto it = runs.find(r.run_id);
  if (it != runs.end()) {
    it->second.done = true;
    it->second.result = r;
  }
}

void gateway_service::core::start_run(const incoming_request& req,
                                      std::shared_ptr<response_channel> ch,
                                      clock_type::time_point start, const key_record& key,
                                      const std::string& name) {
  const std::string endpoint = "/v1/workflows/{name}/runs";
  if (std::find(parts.workflows.begin(), parts.workflows.end(), name) == parts.workflows.end()) {
    parts.metrics->record_rejection("workflow_not_found");
    return respond_error(
        *ch, endpoint, start,
        not_found(fmt::format("no workflow named '{}'", name), "workflow_not_found"));
  }
  auto doc = json::parse(req.body, nullptr, false);
  auto bad = [&](const std::string& param, const std::string& message) {
    parts.metrics->record_rejection("invalid_request");
    respond_error(*ch, endpoint, start, invalid_request(param, param + ": " + message));
  };
  if (doc.is_discarded()) return bad("body", "is not valid JSON");
  if (!doc.is_object()) return bad("body", "must be a JSON object");
  run_request run;
  run.workflow = name;
  bool wait = true;
  bool has_input = false;
  std::string thread;
  for (const auto& item : doc.items()) {
    const auto& k = item.key();
    const auto& v = item.value();
    if (k == "input") {
      if (!v.is_string()) return bad("input", "must be a string");
      run.input = v.get<std::string>();
      has_input = true;
    } else if (k == "thread_id") {
      if (!v.is_string()) return bad("thread_id", "must be a string");
      thread = v.get<std::string>();
    } else if (k == "wait") {
      if (!v.is_boolean()) return bad("wait", "must be true or false");
      wait = v.get<bool>();
    } else {
      return bad(k, "unknown field (allowed: input, thread_id, wait)");
    }
  }
  if (!has_input) return bad("input", "is required");
  run.run_id = new_id("run");
  // A named thread is scoped by key; without one the run gets a thread of its own
  // (which the ledger forgets when the run ends).
  run.thread_id = thread.empty() ? "" : thread_for(key, thread, "");
  {
    std::lock_guard<std::mutex> lock{runs_mu};
    runs[run.run_id] = run_entry{key.id, name, false, {}};
    runs_order.push_back(run.run_id);
    while (runs_order.size() > max_runs_kept) {
      runs.erase(runs_order.front());
      runs_order.pop_front();
    }
  }
  auto self_core = shared_from_this();
  auto run_actor = parts.eng->spawn_run();
  auto timeout = std::chrono::milliseconds(settings.request_timeout_ms);
  if (!wait) {
    respond_json(*ch, endpoint, start, 202,
                 {{"run_id", run.run_id}, {"workflow", name}, {"status", "running"}},
                 {{"Location", "/v1/runs/" + run.run_id}});
    ch.reset();
  }
  auto input_hash = sha256_hex(run.input);
  sys->spawn([self_core, ch, key, run, run_actor, start, timeout, endpoint,
              input_hash](caf::event_based_actor* self) {
    // Unwaited runs have no client deadline: the run's own step timeouts bound them.
    auto deadline = ch ? caf::duration{timeout} : caf::duration{caf::infinite};
    self->request(run_actor, deadline, run)
        .then(
            [=](run_result& r) {
              self_core->finish_run(key, r, input_hash);
              if (ch) {
                model_usage u;
                u.cost_usd = r.cost_usd;
                if (!r.steps.empty()) {
                  u.model_id = r.steps.back().model;
                  u.tier = r.steps.back().tier;
                  u.route = r.steps.back().route;
                }
                for (const auto& st : r.steps) u.downgraded = u.downgraded || st.downgraded;
                self_core->respond_json(*ch, endpoint, start, 200, to_json(r),
                                        switchyard_headers(u, r.run_id));
              }
            },
            [=](caf::error& err) {
              if (!ch) {
                spdlog::warn("gateway: run {} ended without a result: {}", run.run_id,
                             to_string(err));
                return;
              }
              bool timed_out = err == caf::sec::request_timeout;
              api_error e{timed_out ? 504u : 500u,
                          "server_error",
                          timed_out ? "timeout" : "run_failed",
                          "",
                          timed_out ? fmt::format("run {} is still going after request_timeout_ms; "
                                                  "GET /v1/runs/{} later",
                                                  run.run_id, run.run_id)
                                    : "the run ended without a result: " + to_string(err),
                          0};
              self_core->respond_error(*ch, endpoint, start, e);
            });
  });
}

void gateway_service::core::get_run(std::shared_ptr<response_channel> ch,
                                    clock_type::time_point start, const key_record& key,
                                    const std::string& id) {
  const std::string endpoint = "/v1/runs/{id}";
  {
    std::lock_guard<std::mutex> lock{runs_mu};
    auto it = runs.find(id);
    if (it != runs.end() && (it->second.key_id == key.id || !parts.keys)) {
      json body =
          it->second.done
              ? to_json(it->second.result)
              : json{{"run_id", id}, {"workflow", it->second.workflow}, {"status", "running"}};
      return respond_json(*ch, endpoint, start, 200, body);
    }
  }
  // Runs from before a restart: the checkpoint store has them, owned by their thread.
  if (auto* store = parts.eng->store()) {
    if (auto loaded = store->load(id); loaded && loaded->state) {
      const auto& c = *loaded->state;
      if (!parts.keys || c.thread_id.rfind("key:" + key.id + ":", 0) == 0) {
        json body = {{"run_id", c.run_id},
                     {"workflow", c.workflow},
                     {"thread_id", c.thread_id},
                     {"status", to_string(c.status)},
                     {"reason", c.reason},
                     {"detail", c.detail},
                     {"output", c.output},
                     {"hops", c.hops},
                     {"input_tokens", c.input_tokens},
                     {"output_tokens", c.output_tokens},
                     {"cost_usd", static_cast<double>(c.spent_nano_usd) / 1e9}};
        json steps = json::array();
        for (const auto& s : store->steps(id)) steps.push_back(to_json(s));
        body["steps"] = std::move(steps);
        return respond_json(*ch, endpoint, start, 200, body);
      }
    }
  }
  respond_error(*ch, endpoint, start, not_found(fmt::format("no run '{}'", id), "run_not_found"));
}

// -- gateway_service ---------------------------------------------------------------------

gateway_service::gateway_service(gateway_parts parts) : core_(std::make_shared<core>()) {
  core_->parts = std::move(parts);
  core_->settings = core_->parts.cfg->gateway;
  core_->sys = &core_->parts.eng->system();
  core_->models = core_->parts.eng->model_service();
  core_->caller = std::make_unique<model_caller>(
      *core_->sys, core_->models, std::chrono::milliseconds(core_->settings.request_timeout_ms),
      core_->parts.direct_model_calls ? core_->parts.eng->model_core() : nullptr);
  std::random_device rd;
  core_->id_prefix = fmt::format("{:06x}", rd() & 0xffffff);
}

gateway_service::~gateway_service() {
  // Calls in flight hold the core: drop them so it goes.
  core_->caller->shutdown();
}

void gateway_service::run_calls_on(http_server& server) {
  auto* here = server.single_io_context();
  if (here == nullptr || !core_->parts.direct_model_calls) return;
  core_->caller->run_calls_on(here);
  // The core, not `this`: the server may stop after the service is gone.
  server.on_stopped([core = core_, here] { core->caller->io_context_stopped(*here); });
}

void gateway_service::set_ready(bool ready) {
  core_->ready = ready;
}

void gateway_service::handle(incoming_request req, std::shared_ptr<response_channel> ch) {
  auto start = clock_type::now();
  auto& c = *core_;
  auto path = req.path();
  const bool get = req.method == "GET", post = req.method == "POST";
  auto wrong_method = [&](const std::string& endpoint, const char* allowed) {
    api_error e{405,
                "invalid_request_error",
                "method_not_allowed",
                "",
                fmt::format("{} {} is not supported; use {}", req.method, path, allowed),
                0};
    outgoing_response r{405, "application/json", {{"Allow", allowed}}, error_body(e)};
    c.respond(*ch, endpoint, start, std::move(r));
  };
  if (path == "/healthz") {
    if (!get) return wrong_method(path, "GET");
    return c.respond_json(*ch, path, start, 200, {{"status", "ok"}});
  }
  if (path == "/readyz") {
    if (!get) return wrong_method(path, "GET");
    bool ready = c.ready.load();
    return c.respond_json(*ch, path, start, ready ? 200 : 503,
                          {{"status", ready ? "ready" : "starting"}});
  }
  if (path == "/metrics") {
    if (!get) return wrong_method(path, "GET");
    // Breakers, fallbacks and cache counters live in the model service: ask it (never
    // blocking this I/O thread), then answer with the gateway's own counters and them.
    auto self_core = core_;
    c.sys->spawn([self_core, ch, start](caf::event_based_actor* self) {
      auto answer = [self_core, ch, start](const std::string& extra) {
        self_core->respond(*ch, "/metrics", start,
                           {200, "text/plain; version=0.0.4; charset=utf-8", {},
                            self_core->parts.metrics->render() + extra});
      };
      self->request(self_core->models, std::chrono::seconds(2), resilience_stats_atom::value)
          .then(
              [self, answer](const std::string& stats) {
                answer(resilience_metrics_text(stats));
                self->quit();
              },
              [self, answer](caf::error& err) {
                answer("# model service resilience stats unavailable: " + to_string(err) + "\n");
                self->quit();
              });
    });
    return;
  }
  if (path == "/admin/keys" || path.rfind("/admin/keys/", 0) == 0)
    return c.admin_keys(req, *ch, start, path);
  if (path.rfind("/v1/", 0) != 0) {
    return c.respond_error(*ch, "other", start,
                           not_found(fmt::format("no endpoint {} {}", req.method, path)));
  }
  // Route first, so an unknown path is 404 whoever asks; then authenticate.
  enum class ep { models, chat, run_start, run_get } which;
  std::string arg, endpoint;
  const std::string wf_prefix = "/v1/workflows/", runs_prefix = "/v1/runs/";
  if (path == "/v1/models") {
    which = ep::models, endpoint = path;
    if (!get) return wrong_method(endpoint, "GET");
  } else if (path == "/v1/chat/completions") {
    which = ep::chat, endpoint = path;
    if (!post) return wrong_method(endpoint, "POST");
  } else if (path.rfind(wf_prefix, 0) == 0 && path.size() > wf_prefix.size() + 5 &&
             path.compare(path.size() - 5, 5, "/runs") == 0) {
    which = ep::run_start, endpoint = "/v1/workflows/{name}/runs";
    arg = path.substr(wf_prefix.size(), path.size() - wf_prefix.size() - 5);
    if (!post) return wrong_method(endpoint, "POST");
  } else if (path.rfind(runs_prefix, 0) == 0 && path.size() > runs_prefix.size() &&
             path.find('/', runs_prefix.size()) == std::string::npos) {
    which = ep::run_get, endpoint = "/v1/runs/{id}";
    arg = path.substr(runs_prefix.size());
    if (!get) return wrong_method(endpoint, "GET");
  } else {
    return c.respond_error(*ch, "other", start,
                           not_found(fmt::format("no endpoint {} {}", req.method, path)));
  }
  api_error auth_error;
  auto key = c.authenticate(req, auth_error);
  if (!key) return c.respond_error(*ch, endpoint, start, auth_error);
  switch (which) {
    case ep::models:
      return c.models_list(*ch, start);
    case ep::chat:
      return c.chat_completions(req, std::move(ch), start, *key);
    case ep::run_start:
      return c.start_run(req, std::move(ch), start, *key, arg);
    case ep::run_get:
      return c.get_run(std::move(ch), start, *key, arg);
  }
}

}  // namespace switchyard::gateway
