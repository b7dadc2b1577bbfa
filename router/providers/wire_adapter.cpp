#include "router/providers/wire_adapter.hpp"

#include <strings.h>

#include <stdexcept>

#include "router/providers/anthropic_adapter.hpp"
#include "router/providers/error_mapping.hpp"
#include "router/providers/gemini_adapter.hpp"
#include "router/providers/openai_adapter.hpp"

namespace switchyard {

built_request build_provider_request(const model_request& req, const model_config& model,
                                     const provider_config& provider, const std::string& api_key) {
  built_request out;
  try {
    if (provider.kind == "openai") {
      out.request = openai_adapter::build_request(req, model, provider, api_key);
    } else if (provider.kind == "anthropic") {
      out.request = anthropic_adapter::build_request(req, model, provider, api_key);
    } else if (provider.kind == "gemini") {
      out.request = gemini_adapter::build_request(req, model, provider, api_key);
    } else {
      out.error = make_error("bad_request", "provider " + provider.name + " has kind \"" +
                                                provider.kind + "\", which is not an HTTP kind");
    }
  } catch (const std::invalid_argument& e) {
    std::string message = std::string("request for ") + model.id + ": " + e.what();
    redact_secret(message, api_key);
    out.error = make_error("bad_request", message);
  }
  return out;
}

model_response parse_provider_response(const provider_config& provider, int http_status,
                                       const http_headers& headers, const std::string& body,
                                       const model_config& model, const std::string& call_id,
                                       const std::string& api_key) {
  model_response out;
  if (provider.kind == "openai") {
    out = openai_adapter::parse_response(http_status, headers, body, model, api_key);
  } else if (provider.kind == "anthropic") {
    out = anthropic_adapter::parse_response(http_status, headers, body, model, api_key);
  } else if (provider.kind == "gemini") {
    out = gemini_adapter::parse_response(http_status, headers, body, model, api_key);
  } else {
    out.error = make_error("bad_request", "provider " + provider.name + " has kind \"" +
                                              provider.kind + "\", which is not an HTTP kind");
  }
  out.call_id = call_id;
  return out;
}

bool provider_streams(const provider_config& provider) {
  return provider.kind == "openai" || provider.kind == "anthropic" || provider.kind == "gemini";
}

std::unique_ptr<stream_decoder> make_stream_decoder(const provider_config& provider,
                                                    const std::string& call_id,
                                                    const model_config& model,
                                                    const std::string& api_key) {
  if (provider.kind == "openai") {
    return std::make_unique<openai_stream_decoder>(call_id, model, api_key);
  }
  if (provider.kind == "anthropic") {
    return std::make_unique<anthropic_stream_decoder>(call_id, model, api_key);
  }
  if (provider.kind == "gemini") {
    return std::make_unique<gemini_stream_decoder>(call_id, model, api_key);
  }
  return nullptr;
}

std::string describe_for_log(const http_request& request) {
  std::string out = request.method + " " + request.target;
  bool first = true;
  for (const auto& header : request.headers) {
    out += first ? ", headers: " : ", ";
    first = false;
    const std::string& name = header.first;
    bool secret = false;
    for (const char* credential : {"authorization", "api-key", "x-api-key", "x-goog-api-key",
                                   "proxy-authorization", "cookie"}) {
      if (strcasecmp(name.c_str(), credential) == 0) secret = true;
    }
    out += name + ": " + (secret ? "[redacted]" : header.second);
  }
  out += ", body " + std::to_string(request.body.size()) + " bytes";
  return out;
}

}  // namespace switchyard
