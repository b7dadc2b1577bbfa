#include "router/providers/anthropic_adapter.hpp"

#include <stdexcept>

#include "router/providers/error_mapping.hpp"
#include "router/providers/wire_json.hpp"

namespace switchyard::anthropic_adapter {

const char* const json_mode_instruction =
    "Reply with exactly one JSON object and nothing else: no prose, no code fences.";

namespace {

using json = nlohmann::json;

// Adds `blocks` as a turn of `role`, merged into the previous turn when it has the
// same role.
void append_turn(json& turns, const std::string& role, json blocks) {
  if (!turns.empty() && turns.back()["role"] == role) {
    for (auto& block : blocks) turns.back()["content"].push_back(std::move(block));
    return;
  }
  turns.push_back({{"role", role}, {"content", std::move(blocks)}});
}

}  // namespace

std::string normalise_stop_reason(const std::string& reason) {
  if (reason == "end_turn" || reason == "stop_sequence") return "stop";
  if (reason == "max_tokens") return "length";
  if (reason == "tool_use") return "tool_calls";
  if (reason == "refusal") return "content_filter";
  return reason;
}

http_request build_request(const model_request& req, const model_config& model,
                           const provider_config& provider, const std::string& api_key) {
  std::string system;
  json turns = json::array();
  for (size_t i = 0; i < req.messages.size(); ++i) {
    const chat_message& m = req.messages[i];
    std::string at = "messages[" + std::to_string(i) + "]";
    if (m.role == "system") {
      system += (system.empty() ? "" : "\n\n") + m.content;
    } else if (m.role == "user") {
      append_turn(turns, "user", json::array({{{"type", "text"}, {"text", m.content}}}));
    } else if (m.role == "assistant") {
      json blocks = json::array();
      if (!m.content.empty()) blocks.push_back({{"type", "text"}, {"text", m.content}});
      for (size_t c = 0; c < m.tool_calls.size(); ++c) {
        const tool_call& call = m.tool_calls[c];
        std::string what = at + ".tool_calls[" + std::to_string(c) + "].arguments_json";
        json input = call.arguments_json.empty() ? json::object()
                                                 : request_object(call.arguments_json, what);
        blocks.push_back(
            {{"type", "tool_use"}, {"id", call.id}, {"name", call.name}, {"input", input}});
      }
      // The API rejects an empty text block; an empty assistant turn says nothing.
      if (blocks.empty()) continue;
      append_turn(turns, "assistant", std::move(blocks));
    } else if (m.role == "tool") {
      if (m.tool_call_id.empty()) {
        throw std::invalid_argument(at + ": a tool message needs tool_call_id");
      }
      append_turn(turns, "user",
                  json::array({{{"type", "tool_result"},
                                {"tool_use_id", m.tool_call_id},
                                {"content", m.content}}}));
    } else {
      throw std::invalid_argument(at + ".role must be system, user, assistant or tool, got \"" +
                                  m.role + "\"");
    }
  }
  if (req.json_mode) system += (system.empty() ? "" : "\n\n") + std::string(json_mode_instruction);

  json body = {{"model", model.wire_name()}, {"max_tokens", req.max_tokens}};
  if (!system.empty()) body["system"] = system;
  body["messages"] = std::move(turns);
  if (req.temperature >= 0) body["temperature"] = req.temperature;
  if (req.top_p >= 0) body["top_p"] = req.top_p;
  if (!req.stop.empty()) body["stop_sequences"] = req.stop;
  if (!req.tools.empty()) {
    json tools = json::array();
    for (size_t i = 0; i < req.tools.size(); ++i) {
      const tool_definition& tool = req.tools[i];
      if (tool.name.empty()) {
        throw std::invalid_argument("tools[" + std::to_string(i) + "].name must not be empty");
      }
      json t = {{"name", tool.name}};
      if (!tool.description.empty()) t["description"] = tool.description;
      t["input_schema"] = tool.parameters_json.empty()
                              ? json{{"type", "object"}, {"properties", json::object()}}
                              : request_object(tool.parameters_json,
                                                "tools[" + std::to_string(i) + "].parameters_json");
      tools.push_back(std::move(t));
    }
    body["tools"] = std::move(tools);
  }
  if (!req.tool_choice.empty()) {
    if (req.tool_choice == "auto" || req.tool_choice == "none") {
      body["tool_choice"] = {{"type", req.tool_choice}};
    } else if (req.tool_choice == "required") {
      body["tool_choice"] = {{"type", "any"}};
    } else {
      body["tool_choice"] = {{"type", "tool"}, {"name", req.tool_choice}};
    }
  }
  if (req.stream) body["stream"] = true;

  http_request out;
  out.method = "POST";
  out.target = "/v1/messages";
  out.headers.emplace_back("Content-Type", "application/json");
  out.headers.emplace_back("Accept", req.stream ? "text/event-stream" : "application/json");
  out.headers.emplace_back("anthropic-version",
                           provider.api_version.empty() ? "2023-06-01" : provider.api_version);
  if (!api_key.empty()) out.headers.emplace_back("x-api-key", api_key);
  for (const auto& header : provider.headers) out.headers.push_back(header);
  out.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return out;
}

static model_response parse_unredacted(int http_status, const http_headers& headers,
                                       const std::string& body, const model_config& model,
                                       const std::string& api_key) {
  if (http_status < 200 || http_status > 299) {
    model_error e = classify_http_error(wire_format::anthropic, http_status, headers, body);
    return failed_response(e.kind, redacted(e.message, api_key), e.retry_after_ms);
  }
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return failed_response("bad_response",
                           "anthropic: response is not a JSON object: " + body_excerpt(body));
  }
  if (string_field(doc, "type") == "error" || doc.contains("error")) {
    model_error e = classify_http_error(wire_format::anthropic, http_status, headers, body);
    if (e.kind == "bad_response") e.kind = "server_error";
    return failed_response(e.kind, redacted(e.message, api_key), e.retry_after_ms);
  }
  try {
    auto content = doc.find("content");
    if (content == doc.end() || !content->is_array()) {
      return failed_response("bad_response",
                             "anthropic: response has no content array: " + body_excerpt(body));
    }
    model_response out;
    for (const json& block : *content) {
      std::string type = string_field(block, "type");
      if (type == "text") {
        out.text += string_field(block, "text");
      } else if (type == "tool_use") {
        tool_call call;
        call.id = string_field(block, "id");
        call.name = string_field(block, "name");
        if (call.name.empty()) {
          return failed_response("bad_response", "anthropic: a tool_use block has no name");
        }
        call.arguments_json =
            canonical_arguments(block.contains("input") ? block["input"] : json(), call.name);
        out.tool_calls.push_back(std::move(call));
      }
      // thinking / redacted_thinking blocks are the model's scratchpad, not the reply.
    }
    std::string stop = string_field(doc, "stop_reason");
    out.finish_reason = stop.empty() ? "stop" : normalise_stop_reason(stop);
    if (out.finish_reason == "content_filter" && out.text.empty() && out.tool_calls.empty()) {
      return failed_response("content_filter",
                             "anthropic: the model refused to answer (stop_reason refusal)");
    }
    json usage = doc.contains("usage") ? doc["usage"] : json();
    uint64_t input = count_field(usage, "input_tokens") +
                     count_field(usage, "cache_creation_input_tokens") +
                     count_field(usage, "cache_read_input_tokens");
    set_usage(out, model, input, count_field(usage, "output_tokens"));
    return out;
  } catch (const wire_error& e) {
    return failed_response(e.kind(), std::string("anthropic: ") + e.what());
  } catch (const json::exception& e) {
    return failed_response("bad_response",
                           std::string("anthropic: unexpected response shape: ") + e.what());
  }
}

// Every error message passes through here: a provider may echo the key anywhere in a
// body we quote (a malformed 200 included).
model_response parse_response(int http_status, const http_headers& headers, const std::string& body,
                              const model_config& model, const std::string& api_key) {
  model_response out = parse_unredacted(http_status, headers, body, model, api_key);
  redact_secret(out.error.message, api_key);
  return out;
}

}  // namespace switchyard::anthropic_adapter
