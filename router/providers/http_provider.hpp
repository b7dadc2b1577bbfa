#pragma once
// One provider reached over HTTP, as the model service sees it: its config (which the
// wire adapters read), where it is, its timeouts, and its key, read from the
// environment once when the model service starts.
//
// Plain struct and one function, no CAF, no I/O beyond getenv. Thread-safe to read.

#include <optional>
#include <string>

#include "router/providers/http_client.hpp"
#include "runtime/config.hpp"

namespace switchyard {

struct http_provider {
  provider_config cfg;
  http_endpoint endpoint;
  http_timeouts timeouts;
  std::string api_key;  // never logged, never put in a message
  /// Non-empty when the provider cannot be called (its key variable is unset): every
  /// call fails with kind `auth` and this message, which names the variable only.
  std::string unusable;
};

/// Builds the provider from its config, reading the key from `api_key_env`. A bad
/// base_url returns nullopt with `error` set; a missing key is not an error here (see
/// `unusable`), so configs with several providers still run on the ones that have keys.
std::optional<http_provider> make_http_provider(const provider_config& cfg, std::string& error);

}  // namespace switchyard
