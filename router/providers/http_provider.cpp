#include "router/providers/http_provider.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace switchyard {

namespace {

// The variable's value, or empty when it is unset.
std::string read_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  return value == nullptr ? std::string{} : std::string{value};
}

}  // namespace

bool keys_have_own_secrets(const std::vector<key_rate_limits>* keys) {
  if (keys == nullptr) return false;
  for (const auto& k : *keys)
    if (!k.api_key_env.empty()) return true;
  return false;
}

std::optional<http_provider> make_http_provider(const provider_config& cfg, std::string& error,
                                                const std::vector<key_rate_limits>* keys) {
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
  if (!cfg.api_key_env.empty()) p.api_key = read_env(cfg.api_key_env);
  if (keys_have_own_secrets(keys)) {
    size_t usable = 0;
    for (const auto& k : *keys) {
      http_provider_key key;
      key.name = k.key;
      key.env = k.api_key_env.empty() ? cfg.api_key_env : k.api_key_env;
      if (!key.env.empty()) {
        key.secret = read_env(key.env);
        if (key.secret.empty())
          key.unusable = fmt::format(
              "provider '{}' key '{}': environment variable {} (named by api_key_env) is not "
              "set or empty",
              cfg.name, k.key, key.env);
      }
      if (key.unusable.empty()) ++usable;
      p.keys.push_back(std::move(key));
    }
    if (usable == 0) {
      std::string vars;
      for (const auto& k : p.keys) vars += (vars.empty() ? "" : ", ") + k.env;
      p.unusable = fmt::format(
          "provider '{}': no key is usable: environment variables {} (named by api_key_env) are "
          "not set or empty",
          cfg.name, vars);
    }
    return p;
  }
  if (!cfg.api_key_env.empty() && p.api_key.empty())
    p.unusable = fmt::format(
        "provider '{}': environment variable {} (named by api_key_env) is not set or empty",
        cfg.name, cfg.api_key_env);
  return p;
}

}  // namespace switchyard
