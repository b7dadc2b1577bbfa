#pragma once
// Helpers the wire adapters share: JSON reading with clear errors, canonical tool
// arguments, usage and cost. Internal to router/providers: exceptions thrown here
// (wire_error) are caught by the adapters and never leave the module.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "runtime/config.hpp"
#include "runtime/messages.hpp"

namespace switchyard {

/// A failure while building or reading a wire document; `kind` is a model_error kind.
class wire_error : public std::runtime_error {
 public:
  wire_error(std::string kind, const std::string& message)
      : std::runtime_error(message), kind_(std::move(kind)) {}
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
};

/// Parses `text` as a JSON object; throws wire_error(`kind`) naming `what` otherwise.
nlohmann::json parse_object_text(const std::string& text, const std::string& what,
                                 const std::string& kind);

/// For building requests: parses `text` (a caller's tool schema or arguments) as a JSON
/// object; throws std::invalid_argument naming `what` otherwise, which the adapters
/// report as bad_request.
nlohmann::json request_object(const std::string& text, const std::string& what);

/// Canonical text of a tool call's arguments: compact, keys sorted. An empty string
/// (some servers send it for a call without arguments) is "{}". Throws
/// wire_error("bad_response") when `text` is not a JSON object.
std::string canonical_arguments_text(const std::string& text, const std::string& tool_name);

/// Canonical text of an arguments object received as JSON (Anthropic, Gemini).
std::string canonical_arguments(const nlohmann::json& args, const std::string& tool_name);

/// Fills usage (model id, tier, tokens, cost at catalog prices) on `response`.
void set_usage(model_response& response, const model_config& model, uint64_t input_tokens,
               uint64_t output_tokens);

/// A non-negative integer field of `obj`, or 0 when absent/null/not a number.
uint64_t count_field(const nlohmann::json& obj, const char* key);

/// `obj[key]` as a string when it is one, else "".
std::string string_field(const nlohmann::json& obj, const char* key);

/// A model_response that failed with `kind` and `message`.
model_response failed_response(const std::string& kind, const std::string& message,
                               uint32_t retry_after_ms = 0);

/// "rejected <what>: <first 200 bytes of body>" style summary for bad_response.
std::string body_excerpt(const std::string& body);

/// Reads `text` as one JSON document and sends its events to `sax` exactly as
/// nlohmann::json::sax_parse would (same calls, same values, in order), with a lexer of
/// its own that costs a fraction of nlohmann's. Returns true when it did so; false when
/// the text is malformed, or has something it leaves to nlohmann (integers beyond 18
/// digits, nesting deeper than 64, a number out of double range): `sax` may then have
/// had some events, so the caller parses again with nlohmann (and a fresh handler),
/// which gives the error its exact message. A handler returning false also gives false.
bool scan_json(std::string_view text, nlohmann::json_sax<nlohmann::json>& sax);

}  // namespace switchyard
