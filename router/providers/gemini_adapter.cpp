#include "router/providers/gemini_adapter.hpp"

#include <cctype>
#include <map>
#include <stdexcept>

#include "router/providers/error_mapping.hpp"
#include "router/providers/wire_json.hpp"

namespace switchyard::gemini_adapter {

namespace {

using json = nlohmann::json;

void append_turn(json& contents, const std::string& role, json parts) {
  if (!contents.empty() && contents.back()["role"] == role) {
    for (auto& part : parts) contents.back()["parts"].push_back(std::move(part));
    return;
  }
  contents.push_back({{"role", role}, {"parts", std::move(parts)}});
}

// Percent-encodes a model name for the path; names like "gemini-2.0-flash" pass as is.
std::string path_segment(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string normalise_finish_reason(const std::string& reason) {
  if (reason == "STOP") return "stop";
  if (reason == "MAX_TOKENS") return "length";
  if (reason == "SAFETY" || reason == "RECITATION" || reason == "BLOCKLIST" ||
      reason == "PROHIBITED_CONTENT" || reason == "SPII" || reason == "IMAGE_SAFETY") {
    return "content_filter";
  }
  std::string out;
  for (char c : reason) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void append_logprobs(const json& candidate, std::vector<token_logprob>& out) {
  auto lp = candidate.find("logprobsResult");
  if (lp == candidate.end() || !lp->is_object()) return;
  auto chosen = lp->find("chosenCandidates");
  if (chosen == lp->end() || !chosen->is_array()) return;
  for (const json& item : *chosen) {
    auto value = item.is_object() ? item.find("logProbability") : item.end();
    if (value == item.end() || !value->is_number()) continue;
    out.push_back({string_field(item, "token"), value->get<double>()});
  }
}

http_request build_request(const model_request& req, const model_config& model,
                           const provider_config& provider, const std::string& api_key) {
  std::string system;
  json contents = json::array();
  std::map<std::string, std::string> call_names;  // tool_call id -> tool name
  for (size_t i = 0; i < req.messages.size(); ++i) {
    const chat_message& m = req.messages[i];
    std::string at = "messages[" + std::to_string(i) + "]";
    if (m.role == "system") {
      system += (system.empty() ? "" : "\n\n") + m.content;
    } else if (m.role == "user") {
      append_turn(contents, "user", json::array({{{"text", m.content}}}));
    } else if (m.role == "assistant") {
      json parts = json::array();
      if (!m.content.empty()) parts.push_back({{"text", m.content}});
      for (size_t c = 0; c < m.tool_calls.size(); ++c) {
        const tool_call& call = m.tool_calls[c];
        std::string what = at + ".tool_calls[" + std::to_string(c) + "].arguments_json";
        json args = call.arguments_json.empty() ? json::object()
                                                : request_object(call.arguments_json, what);
        json fn = {{"name", call.name}, {"args", std::move(args)}};
        parts.push_back({{"functionCall", std::move(fn)}});
        call_names[call.id] = call.name;
      }
      if (parts.empty()) continue;
      append_turn(contents, "model", std::move(parts));
    } else if (m.role == "tool") {
      std::string name = m.name;
      if (name.empty()) {
        auto it = call_names.find(m.tool_call_id);
        if (it != call_names.end()) name = it->second;
      }
      if (name.empty()) {
        throw std::invalid_argument(at +
                                    ": a tool message needs the tool's name (name, or a "
                                    "tool_call_id answering an earlier assistant tool call)");
      }
      json result = json::parse(m.content, nullptr, false);
      if (result.is_discarded() || !result.is_object()) result = {{"content", m.content}};
      append_turn(
          contents, "user",
          json::array({{{"functionResponse", {{"name", name}, {"response", std::move(result)}}}}}));
    } else {
      throw std::invalid_argument(at + ".role must be system, user, assistant or tool, got \"" +
                                  m.role + "\"");
    }
  }

  json body = {{"contents", std::move(contents)}};
  if (!system.empty()) body["systemInstruction"] = {{"parts", json::array({{{"text", system}}})}};
  json generation = {{"maxOutputTokens", req.max_tokens}};
  if (req.temperature >= 0) generation["temperature"] = req.temperature;
  if (req.top_p >= 0) generation["topP"] = req.top_p;
  if (!req.stop.empty()) generation["stopSequences"] = req.stop;
  if (req.json_mode) generation["responseMimeType"] = "application/json";
  if (req.logprobs) {
    generation["responseLogprobs"] = true;
    if (req.top_logprobs > 0) generation["logprobs"] = req.top_logprobs;
  }
  body["generationConfig"] = std::move(generation);
  if (!req.tools.empty()) {
    json declarations = json::array();
    for (size_t i = 0; i < req.tools.size(); ++i) {
      const tool_definition& tool = req.tools[i];
      if (tool.name.empty()) {
        throw std::invalid_argument("tools[" + std::to_string(i) + "].name must not be empty");
      }
      json d = {{"name", tool.name}};
      if (!tool.description.empty()) d["description"] = tool.description;
      if (!tool.parameters_json.empty()) {
        d["parameters"] = request_object(tool.parameters_json,
                                          "tools[" + std::to_string(i) + "].parameters_json");
      }
      declarations.push_back(std::move(d));
    }
    body["tools"] = json::array({{{"functionDeclarations", std::move(declarations)}}});
  }
  if (!req.tool_choice.empty()) {
    json config;
    if (req.tool_choice == "auto") {
      config = {{"mode", "AUTO"}};
    } else if (req.tool_choice == "none") {
      config = {{"mode", "NONE"}};
    } else if (req.tool_choice == "required") {
      config = {{"mode", "ANY"}};
    } else {
      config = {{"mode", "ANY"}, {"allowedFunctionNames", json::array({req.tool_choice})}};
    }
    body["toolConfig"] = {{"functionCallingConfig", std::move(config)}};
  }

  http_request out;
  out.method = "POST";
  // alt=sse makes the stream server-sent events instead of one long JSON array.
  out.target = "/models/" + path_segment(model.wire_name()) +
               (req.stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
  out.headers.emplace_back("Content-Type", "application/json");
  out.headers.emplace_back("Accept", req.stream ? "text/event-stream" : "application/json");
  if (!api_key.empty()) out.headers.emplace_back("x-goog-api-key", api_key);
  for (const auto& header : provider.headers) out.headers.push_back(header);
  out.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return out;
}

static model_response parse_unredacted(int http_status, const http_headers& headers,
                                       const std::string& body, const model_config& model,
                                       const std::string& api_key) {
  if (http_status < 200 || http_status > 299) {
    model_error e = classify_http_error(wire_format::gemini, http_status, headers, body);
    return failed_response(e.kind, redacted(e.message, api_key), e.retry_after_ms);
  }
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return failed_response("bad_response",
                           "gemini: response is not a JSON object: " + body_excerpt(body));
  }
  if (doc.contains("error")) {
    model_error e = classify_http_error(wire_format::gemini, http_status, headers, body);
    if (e.kind == "bad_response") e.kind = "server_error";
    return failed_response(e.kind, redacted(e.message, api_key), e.retry_after_ms);
  }
  try {
    auto candidates = doc.find("candidates");
    if (candidates == doc.end() || !candidates->is_array() || candidates->empty()) {
      std::string blocked;
      if (auto feedback = doc.find("promptFeedback"); feedback != doc.end()) {
        blocked = string_field(*feedback, "blockReason");
      }
      if (!blocked.empty()) {
        return failed_response("content_filter",
                               "gemini: the prompt was blocked (blockReason " + blocked + ")");
      }
      return failed_response("bad_response",
                             "gemini: response has no candidates: " + body_excerpt(body));
    }
    const json& candidate = (*candidates)[0];
    if (!candidate.is_object()) {
      return failed_response("bad_response", "gemini: candidates[0] is not an object");
    }
    std::string reason = string_field(candidate, "finishReason");
    if (reason == "MALFORMED_FUNCTION_CALL") {
      return failed_response("bad_response",
                             "gemini: the model produced a malformed function call (" +
                                 string_field(candidate, "finishMessage") + ")");
    }
    model_response out;
    if (auto content = candidate.find("content");
        content != candidate.end() && content->is_object()) {
      auto parts = content->find("parts");
      if (parts != content->end() && parts->is_array()) {
        for (const json& part : *parts) {
          if (!part.is_object()) continue;
          if (part.contains("functionCall")) {
            const json& fn = part["functionCall"];
            tool_call call;
            call.name = string_field(fn, "name");
            if (call.name.empty()) {
              return failed_response("bad_response", "gemini: a functionCall has no name");
            }
            call.id = string_field(fn, "id");
            if (call.id.empty()) call.id = "call_" + std::to_string(out.tool_calls.size());
            call.arguments_json =
                canonical_arguments(fn.contains("args") ? fn["args"] : json(), call.name);
            out.tool_calls.push_back(std::move(call));
          } else if (part.contains("text") &&
                     !(part.contains("thought") && part["thought"] == true)) {
            out.text += string_field(part, "text");
          }
        }
      }
    }
    out.finish_reason = reason.empty() ? "stop" : normalise_finish_reason(reason);
    if (!out.tool_calls.empty() && out.finish_reason == "stop") out.finish_reason = "tool_calls";
    if (out.finish_reason == "content_filter" && out.text.empty() && out.tool_calls.empty()) {
      return failed_response("content_filter",
                             "gemini: the reply was blocked (finishReason " + reason + ")");
    }
    append_logprobs(candidate, out.logprobs);
    json usage = doc.contains("usageMetadata") ? doc["usageMetadata"] : json();
    // Thinking tokens are billed as output.
    set_usage(
        out, model, count_field(usage, "promptTokenCount"),
        count_field(usage, "candidatesTokenCount") + count_field(usage, "thoughtsTokenCount"));
    return out;
  } catch (const wire_error& e) {
    return failed_response(e.kind(), std::string("gemini: ") + e.what());
  } catch (const json::exception& e) {
    return failed_response("bad_response",
                           std::string("gemini: unexpected response shape: ") + e.what());
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

}  // namespace switchyard::gemini_adapter
