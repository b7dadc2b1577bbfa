#pragma once
// Knobs of the router's resilience core (router/circuit_breaker, retry_policy,
// rate_limiter, cascade, response_cache). Plain structs so the router classes and the
// config loader (runtime/config.cpp, section `resilience`) share one definition. Every
// default is documented in docs/config.md with the reason for it.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace switchyard {

struct breaker_settings {
  /// Length of the sliding window the failure rate is measured over. Default: 30000.
  uint32_t window_ms = 30000;
  /// Calls the window must hold before the rate can open the breaker. Default: 10.
  uint32_t min_calls = 10;
  /// Failure share (failures + semantic failures) / calls that opens it. Default: 0.5.
  double failure_rate = 0.5;
  /// How long it stays open before the first probe. Default: 30000.
  uint32_t open_ms = 30000;
  /// Cap of the open time, which doubles on each failed probe. Default: 300000.
  uint32_t max_open_ms = 300000;
  /// A probe that never reports back frees its slot after this long. Default: 60000.
  uint32_t probe_timeout_ms = 60000;
};

struct retry_settings {
  /// Backoff before the first retry; doubles per retry. Default: 500.
  uint32_t base_delay_ms = 500;
  /// Cap of one backoff (before jitter). Default: 30000.
  uint32_t max_delay_ms = 30000;
  /// Relative jitter: each backoff is scaled by a uniform factor in
  /// [1 - jitter, 1 + jitter]. Default: 0.25.
  double jitter = 0.25;
  /// Attempts per candidate, the first call included. Default: 3.
  uint32_t max_attempts = 3;
  /// Time budget of one request across all its attempts and waits. Default: 60000.
  uint32_t max_total_ms = 60000;
};

/// How long a request may wait for a rate-limit slot, by latency class.
struct latency_deadlines {
  uint32_t realtime_ms = 250;      // Default: 250 (a voice turn cannot wait longer)
  uint32_t interactive_ms = 3000;  // Default: 3000 (a chat user notices, still waits)
  uint32_t batch_ms = 120000;      // Default: 120000 (two refill minutes)
};

/// Cascade thresholds of one route: tier name -> minimum confidence to accept that
/// tier's answer. The top tier of the cascade needs none (its answer is final).
struct cascade_judge_settings {
  /// Model id of the judge (a catalog model, typically a local one). Empty: no judge.
  std::string model;
  /// The question put to the judge; {question} and {answer} are replaced by the
  /// request's last user message and the stage's answer. Default: judge_default_prompt.
  std::string prompt;
  /// Output tokens the judge may use (its reply is one number). Default: 8.
  uint32_t max_tokens = 8;
};

/// The judge's prompt when the config gives none.
inline constexpr const char* judge_default_prompt =
    "Grade how well the answer below answers the question. Reply with one number "
    "between 0 and 1 (1: fully correct and complete, 0: wrong or useless) and "
    "nothing else.\n\nQuestion:\n{question}\n\nAnswer:\n{answer}";

struct cascade_route_settings {
  std::map<std::string, double> thresholds;
  /// Scores answers that come without token log-probabilities (router/cascade.hpp).
  cascade_judge_settings judge;
};

struct response_cache_settings {
  /// Entries live this long. Default: 3600000 (one hour).
  uint64_t ttl_ms = 3600000;
  /// Cosine similarity at or above which a cached prompt counts as the same question.
  /// Default: 0.92.
  double semantic_threshold = 0.92;
  /// RocksDB directory of the model service's cache; empty: no cache in the call path
  /// (relative paths resolve against the config file's folder). Default: "".
  std::string path;
  /// Routes whose calls are cached even with temperature > 0. Default: none.
  std::vector<std::string> temperature_routes;
};

/// Client-side limits of one API key of a provider (router/rate_limiter.hpp).
struct key_rate_limits {
  std::string key;  // a name for the key in metrics and traces, never the secret
  /// The environment variable holding this key's secret; empty: the provider's
  /// api_key_env. When any key of a provider names one, its keys are separate
  /// endpoints: own secret, own circuit breaker per model (docs/config.md).
  std::string api_key_env;
  uint32_t requests_per_minute = 0;
  uint64_t tokens_per_minute = 0;
};

struct resilience_settings {
  breaker_settings breaker;
  retry_settings retry;
  latency_deadlines deadlines;
  std::map<std::string, cascade_route_settings> cascade;  // route name -> settings
  response_cache_settings cache;
  /// Provider name -> its keys' limits. A provider not listed is not limited.
  std::map<std::string, std::vector<key_rate_limits>> rate_limits;
  /// Route name -> the models to fall back to, in order, after the routed model.
  /// A route not listed falls back along the catalog (same tier on another provider,
  /// then the next lower tier).
  std::map<std::string, std::vector<std::string>> fallback;
};

}  // namespace switchyard
