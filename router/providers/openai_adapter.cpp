#include "router/providers/openai_adapter.hpp"

#include <cctype>
#include <stdexcept>

#include "router/providers/error_mapping.hpp"
#include "router/providers/wire_json.hpp"

namespace switchyard::openai_adapter {

namespace {

using json = nlohmann::json;

json wire_message(const chat_message& m, size_t index) {
  std::string at = "messages[" + std::to_string(index) + "]";
  if (m.role == "system" || m.role == "user") {
    return {{"role", m.role}, {"content", m.content}};
  }
  if (m.role == "assistant") {
    json out = {{"role", "assistant"}};
    if (m.tool_calls.empty()) {
      out["content"] = m.content;
      return out;
    }
    // With tool calls and no text, OpenAI expects content null rather than "".
    out["content"] = m.content.empty() ? json(nullptr) : json(m.content);
    json calls = json::array();
    for (size_t i = 0; i < m.tool_calls.size(); ++i) {
      const tool_call& call = m.tool_calls[i];
      std::string what = at + ".tool_calls[" + std::to_string(i) + "].arguments_json";
      json args =
          call.arguments_json.empty() ? json::object() : request_object(call.arguments_json, what);
      calls.push_back({{"id", call.id},
                       {"type", "function"},
                       {"function", {{"name", call.name}, {"arguments", args.dump()}}}});
    }
    out["tool_calls"] = std::move(calls);
    return out;
  }
  if (m.role == "tool") {
    if (m.tool_call_id.empty()) {
      throw std::invalid_argument(at + ": a tool message needs tool_call_id");
    }
    return {{"role", "tool"}, {"tool_call_id", m.tool_call_id}, {"content", m.content}};
  }
  throw std::invalid_argument(at + ".role must be system, user, assistant or tool, got \"" +
                              m.role + "\"");
}

json tool_choice_value(const std::string& choice) {
  if (choice == "auto" || choice == "none" || choice == "required") return choice;
  return {{"type", "function"}, {"function", {{"name", choice}}}};
}

}  // namespace

std::string normalise_finish_reason(const std::string& reason) {
  if (reason == "function_call") return "tool_calls";
  std::string out;
  for (char c : reason) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

http_request build_request(const model_request& req, const model_config& model,
                           const provider_config& provider, const std::string& api_key) {
  json body = {{"model", model.wire_name()}, {"max_tokens", req.max_tokens}};
  json messages = json::array();
  for (size_t i = 0; i < req.messages.size(); ++i)
    messages.push_back(wire_message(req.messages[i], i));
  body["messages"] = std::move(messages);
  if (req.temperature >= 0) body["temperature"] = req.temperature;
  if (req.top_p >= 0) body["top_p"] = req.top_p;
  if (!req.stop.empty()) body["stop"] = req.stop;
  if (req.json_mode) body["response_format"] = {{"type", "json_object"}};
  if (req.logprobs) {
    body["logprobs"] = true;
    if (req.top_logprobs > 0) body["top_logprobs"] = req.top_logprobs;
  }
  if (!req.tools.empty()) {
    json tools = json::array();
    for (size_t i = 0; i < req.tools.size(); ++i) {
      const tool_definition& tool = req.tools[i];
      if (tool.name.empty()) {
        throw std::invalid_argument("tools[" + std::to_string(i) + "].name must not be empty");
      }
      json fn = {{"name", tool.name}};
      if (!tool.description.empty()) fn["description"] = tool.description;
      fn["parameters"] = tool.parameters_json.empty()
                             ? json{{"type", "object"}, {"properties", json::object()}}
                             : request_object(tool.parameters_json,
                                               "tools[" + std::to_string(i) + "].parameters_json");
      tools.push_back({{"type", "function"}, {"function", std::move(fn)}});
    }
    body["tools"] = std::move(tools);
  }
  if (!req.tool_choice.empty()) body["tool_choice"] = tool_choice_value(req.tool_choice);
  if (req.stream) {
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
  }

  return openai_post("/chat/completions", req.stream ? "text/event-stream" : "application/json",
                     provider, api_key, body);
}

http_request openai_post(const std::string& path, const char* accept,
                         const provider_config& provider, const std::string& api_key,
                         const json& body) {
  http_request out;
  out.method = "POST";
  out.target = path;
  bool azure = !provider.api_version.empty();
  if (azure) out.target += "?api-version=" + provider.api_version;
  out.headers.emplace_back("Content-Type", "application/json");
  out.headers.emplace_back("Accept", accept);
  if (!api_key.empty()) {
    if (azure) {
      out.headers.emplace_back("api-key", api_key);
    } else {
      out.headers.emplace_back("Authorization", "Bearer " + api_key);
    }
  }
  for (const auto& header : provider.headers) out.headers.push_back(header);
  out.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return out;
}

static model_response parse_unredacted(int http_status, const http_headers& headers,
                                       const std::string& body, const model_config& model,
                                       const std::string& api_key) {
  if (http_status < 200 || http_status > 299) {
    model_error e = classify_http_error(wire_format::openai, http_status, headers, body);
    return failed_response(e.kind, redacted(e.message, api_key), e.retry_after_ms);
  }
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return failed_response("bad_response",
                           "openai: response is not a JSON object: " + body_excerpt(body));
  }
  if (doc.contains("error") && !doc["error"].is_null()) {
    // OpenRouter and some proxies report upstream failures inside a 200.
    model_error e = classify_http_error(wire_format::openai, http_status, headers, body);
    if (e.kind == "bad_response") e.kind = "server_error";
    return failed_response(e.kind, redacted(e.message, api_key), e.retry_after_ms);
  }
  try {
    auto choices = doc.find("choices");
    if (choices == doc.end() || !choices->is_array() || choices->empty() ||
        !(*choices)[0].is_object()) {
      return failed_response("bad_response",
                             "openai: response has no choices: " + body_excerpt(body));
    }
    const json& choice = (*choices)[0];
    auto message = choice.find("message");
    if (message == choice.end() || !message->is_object()) {
      return failed_response("bad_response",
                             "openai: choices[0] has no message object: " + body_excerpt(body));
    }
    model_response out;
    auto content = message->find("content");
    if (content != message->end() && content->is_string()) out.text = content->get<std::string>();
    auto calls = message->find("tool_calls");
    if (calls != message->end() && calls->is_array()) {
      for (const json& call : *calls) {
        const json* fn = call.contains("function") ? &call["function"] : nullptr;
        if (fn == nullptr || !fn->is_object()) {
          return failed_response("bad_response", "openai: a tool call has no function object");
        }
        tool_call canonical;
        canonical.id = string_field(call, "id");
        canonical.name = string_field(*fn, "name");
        if (canonical.name.empty()) {
          return failed_response("bad_response", "openai: a tool call has no function name");
        }
        auto args = fn->find("arguments");
        if (args != fn->end() && args->is_object()) {
          canonical.arguments_json = canonical_arguments(*args, canonical.name);  // Ollama
        } else {
          canonical.arguments_json = canonical_arguments_text(
              args != fn->end() && args->is_string() ? args->get<std::string>() : "",
              canonical.name);
        }
        out.tool_calls.push_back(std::move(canonical));
      }
    }
    out.finish_reason = normalise_finish_reason(string_field(choice, "finish_reason"));
    // Some servers (Ollama) say "stop" even when the reply is a tool call.
    if (!out.tool_calls.empty() && (out.finish_reason == "stop" || out.finish_reason.empty())) {
      out.finish_reason = "tool_calls";
    }
    if (out.finish_reason.empty()) out.finish_reason = "stop";
    if (auto lp = choice.find("logprobs"); lp != choice.end() && lp->is_object()) {
      auto items = lp->find("content");
      if (items != lp->end() && items->is_array()) {
        for (const json& item : *items) {
          if (!item.is_object()) continue;
          auto value = item.find("logprob");
          if (value == item.end() || !value->is_number()) continue;
          out.logprobs.push_back({string_field(item, "token"), value->get<double>()});
        }
      }
    }
    if (out.finish_reason == "content_filter" && out.text.empty() && out.tool_calls.empty()) {
      return failed_response("content_filter",
                             "openai: the reply was withheld by the provider's content filter");
    }
    json usage = doc.contains("usage") ? doc["usage"] : json();
    set_usage(out, model, count_field(usage, "prompt_tokens"),
              count_field(usage, "completion_tokens"));
    return out;
  } catch (const wire_error& e) {
    return failed_response(e.kind(), std::string("openai: ") + e.what());
  } catch (const json::exception& e) {
    return failed_response("bad_response",
                           std::string("openai: unexpected response shape: ") + e.what());
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

}  // namespace switchyard::openai_adapter
