#pragma once
// OpenAI-compatible chat completions (POST <base>/chat/completions): OpenAI, vLLM,
// Ollama, llama.cpp server, OpenRouter, LiteLLM, and Azure OpenAI when the provider
// sets api_version (then `?api-version=` on the target and the key in `api-key`).
//
// Canonical -> wire: system/user/assistant/tool messages map one to one; assistant
// tool calls carry their arguments as a JSON *string*; tools become
// {"type":"function","function":{...}}; json_mode is response_format json_object;
// stream asks for usage in the last chunk (stream_options.include_usage).
// Wire -> canonical: arguments strings are parsed and re-serialised canonically.
// Pure functions, thread-safe.

#include <nlohmann/json.hpp>
#include <string>

#include "router/providers/http_types.hpp"
#include "runtime/config.hpp"
#include "runtime/messages.hpp"

namespace switchyard::openai_adapter {

/// The request for `req` to `model` on `provider`. An empty `api_key` sends no
/// authorization header (local servers). Throws std::invalid_argument naming the
/// problem when `req` cannot be expressed (unknown role, a tool message without
/// tool_call_id, tool parameters or arguments that are not JSON objects).
http_request build_request(const model_request& req, const model_config& model,
                           const provider_config& provider, const std::string& api_key);

/// The request body as an nlohmann document, whose dump build_request's body equals
/// byte for byte (build_request writes the text directly: a DOM costs several times
/// more). Used for text that is not valid UTF-8, and by tests as the reference.
nlohmann::json request_body_dom(const model_request& req, const model_config& model);

/// The canonical response for a complete (non-streamed) reply. Never throws: a
/// non-2xx status, an error object, or a body of unexpected shape becomes
/// `error` (see error_mapping.hpp). Usage and cost come from the body's usage and
/// the catalog prices. The caller sets call_id and latency. When `api_key` is
/// given it is redacted from any error message.
model_response parse_response(int http_status, const http_headers& headers, const std::string& body,
                              const model_config& model, const std::string& api_key = "");

/// "stop", "length", "tool_calls", "content_filter" from OpenAI's finish_reason
/// ("function_call" counts as tool_calls); unknown values pass through lower-cased.
std::string normalise_finish_reason(const std::string& reason);

/// A POST of `body` to `path` under the provider's base URL with OpenAI's headers:
/// Bearer key, or Azure's api-key header and api-version query when api_version is set;
/// then the provider's own headers. Shared by chat completions and embeddings.
http_request openai_post(const std::string& path, const char* accept,
                         const provider_config& provider, const std::string& api_key,
                         const nlohmann::json& body);

/// The same with the body's text already written.
http_request openai_post(const std::string& path, const char* accept,
                         const provider_config& provider, const std::string& api_key,
                         std::string body);

}  // namespace switchyard::openai_adapter
