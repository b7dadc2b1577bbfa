#pragma once
// OpenAI-compatible embeddings (POST <base>/embeddings), for the router's optional
// external encoder: OpenAI, vLLM, Ollama, llama.cpp server, LiteLLM, Azure (with
// api_version, as in openai_adapter). Floats are asked for explicitly
// (encoding_format "float"). Pure functions, thread-safe.

#include <string>
#include <vector>

#include "router/providers/http_types.hpp"
#include "runtime/config.hpp"
#include "runtime/messages.hpp"

namespace switchyard {

struct embedding_result {
  std::vector<std::vector<float>> vectors;  // one per input, in input order
  model_usage usage;                        // input tokens and cost; no output tokens
  model_error error;

  bool ok() const { return error.ok(); }
};

namespace embeddings_adapter {

/// The request embedding `inputs` (at least one) with `model`. Throws
/// std::invalid_argument when `inputs` is empty.
http_request build_request(const std::vector<std::string>& inputs, const model_config& model,
                           const provider_config& provider, const std::string& api_key);

/// The vectors of a reply to a request of `expected_inputs` inputs. Never throws.
/// bad_response when the body is not the documented shape, the count differs from
/// `expected_inputs`, an index repeats or is out of range, or the vectors' dimensions
/// differ. Non-2xx statuses map as in error_mapping.hpp.
embedding_result parse_response(int http_status, const http_headers& headers,
                                const std::string& body, const model_config& model,
                                size_t expected_inputs, const std::string& api_key = "");

}  // namespace embeddings_adapter
}  // namespace switchyard
