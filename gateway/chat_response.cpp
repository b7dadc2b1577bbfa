#include "gateway/chat_response.hpp"

#include <cmath>

#include "runtime/json_text.hpp"
#include "runtime/trace_codec.hpp"

namespace switchyard::gateway {

namespace {

using json = nlohmann::json;

json tool_calls_json(const std::vector<tool_call>& calls) {
  json out = json::array();
  for (const auto& c : calls)
    out.push_back({{"id", c.id},
                   {"type", "function"},
                   {"function", {{"name", c.name}, {"arguments", c.arguments_json}}}});
  return out;
}

json usage_json(const model_usage& u) {
  return {{"prompt_tokens", u.input_tokens},
          {"completion_tokens", u.output_tokens},
          {"total_tokens", u.input_tokens + u.output_tokens}};
}

const char* finish_or_stop(const model_response& r) {
  return r.finish_reason.empty() ? "stop" : r.finish_reason.c_str();
}

// Numbers as nlohmann::json dumps them: integers plain, doubles shortest round-trip
// with ".0" when integral, NaN and infinities as null.
void append_number(std::string& out, uint64_t v) {
  char buf[24];
  char* end = buf + sizeof buf;
  char* p = end;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  out.append(p, static_cast<size_t>(end - p));
}

void append_number(std::string& out, int64_t v) {
  if (v < 0) {
    out += '-';
    append_number(out, static_cast<uint64_t>(0) - static_cast<uint64_t>(v));
  } else {
    append_number(out, static_cast<uint64_t>(v));
  }
}

void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[64];
  char* end = nlohmann::detail::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(end - buf));
}

void append_key(std::string& out, const char* key) {
  out += '"';
  out += key;
  out += "\":";
}

void append_string_field(std::string& out, const char* key, const std::string& value) {
  append_key(out, key);
  append_json_string(out, value);
}

}  // namespace

std::string completion_text(const model_response& r, const std::string& id, int64_t created,
                            bool with_trace) {
  // Keys in sorted order at every level: nlohmann::json objects are std::maps, and this
  // writes what completion_json(...).dump() wrote.
  const auto& u = r.usage;
  std::string out;
  out.reserve(320 + r.text.size() + id.size() + 2 * u.model_id.size() + u.tier.size() +
              u.route.size() + (with_trace ? u.decision.size() + 64 : 0));
  out += "{\"choices\":[{\"finish_reason\":";
  append_json_string(out, finish_or_stop(r));
  out += ",\"index\":0,\"logprobs\":";
  if (r.logprobs.empty()) {
    out += "null";
  } else {
    out += "{\"content\":[";
    for (size_t i = 0; i < r.logprobs.size(); ++i) {
      if (i > 0) out += ',';
      out += "{\"logprob\":";
      append_number(out, static_cast<double>(r.logprobs[i].logprob));
      out += ',';
      append_string_field(out, "token", r.logprobs[i].token);
      out += ",\"top_logprobs\":[]}";
    }
    out += "]}";
  }
  out += ",\"message\":{\"content\":";
  if (r.text.empty() && !r.tool_calls.empty())
    out += "null";
  else
    append_json_string(out, r.text);
  out += ",\"role\":\"assistant\"";
  if (!r.tool_calls.empty()) {
    out += ",\"tool_calls\":[";
    for (size_t i = 0; i < r.tool_calls.size(); ++i) {
      const auto& c = r.tool_calls[i];
      if (i > 0) out += ',';
      out += "{\"function\":{";
      append_string_field(out, "arguments", c.arguments_json);
      out += ',';
      append_string_field(out, "name", c.name);
      out += "},";
      append_string_field(out, "id", c.id);
      out += ",\"type\":\"function\"}";
    }
    out += ']';
  }
  out += "}}],\"created\":";
  append_number(out, created);
  out += ',';
  append_string_field(out, "id", id);
  out += ',';
  append_string_field(out, "model", u.model_id);
  out += ",\"object\":\"chat.completion\",\"usage\":{\"completion_tokens\":";
  append_number(out, uint64_t{u.output_tokens});
  out += ",\"prompt_tokens\":";
  append_number(out, uint64_t{u.input_tokens});
  out += ",\"total_tokens\":";
  // As usage_json computes it (uint32_t arithmetic).
  append_number(out, uint64_t{static_cast<uint32_t>(u.input_tokens + u.output_tokens)});
  out += "},\"x_switchyard\":{\"cost_usd\":";
  append_number(out, u.cost_usd);
  if (with_trace) {
    // Rare (asked for per request): the trace goes through the tree, as before.
    out += ",\"decision\":";
    auto text = trace_json(u.decision.bytes);
    auto trace = json::parse(text, nullptr, false);
    out += trace.is_discarded() ? json(text).dump(-1, ' ', false, json::error_handler_t::replace)
                                : trace.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  out += ",\"downgraded\":";
  out += u.downgraded ? "true" : "false";
  out += ",\"latency_ms\":";
  append_number(out, u.latency_ms);
  out += ',';
  append_string_field(out, "model", u.model_id);
  out += ',';
  append_string_field(out, "route", u.route);
  out += ',';
  append_string_field(out, "tier", u.tier);
  out += "}}";
  return out;
}

std::string sse_event(const json& payload) {
  return "data: " + payload.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

json switchyard_info(const model_usage& u, bool with_trace) {
  json out = {{"model", u.model_id},        {"tier", u.tier},         {"route", u.route},
              {"downgraded", u.downgraded}, {"cost_usd", u.cost_usd}, {"latency_ms", u.latency_ms}};
  if (with_trace) {
    auto text = trace_json(u.decision.bytes);
    auto trace = json::parse(text, nullptr, false);
    out["decision"] = trace.is_discarded() ? json(text) : trace;
  }
  return out;
}

json completion_json(const model_response& r, const std::string& id, int64_t created,
                     bool with_trace) {
  json message = {
      {"role", "assistant"},
      {"content", r.text.empty() && !r.tool_calls.empty() ? json(nullptr) : json(r.text)}};
  if (!r.tool_calls.empty()) message["tool_calls"] = tool_calls_json(r.tool_calls);
  json choice = {{"index", 0}, {"message", message}, {"finish_reason", finish_or_stop(r)}};
  if (!r.logprobs.empty()) {
    json content = json::array();
    for (const auto& lp : r.logprobs)
      content.push_back(
          {{"token", lp.token}, {"logprob", lp.logprob}, {"top_logprobs", json::array()}});
    choice["logprobs"] = {{"content", content}};
  } else {
    choice["logprobs"] = nullptr;
  }
  return {{"id", id},
          {"object", "chat.completion"},
          {"created", created},
          {"model", r.usage.model_id},
          {"choices", json::array({choice})},
          {"usage", usage_json(r.usage)},
          {"x_switchyard", switchyard_info(r.usage, with_trace)}};
}

chunk_stream::chunk_stream(std::string id, int64_t created, std::string model)
    : id_(std::move(id)), created_(created), model_(std::move(model)) {}

std::string chunk_stream::event(json delta, const json& finish_reason) const {
  return sse_event({{"id", id_},
                    {"object", "chat.completion.chunk"},
                    {"created", created_},
                    {"model", model_},
                    {"choices", json::array({{{"index", 0},
                                              {"delta", std::move(delta)},
                                              {"logprobs", nullptr},
                                              {"finish_reason", finish_reason}}})}});
}

std::string chunk_stream::role_event() const {
  return event({{"role", "assistant"}, {"content", ""}}, nullptr);
}

std::string chunk_stream::delta_event(const stream_delta& d) {
  switch (d.kind) {
    case stream_delta_kind::text:
      if (d.text.empty()) return {};
      streamed_ = true;
      return event({{"content", d.text}}, nullptr);
    case stream_delta_kind::tool_call: {
      streamed_ = true;
      json call = {{"index", d.index}};
      json fn = {{"arguments", d.text}};
      if (!d.id.empty()) {
        call["id"] = d.id;
        call["type"] = "function";
      }
      if (!d.name.empty()) fn["name"] = d.name;
      call["function"] = fn;
      return event({{"tool_calls", json::array({call})}}, nullptr);
    }
    default:
      return {};
  }
}

std::vector<std::string> chunk_stream::finish_events(const model_response& r, bool include_usage,
                                                     bool with_trace) {
  std::vector<std::string> out;
  if (!r.usage.model_id.empty()) model_ = r.usage.model_id;
  if (!streamed_) {
    if (!r.text.empty()) out.push_back(event({{"content", r.text}}, nullptr));
    for (size_t i = 0; i < r.tool_calls.size(); ++i) {
      const auto& c = r.tool_calls[i];
      out.push_back(event(
          {{"tool_calls",
            json::array({{{"index", i},
                          {"id", c.id},
                          {"type", "function"},
                          {"function", {{"name", c.name}, {"arguments", c.arguments_json}}}}})}},
          nullptr));
    }
  }
  out.push_back(event(json::object(), finish_or_stop(r)));
  json last = {{"id", id_},
               {"object", "chat.completion.chunk"},
               {"created", created_},
               {"model", model_},
               {"choices", json::array()},
               {"x_switchyard", switchyard_info(r.usage, with_trace)}};
  if (include_usage) last["usage"] = usage_json(r.usage);
  out.push_back(sse_event(last));
  out.push_back("data: [DONE]\n\n");
  return out;
}

std::vector<std::string> chunk_stream::error_events(const std::string& error_body_json) {
  return {"data: " + error_body_json + "\n\n", "data: [DONE]\n\n"};
}

std::string chunk_stream::switch_comment(const stream_switch& sw) {
  std::string reason = sw.reason;
  for (char& c : reason)
    if (c == '\n' || c == '\r') c = ' ';
  return ": switchyard: continued on " + sw.to_model + " after " + std::to_string(sw.kept_chars) +
         " characters from " + sw.from_model + " (" + reason + ")\n\n";
}

}  // namespace switchyard::gateway
