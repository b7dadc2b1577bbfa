#pragma once
// One provider reached over HTTP, as the model service sees it: where it is, its key
// (read from the environment once), its timeouts, and the translation of a call to and
// from its wire format.
//
// SEAM: the translation here is a deliberately minimal text-only version of the wire
// adapters (OpenAI-compatible chat completions, Anthropic Messages, Gemini
// generateContent) so the model service works end to end over HTTP. The full adapters
// (tools, streaming, JSON mode, logprobs) come from the providers branch; when they land,
// build_http_call / read_http_reply delegate to them and keep their signatures.
//
// Plain functions, no CAF, no I/O (except getenv at construction). Thread-safe: the
// model service calls read_http_reply on the HTTP client's thread.

#include <optional>
#include <string>

#include "router/providers/http_client.hpp"
#include "runtime/config.hpp"
#include "runtime/messages.hpp"

namespace switchyard {

struct http_provider {
  std::string name;
  std::string kind;  // openai, anthropic, gemini
  http_endpoint endpoint;
  http_timeouts timeouts;
  std::string api_key;  // never logged, never put in a message
  /// Non-empty when the provider cannot be called (its key variable is unset): every
  /// call fails with kind `auth` and this message, which names the variable only.
  std::string unusable;
};

/// True for the kinds served over HTTP.
bool is_http_kind(const std::string& kind);

/// Builds the provider from its config, reading the key from `api_key_env`. A bad
/// base_url returns nullopt with `error` set; a missing key is not an error here (see
/// `unusable`), so configs with several providers still run on the ones that have keys.
std::optional<http_provider> make_http_provider(const provider_config& cfg, std::string& error);

/// The HTTP request for one call to `model` (target relative to the base URL).
http_outgoing build_http_call(const http_provider& provider, const model_config& model,
                              const model_request& req);

/// What a call produced: text, finish reason ("stop", "length", "tool_calls",
/// "content_filter") and token usage, or a typed error (rate_limited with
/// retry_after_ms, overloaded, server_error, timeout, connection, auth, bad_request,
/// context_length, bad_response) keeping the provider's own message. Only
/// `text`, `finish_reason`, `usage.input_tokens`, `usage.output_tokens` and `error` are
/// set.
model_response read_http_reply(const http_provider& provider, const http_result& result);

}  // namespace switchyard
