#pragma once
// One provider reached over HTTP, as the model service sees it: its config (which the
// wire adapters read), where it is, its timeouts, and its keys, read from the
// environment once when the model service starts.
//
// A provider has one secret (its `api_key_env`) unless its `resilience.rate_limits`
// keys name their own variables: then it has one secret per key, index-aligned with
// the rate limiter's keys, and the call carries the secret of the key the limiter
// granted. A key without a variable of its own uses the provider's.
//
// Plain struct and one function, no CAF, no I/O beyond getenv. Thread-safe to read.

#include <optional>
#include <string>
#include <vector>

#include "router/providers/http_client.hpp"
#include "runtime/config.hpp"

namespace switchyard {

struct http_provider_key {
  std::string name;      // the rate-limit key's name (traces, breakers)
  std::string env;       // the variable it was read from (messages)
  std::string secret;    // never logged, never put in a message
  std::string unusable;  // non-empty when its variable is unset: never granted
};

struct http_provider {
  provider_config cfg;
  http_endpoint endpoint;
  http_timeouts timeouts;
  std::string api_key;  // never logged, never put in a message
  /// Non-empty when the provider cannot be called (its key variable is unset, or every
  /// key's is): every call fails with kind `auth` and this message, which names the
  /// variable only.
  std::string unusable;
  /// Per-key secrets (see above); empty when the provider has a single secret.
  std::vector<http_provider_key> keys;

  bool per_key() const { return !keys.empty(); }
  /// The secret a call granted key `index` carries.
  const std::string& secret_for(size_t index) const {
    return index < keys.size() ? keys[index].secret : api_key;
  }
};

/// True when some of `keys` (a provider's rate-limit keys) name their own variable.
bool keys_have_own_secrets(const std::vector<key_rate_limits>* keys);

/// Builds the provider from its config, reading the key from `api_key_env` and, when
/// `keys` name their own variables, each key's secret. A bad base_url returns nullopt
/// with `error` set; a missing key is not an error here (see `unusable`), so configs
/// with several providers still run on the ones that have keys.
std::optional<http_provider> make_http_provider(const provider_config& cfg, std::string& error,
                                                const std::vector<key_rate_limits>* keys = nullptr);

}  // namespace switchyard
