#include "router/providers/http_provider.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace switchyard {

std::optional<http_provider> make_http_provider(const provider_config& cfg, std::string& error) {
  http_provider p;
  p.cfg = cfg;
  std::string problem;
  auto ep = parse_endpoint(cfg.base_url, problem);
  if (!ep) {
    error = fmt::format("provider '{}': base_url {}", cfg.name, problem);
    return std::nullopt;
  }
  p.endpoint = *ep;
  p.endpoint.max_connections = cfg.max_connections;
  p.timeouts = {cfg.connect_timeout_ms, cfg.first_byte_timeout_ms, cfg.total_timeout_ms};
  if (!cfg.api_key_env.empty()) {
    const char* key = std::getenv(cfg.api_key_env.c_str());
    if (key == nullptr || *key == '\0')
      p.unusable = fmt::format(
          "provider '{}': environment variable {} (named by api_key_env) is not set or empty",
          cfg.name, cfg.api_key_env);
    else
      p.api_key = key;
  }
  return p;
}

}  // namespace switchyard
