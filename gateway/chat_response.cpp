#include "gateway/chat_response.hpp"

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

}  // namespace

std::string sse_event(const json& payload) {
  return "data: " + payload.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

json switchyard_info(const model_usage& u, bool with_trace) {
  json out = {{"model", u.model_id},        {"tier", u.tier},         {"route", u.route},
              {"downgraded", u.downgraded}, {"cost_usd", u.cost_usd}, {"latency_ms", u.latency_ms}};
  if (with_trace) {
    auto trace = json::parse(u.decision, nullptr, false);
    out["decision"] = trace.is_discarded() ? json(u.decision) : trace;
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
