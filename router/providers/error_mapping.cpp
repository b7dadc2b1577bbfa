#include "router/providers/error_mapping.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

namespace switchyard {

namespace {

using json = nlohmann::json;

constexpr double max_retry_after_ms = 3600.0 * 1000;
constexpr size_t max_raw_body_shown = 300;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool contains(const std::string& haystack, const char* needle) {
  return haystack.find(needle) != std::string::npos;
}

uint32_t clamp_ms(double ms) {
  if (!std::isfinite(ms) || ms <= 0) return 0;
  return static_cast<uint32_t>(std::ceil(std::min(ms, max_retry_after_ms)));
}

// Milliseconds from `now` until a broken-down UTC time. Computed on time_t, not on
// system_clock time points: a far-future date (year 4060) would overflow the
// nanosecond clock.
double ms_until(std::tm& utc, double fraction_s, std::chrono::system_clock::time_point now) {
  time_t when = timegm(&utc);
  time_t now_s = std::chrono::system_clock::to_time_t(now);
  double now_fraction =
      std::chrono::duration<double>(now - std::chrono::system_clock::from_time_t(now_s)).count();
  return (static_cast<double>(when) - static_cast<double>(now_s) + fraction_s - now_fraction) *
         1000.0;
}

// Milliseconds until an RFC 3339 time, "2024-05-01T12:00:30Z", optionally with
// fractional seconds or an offset (taken as UTC, which is what providers send).
bool rfc3339_ms_until(const std::string& text, std::chrono::system_clock::time_point now,
                      double& out) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) return false;
  double fraction = 0;
  if (*end == '.') fraction = std::atof(end);
  out = ms_until(tm, fraction, now);
  return true;
}

// What an error body says, whatever the provider's shape.
struct provider_error_body {
  bool recognised = false;
  std::string message;
  std::string type;             // OpenAI/Anthropic error.type, Gemini error.status
  std::string code;             // OpenAI error.code, as text
  int numeric_code = 0;         // a status-like code inside the body (Gemini, OpenRouter)
  uint32_t retry_delay_ms = 0;  // Gemini RetryInfo
};

std::string text_of(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_number_integer()) return std::to_string(j.get<int64_t>());
  return "";
}

provider_error_body read_error_body(const std::string& body) {
  provider_error_body out;
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded()) return out;
  // Gemini's stream endpoint wraps its error in an array.
  if (doc.is_array() && !doc.empty()) doc = doc[0];
  if (!doc.is_object()) return out;
  const json* err = &doc;
  auto it = doc.find("error");
  if (it != doc.end()) {
    if (it->is_string()) {  // Ollama: {"error": "message"}
      out.recognised = true;
      out.message = it->get<std::string>();
      return out;
    }
    if (!it->is_object()) return out;
    err = &*it;
  } else if (!doc.contains("message")) {
    return out;  // vLLM's {"object": "error", "message": ...} has a top-level message
  }
  out.recognised = true;
  if (auto m = err->find("message"); m != err->end()) out.message = text_of(*m);
  if (auto t = err->find("type"); t != err->end()) out.type = text_of(*t);
  if (auto s = err->find("status"); s != err->end() && s->is_string()) {
    if (out.type.empty()) out.type = s->get<std::string>();
  }
  if (auto c = err->find("code"); c != err->end()) {
    if (c->is_number_integer()) {
      out.numeric_code = static_cast<int>(c->get<int64_t>());
    } else {
      out.code = text_of(*c);
    }
  }
  if (auto d = err->find("details"); d != err->end() && d->is_array()) {
    for (const auto& detail : *d) {
      if (!detail.is_object()) continue;
      auto delay = detail.find("retryDelay");
      if (delay != detail.end() && delay->is_string()) {
        out.retry_delay_ms = duration_text_ms(delay->get<std::string>());
      }
    }
  }
  return out;
}

// One rate limit's headers: when it resets, and how much of it remains.
struct limit_headers {
  std::string reset;
  std::string remaining;
};

// The reset of whichever limit is exhausted (remaining == "0"); when none says so,
// the soonest reset. Anthropic writes resets as RFC 3339 times, OpenAI as durations.
uint32_t reset_header_ms(const http_headers& headers, const std::vector<limit_headers>& limits,
                         bool rfc3339, std::chrono::system_clock::time_point now) {
  double exhausted = 0, soonest = 0;
  for (const auto& limit : limits) {
    const std::string* reset = find_header(headers, limit.reset);
    if (reset == nullptr) continue;
    double ms = 0;
    if (rfc3339) {
      if (!rfc3339_ms_until(*reset, now, ms)) ms = 0;
    } else {
      ms = duration_text_ms(*reset);
    }
    if (ms <= 0) continue;
    const std::string* remaining = find_header(headers, limit.remaining);
    if (remaining != nullptr && *remaining == "0") exhausted = std::max(exhausted, ms);
    if (soonest == 0 || ms < soonest) soonest = ms;
  }
  return clamp_ms(exhausted > 0 ? exhausted : soonest);
}

uint32_t retry_hint_ms(wire_format format, const http_headers& headers,
                       const provider_error_body& body, std::chrono::system_clock::time_point now) {
  if (const std::string* ms = find_header(headers, "retry-after-ms")) {
    char* end = nullptr;
    double value = std::strtod(ms->c_str(), &end);
    if (end != ms->c_str()) return clamp_ms(value);
  }
  if (const std::string* value = find_header(headers, "retry-after")) {
    if (uint32_t ms = retry_after_ms_from(*value, now)) return ms;
  }
  switch (format) {
    case wire_format::openai:
      return reset_header_ms(headers,
                             {{"x-ratelimit-reset-requests", "x-ratelimit-remaining-requests"},
                              {"x-ratelimit-reset-tokens", "x-ratelimit-remaining-tokens"}},
                             false, now);
    case wire_format::anthropic: {
      std::vector<limit_headers> limits;
      for (const char* name : {"requests", "tokens", "input-tokens", "output-tokens"}) {
        std::string prefix = std::string("anthropic-ratelimit-") + name;
        limits.push_back({prefix + "-reset", prefix + "-remaining"});
      }
      return reset_header_ms(headers, limits, true, now);
    }
    case wire_format::gemini:
      return body.retry_delay_ms;
  }
  return 0;
}

bool is_content_filter_hint(const std::string& type, const std::string& code,
                            const std::string& message) {
  std::string t = lower(type), c = lower(code), m = lower(message);
  return contains(c, "content_filter") || contains(c, "content_policy") ||
         contains(t, "content_filter") || contains(m, "content management policy") ||
         contains(m, "content_filter");
}

// Kind from the provider's own error type or code, or "" when it says nothing we use.
std::string kind_from_type(const std::string& type, const std::string& code) {
  std::string t = lower(type), c = lower(code);
  if (t == "overloaded_error" || t == "unavailable") return "overloaded";
  if (t == "rate_limit_error" || c == "rate_limit_exceeded" || t == "resource_exhausted" ||
      t == "rate_limit_exceeded") {
    return "rate_limited";
  }
  // A spent quota is not cured by waiting a moment: treat it like a key that cannot
  // be used, so the router moves on to another provider.
  if (c == "insufficient_quota" || t == "insufficient_quota") return "auth";
  if (t == "authentication_error" || t == "permission_error" || c == "invalid_api_key" ||
      t == "unauthenticated" || t == "permission_denied" || t == "invalid_api_key") {
    return "auth";
  }
  if (t == "deadline_exceeded" || t == "timeout_error") return "timeout";
  if (t == "api_error" || t == "internal" || t == "server_error") return "server_error";
  if (t == "invalid_request_error" || t == "invalid_argument" || t == "not_found_error" ||
      t == "failed_precondition" || t == "request_too_large" || t == "not_found") {
    return "bad_request";
  }
  return "";
}

std::string kind_from_status(int status) {
  if (status == 429) return "rate_limited";
  if (status == 503 || status == 529) return "overloaded";
  if (status == 408 || status == 504 || status == 524) return "timeout";
  if (status == 401 || status == 403) return "auth";
  if (status >= 500 && status <= 599) return "server_error";
  if (status >= 400 && status <= 499) return "bad_request";
  return "";
}

std::string cut(const std::string& text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t at = limit;
  while (at > 0 && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) --at;
  return text.substr(0, at) + "...";
}

}  // namespace

std::string to_string(wire_format x) {
  switch (x) {
    case wire_format::openai:
      return "openai";
    case wire_format::anthropic:
      return "anthropic";
    case wire_format::gemini:
      return "gemini";
  }
  return "unknown";
}

model_error make_error(std::string kind, std::string message, uint32_t retry_after_ms) {
  model_error e;
  e.kind = std::move(kind);
  e.message = std::move(message);
  e.retry_after_ms = retry_after_ms;
  return e;
}

uint32_t retry_after_ms_from(const std::string& value, std::chrono::system_clock::time_point now) {
  std::string text = value;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0)
    text.pop_back();
  size_t start = text.find_first_not_of(" \t");
  if (start == std::string::npos) return 0;
  text = text.substr(start);
  if (std::isdigit(static_cast<unsigned char>(text[0])) != 0) {
    char* end = nullptr;
    double seconds = std::strtod(text.c_str(), &end);
    if (end == nullptr || *end != '\0') return 0;
    return clamp_ms(seconds * 1000);
  }
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return 0;
  return clamp_ms(ms_until(tm, 0, now));
}

uint32_t duration_text_ms(const std::string& text) {
  double total = 0;
  size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[i])) != 0 || text[i] == '.')) {
      ++i;
    }
    if (i == start) return 0;
    double number = std::atof(text.substr(start, i - start).c_str());
    std::string unit;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i])) != 0) {
      unit += text[i++];
    }
    if (unit == "ms") {
      total += number;
    } else if (unit == "s") {
      total += number * 1000;
    } else if (unit == "m") {
      total += number * 60000;
    } else if (unit == "h") {
      total += number * 3600000;
    } else {
      return 0;
    }
    any = true;
  }
  return any ? clamp_ms(total) : 0;
}

bool is_context_overflow_message(const std::string& message) {
  std::string m = lower(message);
  return contains(m, "context_length_exceeded") ||               // OpenAI code
         contains(m, "maximum context length") ||                // OpenAI, vLLM, OpenRouter
         contains(m, "context length") ||                        // Ollama, LiteLLM
         contains(m, "context window") ||                        // generic
         contains(m, "exceed_context_size") ||                   // llama.cpp server type
         contains(m, "exceeds the available context size") ||    // llama.cpp server
         contains(m, "prompt is too long") ||                    // Anthropic
         contains(m, "input is too long") ||                     // Anthropic, Bedrock
         contains(m, "exceeds the maximum number of tokens") ||  // Gemini
         contains(m, "too many tokens");
}

model_error classify_http_error(wire_format format, int status, const http_headers& headers,
                                const std::string& body,
                                std::chrono::system_clock::time_point now) {
  provider_error_body parsed = read_error_body(body);
  int effective_status = status;
  if (status >= 200 && status <= 299 && parsed.numeric_code >= 400) {
    effective_status = parsed.numeric_code;  // an error object inside a 200
  }

  std::string kind;
  if (is_context_overflow_message(parsed.message) ||
      lower(parsed.code) == "context_length_exceeded" ||
      lower(parsed.type) == "exceed_context_size_error") {
    kind = "context_length";
  } else if (is_content_filter_hint(parsed.type, parsed.code, parsed.message)) {
    kind = "content_filter";
  } else if (contains(lower(parsed.message), "api key not valid") ||
             contains(body, "API_KEY_INVALID")) {
    kind = "auth";  // Gemini answers a bad key with 400 INVALID_ARGUMENT
  } else {
    kind = kind_from_type(parsed.type, parsed.code);
    // A generic "server_error" type says less than a 503 or 504 status (OpenAI sends
    // that type with both): the status's overloaded or timeout is what a router acts on.
    const std::string by_status = kind_from_status(effective_status);
    if (kind.empty() || (kind == "server_error" && (by_status == "overloaded" ||
                                                    by_status == "timeout")))
      kind = by_status;
    if (kind.empty()) kind = "bad_response";
  }

  std::string message = "HTTP " + std::to_string(status);
  if (parsed.recognised) {
    std::string label = !parsed.code.empty() ? parsed.code : parsed.type;
    if (!label.empty()) message += " " + label;
    message += ": " + (parsed.message.empty() ? cut(body, max_raw_body_shown) : parsed.message);
  } else if (!body.empty()) {
    message += ": " + cut(body, max_raw_body_shown);
  }

  uint32_t retry = 0;
  if (kind == "rate_limited" || kind == "overloaded" || kind == "server_error" ||
      kind == "timeout") {
    retry = retry_hint_ms(format, headers, parsed, now);
  }
  return make_error(kind, message, retry);
}

model_error classify_http_error(wire_format format, int status, const http_headers& headers,
                                const std::string& body) {
  return classify_http_error(format, status, headers, body, std::chrono::system_clock::now());
}

void redact_secret(std::string& text, const std::string& secret) {
  if (secret.empty()) return;
  static const std::string replacement = "[redacted]";
  size_t at = 0;
  while ((at = text.find(secret, at)) != std::string::npos) {
    text.replace(at, secret.size(), replacement);
    at += replacement.size();
  }
}

std::string redacted(std::string text, const std::string& secret) {
  redact_secret(text, secret);
  return text;
}

}  // namespace switchyard
