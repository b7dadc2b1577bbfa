#pragma once
// The openai adapter's reply parser as it was before the SAX pass (a full nlohmann DOM),
// kept for fuzz_openai_response to compare against: the SAX parser must give the same
// result (text, tool calls, finish reason, logprobs, usage, error kind and message) for
// every input.

#include <nlohmann/json.hpp>
#include <string>

#include "router/providers/error_mapping.hpp"
#include "router/providers/openai_adapter.hpp"
#include "router/providers/wire_json.hpp"

namespace switchyard::fuzz {

using json = nlohmann::json;

inline model_response parse_with_dom(int http_status, const http_headers& headers,
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
    out.finish_reason = openai_adapter::normalise_finish_reason(string_field(choice, "finish_reason"));
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

}  // namespace switchyard::fuzz
