#include "router/providers/http_provider.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace switchyard {

using json = nlohmann::json;

bool is_http_kind(const std::string& kind) {
  return kind == "openai" || kind == "anthropic" || kind == "gemini";
}

std::optional<http_provider> make_http_provider(const provider_config& cfg, std::string& error) {
  http_provider p;
  p.name = cfg.name;
  p.kind = cfg.kind;
  std::string problem;
  auto ep = parse_http_url(cfg.base_url, problem);
  if (!ep) {
    error = fmt::format("provider '{}': base_url {}", cfg.name, problem);
    return std::nullopt;
  }
  p.endpoint = *ep;
  p.timeouts = {cfg.connect_timeout_ms, cfg.first_byte_timeout_ms, cfg.total_timeout_ms};
  if (!cfg.api_key_env.empty()) {
    const char* key = std::getenv(cfg.api_key_env.c_str());
    if (key == nullptr || *key == '\0')
      p.unusable = fmt::format(
          "provider '{}': environment variable {} (named by api_key_env) is not set or empty",
          cfg.name, cfg.api_key_env);
    else
      p.api_key = key;
  }
  return p;
}

// -- requests -------------------------------------------------------------------------

namespace {

json openai_body(const model_config& model, const model_request& req) {
  json messages = json::array();
  for (const auto& m : req.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
  return {{"model", model.id}, {"messages", messages}, {"max_tokens", req.max_tokens}};
}

json anthropic_body(const model_config& model, const model_request& req) {
  std::string system;
  json messages = json::array();
  for (const auto& m : req.messages) {
    if (m.role == "system") {
      system += (system.empty() ? "" : "\n\n") + m.content;
      continue;
    }
    // Anthropic has only user and assistant turns; a text tool result is a user turn.
    messages.push_back({{"role", m.role == "assistant" ? "assistant" : "user"},
                        {"content", m.content}});
  }
  json body = {{"model", model.id}, {"max_tokens", req.max_tokens}, {"messages", messages}};
  if (!system.empty()) body["system"] = system;
  return body;
}

json gemini_body(const model_request& req) {
  std::string system;
  json contents = json::array();
  for (const auto& m : req.messages) {
    if (m.role == "system") {
      system += (system.empty() ? "" : "\n\n") + m.content;
      continue;
    }
    contents.push_back({{"role", m.role == "assistant" ? "model" : "user"},
                        {"parts", json::array({{{"text", m.content}}})}});
  }
  json body = {{"contents", contents}, {"generationConfig", {{"maxOutputTokens", req.max_tokens}}}};
  if (!system.empty()) body["systemInstruction"] = {{"parts", json::array({{{"text", system}}})}};
  return body;
}

}  // namespace

http_outgoing build_http_call(const http_provider& provider, const model_config& model,
                              const model_request& req) {
  http_outgoing out;
  out.method = "POST";
  out.headers.emplace_back("Content-Type", "application/json");
  if (provider.kind == "anthropic") {
    out.target = "/messages";
    out.body = anthropic_body(model, req).dump();
    out.headers.emplace_back("anthropic-version", "2023-06-01");
    if (!provider.api_key.empty()) out.headers.emplace_back("x-api-key", provider.api_key);
  } else if (provider.kind == "gemini") {
    out.target = "/models/" + model.id + ":generateContent";
    out.body = gemini_body(req).dump();
    if (!provider.api_key.empty()) out.headers.emplace_back("x-goog-api-key", provider.api_key);
  } else {
    out.target = "/chat/completions";
    out.body = openai_body(model, req).dump();
    if (!provider.api_key.empty())
      out.headers.emplace_back("Authorization", "Bearer " + provider.api_key);
  }
  return out;
}

// -- replies ----------------------------------------------------------------------------

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The provider's own error message and type/code, whatever the format.
struct provider_error {
  std::string message;
  std::string type;  // openai type/code, anthropic error.type, gemini status
};

std::optional<provider_error> error_in(const json& body) {
  if (!body.is_object() || !body.contains("error")) return std::nullopt;
  const auto& e = body["error"];
  provider_error out;
  if (e.is_string()) {
    out.message = e.get<std::string>();
    return out;
  }
  if (!e.is_object()) return out;
  if (e.contains("message") && e["message"].is_string()) out.message = e["message"];
  for (const char* key : {"code", "type", "status"}) {
    if (e.contains(key) && e[key].is_string()) out.type += (out.type.empty() ? "" : " ") + e[key].get<std::string>();
  }
  return out;
}

std::string excerpt(const std::string& body) {
  auto s = body.substr(0, 200);
  for (auto& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return body.size() > 200 ? s + "..." : s;
}

bool mentions_context_length(const provider_error& e) {
  auto text = lower(e.message + " " + e.type);
  return text.find("context_length") != std::string::npos ||
         text.find("context length") != std::string::npos ||
         text.find("prompt is too long") != std::string::npos ||
         text.find("exceeds the maximum number of tokens") != std::string::npos ||
         text.find("maximum context") != std::string::npos;
}

uint32_t retry_after_ms(const http_result& r) {
  if (const auto* ms = r.header("retry-after-ms")) return static_cast<uint32_t>(std::atof(ms->c_str()));
  if (const auto* s = r.header("retry-after")) {
    char* end = nullptr;
    double secs = std::strtod(s->c_str(), &end);
    if (end != s->c_str() && secs >= 0) return static_cast<uint32_t>(secs * 1000);
  }
  return 0;
}

// An error object found inside a 200 (or a status without its usual meaning).
std::string kind_of_error_type(const std::string& type) {
  auto t = lower(type);
  if (t.find("rate_limit") != std::string::npos || t.find("resource_exhausted") != std::string::npos)
    return "rate_limited";
  if (t.find("overloaded") != std::string::npos || t.find("unavailable") != std::string::npos)
    return "overloaded";
  if (t.find("authentication") != std::string::npos || t.find("invalid_api_key") != std::string::npos ||
      t.find("permission") != std::string::npos || t.find("unauthenticated") != std::string::npos)
    return "auth";
  if (t.find("invalid_request") != std::string::npos || t.find("invalid_argument") != std::string::npos)
    return "bad_request";
  return "server_error";
}

std::string kind_of_status(unsigned status, const provider_error& e) {
  if (status == 429) return "rate_limited";
  if (status == 401 || status == 403) return "auth";
  if (status == 408) return "timeout";
  if (status == 413) return "context_length";
  if (status == 503 || status == 529) return "overloaded";
  if (status >= 500) return "server_error";
  if (status == 400 || status == 404 || status == 409 || status == 422)
    return mentions_context_length(e) ? "context_length" : "bad_request";
  return "bad_response";
}

std::string normal_finish(const std::string& kind, const std::string& raw) {
  if (kind == "anthropic") {
    if (raw == "max_tokens") return "length";
    if (raw == "tool_use") return "tool_calls";
    return "stop";
  }
  if (kind == "gemini") {
    if (raw == "MAX_TOKENS") return "length";
    if (raw == "SAFETY" || raw == "RECITATION" || raw == "PROHIBITED_CONTENT") return "content_filter";
    return "stop";
  }
  return raw.empty() ? "stop" : raw;
}

uint32_t count(const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number_unsigned()) return 0;
  return obj[key].get<uint32_t>();
}

}  // namespace

model_response read_http_reply(const http_provider& provider, const http_result& r) {
  model_response out;
  auto fail = [&](std::string kind, std::string message) {
    out.error.kind = std::move(kind);
    out.error.message = fmt::format("provider '{}': {}", provider.name, message);
    return out;
  };
  if (!r.ok()) return fail(r.failure.kind, r.failure.message);

  json body = json::parse(r.body, nullptr, false);
  auto perr = body.is_discarded() ? std::nullopt : error_in(body);
  if (body.is_object() && body.value("type", "") == "error" && !perr) perr = provider_error{};

  if (r.status < 200 || r.status >= 300) {
    provider_error e = perr ? *perr : provider_error{excerpt(r.body), ""};
    auto kind = kind_of_status(r.status, e);
    fail(kind, fmt::format("HTTP {}: {}", r.status, e.message.empty() ? excerpt(r.body) : e.message));
    if (kind == "rate_limited") out.error.retry_after_ms = retry_after_ms(r);
    return out;
  }
  if (body.is_discarded())
    return fail("bad_response", fmt::format("unparseable JSON body: {}", excerpt(r.body)));
  if (perr)
    return fail(mentions_context_length(*perr) ? "context_length" : kind_of_error_type(perr->type),
                fmt::format("error inside a 200 response: {}", perr->message));

  try {
    if (provider.kind == "anthropic") {
      for (const auto& block : body.at("content"))
        if (block.value("type", "") == "text") out.text += block.at("text").get<std::string>();
      out.finish_reason = normal_finish("anthropic", body.value("stop_reason", ""));
      out.usage.input_tokens = count(body.value("usage", json{}), "input_tokens");
      out.usage.output_tokens = count(body.value("usage", json{}), "output_tokens");
    } else if (provider.kind == "gemini") {
      const auto& cand = body.at("candidates").at(0);
      for (const auto& part : cand.at("content").at("parts"))
        if (part.contains("text")) out.text += part["text"].get<std::string>();
      out.finish_reason = normal_finish("gemini", cand.value("finishReason", ""));
      const auto usage = body.value("usageMetadata", json{});
      out.usage.input_tokens = count(usage, "promptTokenCount");
      out.usage.output_tokens = count(usage, "candidatesTokenCount");
    } else {
      const auto& choice = body.at("choices").at(0);
      const auto& content = choice.at("message").at("content");
      if (content.is_string()) out.text = content.get<std::string>();
      out.finish_reason = normal_finish("openai", choice.value("finish_reason", ""));
      out.usage.input_tokens = count(body.value("usage", json{}), "prompt_tokens");
      out.usage.output_tokens = count(body.value("usage", json{}), "completion_tokens");
    }
  } catch (const json::exception& e) {
    return fail("bad_response", fmt::format("response lacks the expected fields ({}): {}",
                                            e.what(), excerpt(r.body)));
  }
  if (out.finish_reason == "content_filter" && out.text.empty())
    return fail("content_filter", "the provider withheld the answer (content filter)");
  return out;
}

}  // namespace switchyard
