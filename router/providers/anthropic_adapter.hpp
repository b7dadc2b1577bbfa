#pragma once
// Anthropic Messages API (POST <base>/v1/messages).
//
// Canonical -> wire: system messages are joined into the top-level `system` field;
// the rest become user/assistant turns of content blocks (text, tool_use with an
// `input` object, tool_result answering a tool_use_id). Consecutive messages that
// land on the same role (several tool results, a tool result then a user turn) are
// merged into one turn, as the API requires alternating roles. json_mode has no wire
// equivalent: an instruction to reply with one JSON object is appended to `system`.
// logprobs are not offered by the API and are ignored. tool_choice: auto, none,
// required -> any, a tool name -> {"type":"tool"}. Headers: x-api-key,
// anthropic-version (provider.api_version).
// Pure functions, thread-safe.

#include <string>

#include "router/providers/http_types.hpp"
#include "runtime/config.hpp"
#include "runtime/messages.hpp"

namespace switchyard::anthropic_adapter {

/// Appended to `system` when json_mode is asked for.
extern const char* const json_mode_instruction;

/// See openai_adapter::build_request; same contract.
http_request build_request(const model_request& req, const model_config& model,
                           const provider_config& provider, const std::string& api_key);

/// See openai_adapter::parse_response; same contract. Input tokens include cache
/// reads and writes (input_tokens + cache_creation_input_tokens +
/// cache_read_input_tokens).
model_response parse_response(int http_status, const http_headers& headers, const std::string& body,
                              const model_config& model, const std::string& api_key = "");

/// end_turn, stop_sequence -> stop; max_tokens -> length; tool_use -> tool_calls;
/// refusal -> content_filter; others pass through.
std::string normalise_stop_reason(const std::string& reason);

}  // namespace switchyard::anthropic_adapter
