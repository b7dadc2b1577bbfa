#pragma once
// Turns a provider's failure (HTTP status, headers, error body) into the one
// model_error kind a router acts on, keeping the provider's own message.
//
// Kinds: rate_limited (with retry_after_ms), overloaded, server_error, timeout,
// connection, auth, bad_request, context_length, content_filter, bad_response.
// `timeout` and `connection` come mostly from the transport (make_error); a 408/504
// from the server maps to timeout too. Pure functions, thread-safe.

#include <chrono>
#include <cstdint>
#include <string>

#include "router/providers/http_types.hpp"
#include "runtime/messages.hpp"

namespace switchyard {

/// The wire formats an adapter speaks; they differ in error bodies and hints.
enum class wire_format { openai, anthropic, gemini };

/// "openai", "anthropic", "gemini".
std::string to_string(wire_format x);

/// A model_error of `kind` with `message` and an optional retry hint.
model_error make_error(std::string kind, std::string message, uint32_t retry_after_ms = 0);

/// Milliseconds to wait from a Retry-After value: delta-seconds ("30", "1.5") or an
/// HTTP date (IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT") relative to `now`.
/// 0 when absent, unparseable or in the past. Capped at one hour.
uint32_t retry_after_ms_from(const std::string& value, std::chrono::system_clock::time_point now);

/// Milliseconds in a duration text as providers write them: "1s", "6m0s", "20ms",
/// "1h2m3.5s" (OpenAI x-ratelimit-reset-*), "30s" / "1.5s" (Gemini retryDelay).
/// 0 when unparseable.
uint32_t duration_text_ms(const std::string& text);

/// Maps a non-2xx response (or a 2xx whose body is an error object) to an error.
/// Retry hints are read, in order, from Retry-After, retry-after-ms, the provider's
/// reset headers (OpenAI x-ratelimit-reset-requests/-tokens, Anthropic
/// anthropic-ratelimit-*-reset) and the body (Gemini RetryInfo.retryDelay).
/// The message is "HTTP <status> <provider type/code>: <provider message>", with the
/// raw body (cut to 300 bytes) when it is not a recognised error object.
model_error classify_http_error(wire_format format, int status, const http_headers& headers,
                                const std::string& body, std::chrono::system_clock::time_point now);

/// The same at the current system time.
model_error classify_http_error(wire_format format, int status, const http_headers& headers,
                                const std::string& body);

/// True when `message` (any provider, lower or mixed case) says the prompt does not fit
/// the model's context window.
bool is_context_overflow_message(const std::string& message);

/// Replaces every occurrence of `secret` in `text` with "[redacted]". A no-op for an
/// empty secret. Used on every error message an adapter makes, in case a provider
/// echoes the key back.
void redact_secret(std::string& text, const std::string& secret);

/// A copy of `text` with `secret` redacted.
std::string redacted(std::string text, const std::string& secret);

}  // namespace switchyard
