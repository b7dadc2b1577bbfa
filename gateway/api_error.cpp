#include "gateway/api_error.hpp"

#include <nlohmann/json.hpp>

namespace switchyard::gateway {

namespace {

api_error make(unsigned status, std::string type, std::string code, std::string message) {
  api_error e;
  e.status = status;
  e.type = std::move(type);
  e.code = std::move(code);
  e.message = std::move(message);
  return e;
}

uint32_t seconds_rounded_up(uint32_t ms) {
  return ms == 0 ? 0 : (ms + 999) / 1000;
}

}  // namespace

api_error invalid_request(std::string param, std::string message, std::string code) {
  auto e = make(400, "invalid_request_error", std::move(code), std::move(message));
  e.param = std::move(param);
  return e;
}

api_error unauthorized(std::string message) {
  return make(401, "authentication_error", "invalid_api_key", std::move(message));
}

api_error not_found(std::string message, std::string code) {
  return make(404, "invalid_request_error", std::move(code), std::move(message));
}

api_error from_model_error(const model_error& error) {
  const auto& k = error.kind;
  const auto& msg = error.message;
  if (k == "rate_limited") {
    auto e = make(429, "rate_limit_error", "rate_limit_exceeded", msg);
    e.retry_after_s = std::max<uint32_t>(1, seconds_rounded_up(error.retry_after_ms));
    return e;
  }
  if (k == "budget_exhausted") return make(429, "insufficient_quota", "insufficient_quota", msg);
  if (k == "overloaded") {
    auto e = make(503, "server_error", "overloaded", msg);
    e.retry_after_s = seconds_rounded_up(error.retry_after_ms);
    return e;
  }
  if (k == "blocked") {
    auto e = make(503, "server_error", "provider_unavailable", msg);
    e.retry_after_s = seconds_rounded_up(error.retry_after_ms);
    return e;
  }
  if (k == "timeout") return make(504, "server_error", "timeout", msg);
  if (k == "bad_request") return make(400, "invalid_request_error", "invalid_request", msg);
  if (k == "context_length")
    return make(400, "invalid_request_error", "context_length_exceeded", msg);
  if (k == "content_filter") return make(400, "invalid_request_error", "content_filter", msg);
  if (k == "no_model") return make(400, "invalid_request_error", "no_model", msg);
  if (k == "auth") return make(502, "upstream_error", "upstream_auth", msg);
  if (k == "server_error" || k == "connection" || k == "bad_response")
    return make(502, "upstream_error", k, msg);
  return make(500, "server_error", k.empty() ? "internal_error" : k, msg);
}

std::string error_body(const api_error& error) {
  nlohmann::json e = {
      {"message", error.message},
      {"type", error.type},
      {"param", error.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(error.param)},
      {"code", error.code.empty() ? nlohmann::json(nullptr) : nlohmann::json(error.code)}};
  // Invalid UTF-8 in a provider's message must not make the error itself throw.
  return nlohmann::json{{"error", e}}.dump(-1, ' ', false,
                                           nlohmann::json::error_handler_t::replace);
}

}  // namespace switchyard::gateway
