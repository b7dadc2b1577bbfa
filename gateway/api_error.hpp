#pragma once
// Errors the gateway returns, in OpenAI's shape:
//   {"error": {"message": "...", "type": "...", "param": "..." | null, "code": "..." | null}}
// and the mapping from a model call's typed error (runtime/messages.hpp model_error) to
// the HTTP status a client of an OpenAI-compatible API expects. Pure functions.

#include <cstdint>
#include <string>

#include "runtime/messages.hpp"

namespace switchyard::gateway {

struct api_error {
  unsigned status = 0;  // HTTP status; 0: no error
  std::string type;     // invalid_request_error, authentication_error, rate_limit_error, ...
  std::string code;     // machine-readable; empty -> null
  std::string param;    // the request field at fault; empty -> null
  std::string message;
  uint32_t retry_after_s = 0;  // > 0: sent as Retry-After

  bool ok() const { return status == 0; }
};

/// 400 invalid_request_error naming `param` (a JSON path such as "messages[2].role").
api_error invalid_request(std::string param, std::string message,
                          std::string code = "invalid_request");

/// 401 for a missing, unknown or revoked key. The key itself is never echoed.
api_error unauthorized(std::string message);

/// 404 for an unknown path or resource.
api_error not_found(std::string message, std::string code = "not_found");

/// The HTTP status and body fields for a failed model call:
///   rate_limited -> 429 (Retry-After from retry_after_ms), budget_exhausted -> 429
///   insufficient_quota, overloaded / blocked -> 503, timeout -> 504, bad_request ->
///   400, context_length -> 400 context_length_exceeded, content_filter -> 400,
///   no_model -> 400, auth (the provider refused *our* key), server_error,
///   connection, bad_response -> 502. Unknown kinds -> 500.
api_error from_model_error(const model_error& error);

/// The JSON body text.
std::string error_body(const api_error& error);

}  // namespace switchyard::gateway
