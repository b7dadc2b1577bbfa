#pragma once
// One entry point over the wire adapters, chosen by the provider's kind (openai,
// anthropic, gemini): what the transport calls. Errors are values here; nothing
// throws. Thread-safe.

#include <memory>
#include <string>

#include "router/providers/http_types.hpp"
#include "router/providers/stream_decoder.hpp"
#include "runtime/config.hpp"
#include "runtime/messages.hpp"

namespace switchyard {

/// A request ready to send, or why it cannot be built (kind bad_request, e.g. an
/// unknown role or tool parameters that are not a JSON object).
struct built_request {
  http_request request;
  model_error error;

  bool ok() const { return error.ok(); }
};

/// Builds the request for `req` on `provider` (kind openai, anthropic or gemini).
/// A sim or unknown kind is a bad_request error.
built_request build_provider_request(const model_request& req, const model_config& model,
                                     const provider_config& provider, const std::string& api_key);

/// Parses a complete reply from `provider`; sets call_id from `req_call_id`.
model_response parse_provider_response(const provider_config& provider, int http_status,
                                       const http_headers& headers, const std::string& body,
                                       const model_config& model, const std::string& call_id,
                                       const std::string& api_key);

/// True when a request with stream = true gets an SSE reply from this kind
/// (openai, anthropic, gemini).
bool provider_streams(const provider_config& provider);

/// A decoder for a streamed reply from `provider`, or nullptr when it does not stream.
std::unique_ptr<stream_decoder> make_stream_decoder(const provider_config& provider,
                                                    const std::string& call_id,
                                                    const model_config& model,
                                                    const std::string& api_key);

/// "POST /chat/completions, headers: Authorization: [redacted], ..." with every
/// credential header (Authorization, api-key, x-api-key, x-goog-api-key) masked and
/// the body left out: the one way to put a request in a log.
std::string describe_for_log(const http_request& request);

}  // namespace switchyard
