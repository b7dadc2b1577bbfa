#pragma once
// Parsing and validation of an OpenAI chat completions request body into the canonical
// model_request. Every problem is a 400 naming the field ("messages[1].role"), never an
// exception. Pure functions: no I/O, no CAF; thread-safe.
//
// `model` chooses how the router works: "auto" lets it decide, a tier name ("mid")
// pins the tier, a catalog model id pins the model; anything else is 404
// model_not_found, as OpenAI answers.

#include <string>
#include <string_view>

#include "gateway/api_error.hpp"
#include "runtime/config.hpp"
#include "runtime/messages.hpp"

namespace switchyard::gateway {

struct chat_request {
  model_request call;           // model or tier set from `model`
  std::string requested_model;  // as the client wrote it ("auto", a tier, a model id)
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

/// Parses `body`. `default_max_tokens` applies when neither max_tokens nor
/// max_completion_tokens is given. On error the result is not ok() and `out` is
/// unspecified.
api_error parse_chat_request(std::string_view body, const config& cfg, uint32_t default_max_tokens,
                             chat_request& out);

/// The same through a full nlohmann DOM only. parse_chat_request reads the common
/// shape of body in one SAX pass and hands everything else (and every error) to this;
/// exposed so tests and the fuzzer can check both paths give the same result.
api_error parse_chat_request_dom(std::string_view body, const config& cfg,
                                 uint32_t default_max_tokens, chat_request& out);

}  // namespace switchyard::gateway
