#pragma once
// Gemini generateContent (POST <base>/models/<model>:generateContent), key in the
// x-goog-api-key header (never in the URL, where it would reach access logs).
//
// Canonical -> wire: system messages become systemInstruction; user turns role
// "user", assistant turns role "model" with text and functionCall parts (args as an
// object); tool results become functionResponse parts (response: the result when it
// is a JSON object, else {"content": text}); the tool's name comes from the message,
// or from the assistant call it answers. Same-role neighbours are merged.
// generationConfig carries maxOutputTokens, temperature, topP, stopSequences,
// responseMimeType application/json (json_mode), responseLogprobs / logprobs.
// tool_choice maps to toolConfig.functionCallingConfig (AUTO, NONE, ANY, ANY with
// allowedFunctionNames). A stream request goes to :streamGenerateContent?alt=sse
// (decoded by gemini_stream_decoder in stream_decoder.hpp).
// Wire -> canonical: function calls without an id get "call_<n>" (their position).
// Pure functions, thread-safe.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "router/providers/http_types.hpp"
#include "runtime/config.hpp"
#include "runtime/messages.hpp"

namespace switchyard::gemini_adapter {

/// Appends the token log-probabilities of a candidate (candidates[i].logprobsResult
/// .chosenCandidates) to `out`; entries without a numeric logProbability are skipped.
/// Whole replies and stream chunks carry them in the same shape.
void append_logprobs(const nlohmann::json& candidate, std::vector<token_logprob>& out);

/// See openai_adapter::build_request; same contract.
http_request build_request(const model_request& req, const model_config& model,
                           const provider_config& provider, const std::string& api_key);

/// See openai_adapter::parse_response; same contract. A prompt blocked by safety
/// settings (promptFeedback.blockReason, no candidates) is a content_filter error;
/// MALFORMED_FUNCTION_CALL is bad_response.
model_response parse_response(int http_status, const http_headers& headers, const std::string& body,
                              const model_config& model, const std::string& api_key = "");

/// STOP -> stop; MAX_TOKENS -> length; SAFETY, RECITATION, BLOCKLIST,
/// PROHIBITED_CONTENT, SPII, IMAGE_SAFETY -> content_filter; others lower-cased.
std::string normalise_finish_reason(const std::string& reason);

}  // namespace switchyard::gemini_adapter
