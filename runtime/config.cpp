#include "runtime/config.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>
#include <utility>

#include "re2/re2.h"

#include "runtime/http_url.hpp"

namespace switchyard {

namespace {

using json = nlohmann::json;

// Values in messages are cut so one bad 10 kB system prompt cannot flood the log.
constexpr size_t max_shown_chars = 80;

std::string show(const json& value) {
  // `replace` keeps dump() from throwing on invalid UTF-8 in documents built in code.
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() <= max_shown_chars) return text;
  size_t cut = max_shown_chars - 3;
  // Never split a UTF-8 sequence: back up over continuation bytes.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "...";
}

bool is_plain_key(const std::string& key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
  });
}

// Keys with dots, spaces or nothing at all are quoted so the path stays unambiguous:
// workflows["a.b"] rather than workflows.a.b.
std::string member_path(const std::string& parent, const std::string& key) {
  if (!is_plain_key(key)) return parent + "[" + show(json(key)) + "]";
  return parent.empty() ? key : parent + "." + key;
}

std::string element_path(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string shown_path(const std::string& path) {
  return path.empty() ? "(root)" : path;
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : ", ") + w;
  return out;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean X?)" when some candidate is a near miss of `word`, else "". Also
// compares against candidate prefixes so a truncated key ("prise_in") finds its
// full name ("price_in_per_mtok").
std::string suggestion(const std::string& word, const std::vector<std::string>& candidates) {
  size_t best_distance = std::numeric_limits<size_t>::max();
  const std::string* best = nullptr;
  for (const auto& candidate : candidates) {
    size_t d = edit_distance(word, candidate);
    if (word.size() >= 4 && candidate.size() > word.size()) {
      d = std::min(d, edit_distance(word, candidate.substr(0, word.size())) + 1);
    }
    if (d < best_distance) {
      best_distance = d;
      best = &candidate;
    }
  }
  // Loose enough for typos, tight enough that "cost" does not suggest "context_window".
  if (best == nullptr || best_distance > 3 || best_distance * 3 > word.size()) return "";
  return " (did you mean " + *best + "?)";
}

enum class presence { required, optional };

// Collects every problem instead of stopping at the first: fixing a config one
// error per run is miserable.
class validator {
 public:
  std::vector<std::string> take_errors() { return std::move(errors_); }

  void fail(const std::string& path, const std::string& problem, const json& got) {
    errors_.push_back(shown_path(path) + ": " + problem + ", got " + show(got));
  }
  void fail(const std::string& path, const std::string& problem) {
    errors_.push_back(shown_path(path) + ": " + problem);
  }

  /// True when `value` is an object; reports each key not in `allowed`.
  bool object(const json& value, const std::string& path, const std::vector<std::string>& allowed) {
    if (!value.is_object()) {
      fail(path, "must be an object", value);
      return false;
    }
    for (const auto& item : value.items()) {
      if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end()) {
        fail(member_path(path, item.key()), "unknown key" + suggestion(item.key(), allowed));
      }
    }
    return true;
  }

  /// `obj[key]` or nullptr when absent; a missing required key is reported.
  const json* member(const json& obj, const std::string& key, const std::string& path, presence p) {
    auto it = obj.find(key);
    if (it != obj.end()) return &*it;
    if (p == presence::required) fail(member_path(path, key), "is required");
    return nullptr;
  }

  bool string_value(const json& value, const std::string& path, std::string& out) {
    if (!value.is_string()) {
      fail(path, "must be a string", value);
      return false;
    }
    out = value.get<std::string>();
    return true;
  }

  bool non_empty_string_value(const json& value, const std::string& path, std::string& out) {
    if (!string_value(value, path, out)) return false;
    if (out.empty()) {
      fail(path, "must not be empty", value);
      return false;
    }
    return true;
  }

  bool string(const json& obj, const std::string& key, const std::string& path, presence p,
              std::string& out) {
    const json* value = member(obj, key, path, p);
    return value != nullptr && string_value(*value, member_path(path, key), out);
  }

  bool non_empty_string(const json& obj, const std::string& key, const std::string& path,
                        presence p, std::string& out) {
    const json* value = member(obj, key, path, p);
    return value != nullptr && non_empty_string_value(*value, member_path(path, key), out);
  }

  bool choice_value(const json& value, const std::string& path,
                    const std::vector<std::string>& allowed, std::string& out) {
    std::string text;
    if (!string_value(value, path, text)) return false;
    if (std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
      fail(path, "must be one of " + join(allowed), value);
      return false;
    }
    out = std::move(text);
    return true;
  }

  bool choice(const json& obj, const std::string& key, const std::string& path, presence p,
              const std::vector<std::string>& allowed, std::string& out) {
    const json* value = member(obj, key, path, p);
    return value != nullptr && choice_value(*value, member_path(path, key), allowed, out);
  }

  /// An integer in [min, max], also bounded by T's range. 8192.0 counts as an integer:
  /// some tools write every number as a double.
  template <typename T>
  bool integer_value(const json& value, const std::string& path, uint64_t min, uint64_t max,
                     T& out) {
    const uint64_t type_max = std::numeric_limits<T>::max();
    std::string rule;
    if (max < type_max) {
      rule = "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
    } else if (min == 0) {
      rule = "must be a non-negative integer";
    } else if (min == 1) {
      rule = "must be an integer > 0";
    } else {
      rule = "must be an integer >= " + std::to_string(min);
    }
    std::optional<uint64_t> n = as_unsigned(value);
    if (!n || *n < min || *n > std::min(max, type_max)) {
      fail(path, n && *n > type_max ? "must be at most " + std::to_string(type_max) : rule, value);
      return false;
    }
    out = static_cast<T>(*n);
    return true;
  }

  template <typename T>
  bool integer(const json& obj, const std::string& key, const std::string& path, presence p,
               uint64_t min, uint64_t max, T& out) {
    const json* value = member(obj, key, path, p);
    return value != nullptr && integer_value(*value, member_path(path, key), min, max, out);
  }

  template <typename T>
  bool integer(const json& obj, const std::string& key, const std::string& path, presence p,
               uint64_t min, T& out) {
    return integer(obj, key, path, p, min, std::numeric_limits<uint64_t>::max(), out);
  }

  /// A finite number >= 0 (prices, costs).
  bool amount(const json& obj, const std::string& key, const std::string& path, presence p,
              double& out) {
    const json* value = member(obj, key, path, p);
    if (value == nullptr) return false;
    std::string at = member_path(path, key);
    if (!value->is_number()) {
      fail(at, "must be a number", *value);
      return false;
    }
    double x = value->get<double>();
    if (!std::isfinite(x) || x < 0) {
      fail(at, "must be a finite number >= 0", *value);
      return false;
    }
    out = x;
    return true;
  }

  /// An array (possibly empty) or nullptr.
  const json* array(const json& obj, const std::string& key, const std::string& path, presence p) {
    const json* value = member(obj, key, path, p);
    if (value == nullptr) return nullptr;
    if (!value->is_array()) {
      fail(member_path(path, key), "must be an array", *value);
      return nullptr;
    }
    return value;
  }

  /// A non-empty array or nullptr.
  const json* non_empty_array(const json& obj, const std::string& key, const std::string& path,
                              presence p) {
    const json* value = array(obj, key, path, p);
    if (value != nullptr && value->empty()) {
      fail(member_path(path, key), "must not be empty", *value);
      return nullptr;
    }
    return value;
  }

 private:
  static std::optional<uint64_t> as_unsigned(const json& value) {
    if (value.is_number_unsigned()) return value.get<uint64_t>();
    if (value.is_number_integer()) {
      auto n = value.get<int64_t>();
      if (n >= 0) return static_cast<uint64_t>(n);
      return std::nullopt;
    }
    if (value.is_number_float()) {
      double x = value.get<double>();
      // 2^64 is exactly representable; anything at or above it does not fit.
      if (std::isfinite(x) && x >= 0 && x == std::floor(x) && x < 18446744073709551616.0) {
        return static_cast<uint64_t>(x);
      }
    }
    return std::nullopt;
  }

  std::vector<std::string> errors_;
};

const std::vector<std::string> root_keys = {"runtime",    "tiers",   "providers", "models",
                                            "supervisor", "budgets", "workflows", "router",
                                            "resilience", "store",   "support",
                                            "gateway"};
const std::vector<std::string> support_keys = {"knowledge_base", "orders", "max_ticket_bytes",
                                               "articles"};
const std::vector<std::string> gateway_keys = {
    "listen",          "io_threads",         "auth",           "keys_path",
    "max_body_bytes",  "max_header_bytes",   "idle_timeout_ms", "read_timeout_ms",
    "max_connections", "request_timeout_ms", "default_max_tokens", "audit"};
const std::vector<std::string> audit_keys = {"path", "max_bytes", "keep_files", "prompts"};
const std::vector<std::string> store_keys = {"path", "sync", "completed_ttl_hours",
                                             "resume_backoff_ms", "resume_max_backoff_ms"};
const std::vector<std::string> runtime_keys = {"scheduler", "workers", "log_level"};
const std::vector<std::string> provider_keys = {"name",
                                                "kind",
                                                "seed",
                                                "base_url",
                                                "api_key_env",
                                                "api_version",
                                                "headers",
                                                "connect_timeout_ms",
                                                "first_byte_timeout_ms",
                                                "total_timeout_ms",
                                                "max_connections"};
// Keys only an HTTP provider takes; a sim provider naming one is an error.
const std::vector<std::string> http_provider_keys = {
    "base_url",           "api_key_env",           "api_version",      "headers",
    "connect_timeout_ms", "first_byte_timeout_ms", "total_timeout_ms", "max_connections"};
const std::vector<std::string> model_keys = {"id",
                                             "provider",
                                             "tier",
                                             "price_in_per_mtok",
                                             "price_out_per_mtok",
                                             "context_window",
                                             "capabilities",
                                             "residency",
                                             "region",
                                             "sim",
                                             "provider_model"};
const std::vector<std::string> sim_keys = {"latency_ms", "ms_per_output_token", "timeout_ms",
                                           "faults", "outages"};
const std::vector<std::string> fault_keys = {"kind", "every", "probability", "retry_after_ms"};
const std::vector<std::string> outage_keys = {"from_ms", "to_ms"};
const std::vector<std::string> supervisor_keys = {"max_hops", "step_timeout_ms", "escalation"};
const std::vector<std::string> escalation_keys = {"target", "agent", "handoff_file"};
const std::vector<std::string> budgets_keys = {"per_thread"};
const std::vector<std::string> budget_keys = {"max_tokens", "max_cost_usd"};
const std::vector<std::string> workflow_keys = {"max_hops", "step_timeout_ms", "budget",
                                                "escalation", "agents"};
const std::vector<std::string> agent_keys = {"model", "tier", "max_tokens", "system_prompt"};

const std::vector<std::string> router_keys = {"routes",           "default_route", "threshold",
                                              "classifier_model", "rules",         "complexity",
                                              "latency_classes",  "embeddings"};
const std::vector<std::string> embeddings_keys = {"provider",   "model",      "dimension",
                                                  "batch_size", "timeout_ms", "cooldown_ms"};
const std::vector<std::string> route_keys = {"name", "tier", "examples", "examples_file"};
const std::vector<std::string> rule_keys = {"name", "keywords", "regex", "metadata",
                                            "route", "tier", "data_class"};
const std::vector<std::string> complexity_keys = {"long_prompt_tokens", "multi_part_questions"};
const std::vector<std::string> latency_class_keys = {"realtime", "interactive", "batch"};
const std::vector<std::string> data_class_names = {"public", "internal", "pii",
                                                   "health", "financial", "private"};

const std::vector<std::string> schedulers = {"sharing", "stealing"};
const std::vector<std::string> log_levels = {"trace", "debug",    "info", "warn",
                                             "error", "critical", "off"};
const std::vector<std::string> provider_kinds = {"sim", "openai", "anthropic", "gemini"};
constexpr uint32_t max_timeout_ms = 3600000;  // one hour: anything longer is a typo
constexpr uint32_t max_provider_connections = 1024;

std::string default_base_url(const std::string& kind) {
  if (kind == "openai") return "https://api.openai.com/v1";
  if (kind == "anthropic") return "https://api.anthropic.com";
  if (kind == "gemini") return "https://generativelanguage.googleapis.com/v1beta";
  return "";
}

bool is_env_var_name(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])) != 0) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  });
}

// An HTTP header name is a token (RFC 9110); values must not smuggle line breaks.
bool is_header_name(const std::string& name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string("!#$%&'*+-.^_`|~").find(c) != std::string::npos;
  });
}
const std::vector<std::string> capability_names = {"tools", "vision", "json_mode", "logprobs"};
const std::vector<std::string> residency_names = {"local", "private", "cloud"};
const std::vector<std::string> fault_kinds = {"rate_limited", "server_error", "timeout"};
const std::vector<std::string> escalation_targets = {"handoff", "agent"};

constexpr uint32_t max_workers = 256;
constexpr uint32_t max_hops_limit = 10000;

// What the model and workflow sections may refer to. A `known` flag is false when
// its section is missing or malformed; references are then not checked, because
// "tier must be one of ()" on every model would only bury the real error.
struct catalog {
  bool tiers_known = false;
  std::vector<std::string> tiers;
  bool providers_known = false;
  std::map<std::string, std::string> provider_kinds;  // name -> kind as written
  bool models_known = false;
  std::vector<std::string> model_ids;
};

runtime_settings parse_runtime(validator& v, const json& j, const std::string& path) {
  runtime_settings out;
  if (!v.object(j, path, runtime_keys)) return out;
  v.choice(j, "scheduler", path, presence::optional, schedulers, out.scheduler);
  v.integer(j, "workers", path, presence::optional, 0, max_workers, out.workers);
  v.choice(j, "log_level", path, presence::optional, log_levels, out.log_level);
  return out;
}

std::vector<std::string> parse_tiers(validator& v, const json& doc, catalog& known) {
  std::vector<std::string> out;
  const json* tiers = v.non_empty_array(doc, "tiers", "", presence::required);
  if (tiers == nullptr) return out;
  known.tiers_known = true;
  for (size_t i = 0; i < tiers->size(); ++i) {
    std::string path = element_path("tiers", i), name;
    if (!v.non_empty_string_value((*tiers)[i], path, name)) continue;
    auto seen = std::find(out.begin(), out.end(), name);
    if (seen != out.end()) {
      v.fail(path, "duplicate tier", (*tiers)[i]);
      continue;
    }
    out.push_back(name);
  }
  known.tiers = out;
  return out;
}

void parse_http_provider(validator& v, const json& p, const std::string& path,
                         provider_config& provider) {
  if (p.contains("seed")) {
    v.fail(member_path(path, "seed"), "only allowed on sim providers", p["seed"]);
  }
  provider.base_url = default_base_url(provider.kind);
  if (v.non_empty_string(p, "base_url", path, presence::optional, provider.base_url)) {
    std::string problem;
    if (!parse_http_url(provider.base_url, problem)) {
      // A URL with user:password@ holds a secret: name the problem, not the value.
      if (provider.base_url.find('@') != std::string::npos) {
        v.fail(member_path(path, "base_url"), problem);
      } else {
        v.fail(member_path(path, "base_url"), problem, p["base_url"]);
      }
    }
  }
  if (v.string(p, "api_key_env", path, presence::optional, provider.api_key_env) &&
      !provider.api_key_env.empty() && !is_env_var_name(provider.api_key_env)) {
    // Do not echo the value: someone may have pasted the key itself here.
    v.fail(member_path(path, "api_key_env"),
           "must be the NAME of an environment variable (letters, digits, _), not a key");
  }
  if (v.string(p, "api_version", path, presence::optional, provider.api_version) &&
      provider.kind == "gemini" && !provider.api_version.empty()) {
    v.fail(member_path(path, "api_version"), "is not used by gemini providers", p["api_version"]);
  }
  if (provider.kind == "anthropic" && provider.api_version.empty()) {
    provider.api_version = "2023-06-01";
  }
  if (const json* headers = v.member(p, "headers", path, presence::optional)) {
    std::string at = member_path(path, "headers");
    if (!headers->is_object()) {
      v.fail(at, "must be an object of header names to string values", *headers);
    } else {
      for (const auto& item : headers->items()) {
        std::string header_at = member_path(at, item.key()), value;
        if (!is_header_name(item.key())) {
          v.fail(header_at, "is not a valid HTTP header name");
          continue;
        }
        if (!v.string_value(item.value(), header_at, value)) continue;
        if (value.find_first_of("\r\n") != std::string::npos) {
          v.fail(header_at, "must not contain line breaks");
          continue;
        }
        provider.headers.emplace_back(item.key(), value);
      }
    }
  }
  v.integer(p, "connect_timeout_ms", path, presence::optional, 1, max_timeout_ms,
            provider.connect_timeout_ms);
  v.integer(p, "first_byte_timeout_ms", path, presence::optional, 1, max_timeout_ms,
            provider.first_byte_timeout_ms);
  v.integer(p, "total_timeout_ms", path, presence::optional, 1, max_timeout_ms,
            provider.total_timeout_ms);
  v.integer(p, "max_connections", path, presence::optional, 1, max_provider_connections,
            provider.max_connections);
}

std::vector<provider_config> parse_providers(validator& v, const json& doc, catalog& known) {
  std::vector<provider_config> out;
  const json* providers = v.non_empty_array(doc, "providers", "", presence::required);
  if (providers == nullptr) return out;
  known.providers_known = true;
  for (size_t i = 0; i < providers->size(); ++i) {
    const json& p = (*providers)[i];
    std::string path = element_path("providers", i);
    if (!v.object(p, path, provider_keys)) continue;
    provider_config provider;
    bool named = v.non_empty_string(p, "name", path, presence::required, provider.name);
    if (named && known.provider_kinds.count(provider.name) != 0) {
      v.fail(member_path(path, "name"), "duplicate provider name", p["name"]);
      named = false;
    }
    // Keep the kind as written even when invalid, so models can say why their `sim`
    // section is rejected.
    if (const json* kind = v.member(p, "kind", path, presence::required)) {
      v.choice_value(*kind, member_path(path, "kind"), provider_kinds, provider.kind);
      if (kind->is_string()) provider.kind = kind->get<std::string>();
    }
    if (provider.kind == "sim") {
      v.integer(p, "seed", path, presence::optional, 0, provider.seed);
      for (const auto& key : http_provider_keys) {
        if (p.contains(key))
          v.fail(member_path(path, key),
                 "only allowed on HTTP providers (kind openai, anthropic or gemini)", p[key]);
      }
    } else if (std::find(provider_kinds.begin(), provider_kinds.end(), provider.kind) !=
               provider_kinds.end()) {
      parse_http_provider(v, p, path, provider);
    }
    if (named) known.provider_kinds[provider.name] = provider.kind;
    out.push_back(std::move(provider));
  }
  return out;
}

sim_fault parse_fault(validator& v, const json& f, const std::string& path) {
  sim_fault out;
  if (!v.object(f, path, fault_keys)) return out;
  bool kind_ok = v.choice(f, "kind", path, presence::required, fault_kinds, out.kind);
  bool has_every = f.contains("every"), has_probability = f.contains("probability");
  if (has_every && has_probability) {
    v.fail(path, "set every or probability, not both", f);
  } else if (!has_every && !has_probability) {
    v.fail(path, "must set every or probability", f);
  }
  if (has_every) v.integer(f, "every", path, presence::required, 1, out.every);
  if (has_probability) {
    const json& p = f["probability"];
    std::string at = member_path(path, "probability");
    if (!p.is_number()) {
      v.fail(at, "must be a number", p);
    } else if (double x = p.get<double>(); !(x > 0 && x <= 1)) {  // also rejects NaN
      v.fail(at, "must be > 0 and <= 1", p);
    } else {
      out.probability = x;
    }
  }
  if (const json* retry = v.member(f, "retry_after_ms", path, presence::optional)) {
    std::string at = member_path(path, "retry_after_ms");
    if (kind_ok && out.kind != "rate_limited") {
      // Accepting it would suggest the other kinds honour it; they do not.
      v.fail(at, "only allowed when kind is rate_limited", *retry);
    } else {
      v.integer_value(*retry, at, 0, std::numeric_limits<uint32_t>::max(), out.retry_after_ms);
    }
  }
  return out;
}

sim_outage parse_outage(validator& v, const json& o, const std::string& path) {
  sim_outage out;
  if (!v.object(o, path, outage_keys)) return out;
  bool from_ok = v.integer(o, "from_ms", path, presence::required, 0, out.from_ms);
  bool to_ok = v.integer(o, "to_ms", path, presence::required, 0, out.to_ms);
  if (from_ok && to_ok && out.from_ms >= out.to_ms) {
    v.fail(member_path(path, "to_ms"),
           "must be greater than from_ms (" + std::to_string(out.from_ms) + ")", o["to_ms"]);
  }
  return out;
}

sim_model_settings parse_sim(validator& v, const json& s, const std::string& path) {
  sim_model_settings out;
  if (!v.object(s, path, sim_keys)) return out;
  v.integer(s, "latency_ms", path, presence::optional, 0, out.latency_ms);
  v.integer(s, "ms_per_output_token", path, presence::optional, 0, out.ms_per_output_token);
  v.integer(s, "timeout_ms", path, presence::optional, 1, out.timeout_ms);
  if (const json* faults = v.array(s, "faults", path, presence::optional)) {
    for (size_t i = 0; i < faults->size(); ++i) {
      out.faults.push_back(
          parse_fault(v, (*faults)[i], element_path(member_path(path, "faults"), i)));
    }
  }
  if (const json* outages = v.array(s, "outages", path, presence::optional)) {
    for (size_t i = 0; i < outages->size(); ++i) {
      out.outages.push_back(
          parse_outage(v, (*outages)[i], element_path(member_path(path, "outages"), i)));
    }
  }
  return out;
}

residency residency_from(const std::string& name) {
  if (name == "local") return residency::local;
  if (name == "private") return residency::private_host;
  return residency::cloud;
}

std::vector<model_config> parse_models(validator& v, const json& doc, catalog& known) {
  std::vector<model_config> out;
  const json* models = v.non_empty_array(doc, "models", "", presence::required);
  if (models == nullptr) return out;
  known.models_known = true;
  for (size_t i = 0; i < models->size(); ++i) {
    const json& m = (*models)[i];
    std::string path = element_path("models", i);
    if (!v.object(m, path, model_keys)) continue;
    model_config model;

    if (v.non_empty_string(m, "id", path, presence::required, model.id)) {
      auto& ids = known.model_ids;
      if (std::find(ids.begin(), ids.end(), model.id) != ids.end()) {
        v.fail(member_path(path, "id"), "duplicate model id", m["id"]);
      } else {
        ids.push_back(model.id);
      }
    }

    const std::string* provider_kind = nullptr;
    if (v.string(m, "provider", path, presence::required, model.provider) &&
        known.providers_known) {
      auto it = known.provider_kinds.find(model.provider);
      if (it == known.provider_kinds.end()) {
        std::vector<std::string> names;
        for (const auto& entry : known.provider_kinds) names.push_back(entry.first);
        v.fail(member_path(path, "provider"),
               "must name an entry of providers (" + join(names) + ")", m["provider"]);
      } else {
        provider_kind = &it->second;
      }
    }

    if (v.string(m, "tier", path, presence::required, model.tier) && known.tiers_known &&
        std::find(known.tiers.begin(), known.tiers.end(), model.tier) == known.tiers.end()) {
      v.fail(member_path(path, "tier"), "must be one of the tiers (" + join(known.tiers) + ")",
             m["tier"]);
    }

    v.amount(m, "price_in_per_mtok", path, presence::required, model.price_in_per_mtok);
    v.amount(m, "price_out_per_mtok", path, presence::required, model.price_out_per_mtok);
    v.integer(m, "context_window", path, presence::required, 1, model.context_window);

    if (const json* caps = v.array(m, "capabilities", path, presence::optional)) {
      for (size_t c = 0; c < caps->size(); ++c) {
        std::string at = element_path(member_path(path, "capabilities"), c), name;
        if (!v.choice_value((*caps)[c], at, capability_names, name)) continue;
        auto& have = model.capabilities;
        if (std::find(have.begin(), have.end(), name) != have.end()) {
          v.fail(at, "duplicate capability", (*caps)[c]);
          continue;
        }
        have.push_back(name);
      }
    }

    std::string where;
    if (v.choice(m, "residency", path, presence::required, residency_names, where)) {
      model.where = residency_from(where);
    }
    v.string(m, "region", path, presence::optional, model.region);
    if (v.non_empty_string(m, "provider_model", path, presence::optional, model.provider_model) &&
        provider_kind != nullptr && *provider_kind == "sim") {
      v.fail(member_path(path, "provider_model"), "is not used by sim providers",
             m["provider_model"]);
    }

    if (const json* sim = v.member(m, "sim", path, presence::optional)) {
      std::string at = member_path(path, "sim");
      // An empty kind was already reported as missing; saying it again here is noise.
      if (provider_kind != nullptr && !provider_kind->empty() && *provider_kind != "sim") {
        v.fail(at,
               "only allowed when the provider's kind is sim (provider " + model.provider +
                   " has kind " + show(json(*provider_kind)) + ")",
               *sim);
      }
      model.sim = parse_sim(v, *sim, at);
    }
    out.push_back(std::move(model));
  }
  return out;
}

escalation_settings parse_escalation(validator& v, const json& e, const std::string& path) {
  escalation_settings out;
  if (!v.object(e, path, escalation_keys)) return out;
  bool target_ok = v.choice(e, "target", path, presence::optional, escalation_targets, out.target);
  v.string(e, "agent", path, presence::optional, out.agent);
  v.string(e, "handoff_file", path, presence::optional, out.handoff_file);
  if (!target_ok && e.contains("target")) return out;  // target already reported
  std::string at = member_path(path, "agent");
  if (out.target == "agent" && out.agent.empty()) {
    if (e.contains("agent")) {
      if (e["agent"].is_string()) v.fail(at, "must not be empty when target is agent", e["agent"]);
    } else {
      v.fail(at, "is required when target is agent");
    }
  } else if (out.target == "handoff" && !out.agent.empty()) {
    // A named agent with target handoff is almost surely a forgotten "target": "agent".
    v.fail(at, "must be empty when target is handoff", e["agent"]);
  }
  return out;
}

// `base` supplies the values of absent keys (the top-level budget, for workflows).
budget_limits parse_budget(validator& v, const json& b, const std::string& path,
                           budget_limits base) {
  if (!v.object(b, path, budget_keys)) return base;
  v.integer(b, "max_tokens", path, presence::optional, 0, base.max_tokens);
  v.amount(b, "max_cost_usd", path, presence::optional, base.max_cost_usd);
  return base;
}

supervisor_settings parse_supervisor(validator& v, const json& s, const std::string& path) {
  supervisor_settings out;
  if (!v.object(s, path, supervisor_keys)) return out;
  v.integer(s, "max_hops", path, presence::optional, 1, max_hops_limit, out.max_hops);
  v.integer(s, "step_timeout_ms", path, presence::optional, 1, out.step_timeout_ms);
  if (const json* e = v.member(s, "escalation", path, presence::optional)) {
    out.escalation = parse_escalation(v, *e, member_path(path, "escalation"));
  }
  return out;
}

agent_settings parse_agent(validator& v, const json& a, const std::string& path,
                           const catalog& known) {
  agent_settings out;
  if (!v.object(a, path, agent_keys)) return out;
  if (v.string(a, "model", path, presence::optional, out.model) && !out.model.empty() &&
      known.models_known &&
      std::find(known.model_ids.begin(), known.model_ids.end(), out.model) ==
          known.model_ids.end()) {
    v.fail(member_path(path, "model"),
           "must be the id of an entry of models" + suggestion(out.model, known.model_ids),
           a["model"]);
  }
  if (v.string(a, "tier", path, presence::optional, out.tier) && !out.tier.empty() &&
      known.tiers_known &&
      std::find(known.tiers.begin(), known.tiers.end(), out.tier) == known.tiers.end()) {
    v.fail(member_path(path, "tier"), "must be one of the tiers (" + join(known.tiers) + ")",
           a["tier"]);
  }
  if (!out.model.empty() && !out.tier.empty()) {
    // A model fixes its tier; accepting both would leave one silently ignored.
    v.fail(path, "set model or tier, not both", a);
  }
  v.integer(a, "max_tokens", path, presence::optional, 0, out.max_tokens);
  v.string(a, "system_prompt", path, presence::optional, out.system_prompt);
  return out;
}

workflow_overrides parse_workflow(validator& v, const json& w, const std::string& path,
                                  const catalog& known, const budget_limits& thread_budget) {
  workflow_overrides out;
  if (!v.object(w, path, workflow_keys)) return out;
  uint32_t n = 0;
  if (v.integer(w, "max_hops", path, presence::optional, 1, max_hops_limit, n)) out.max_hops = n;
  if (v.integer(w, "step_timeout_ms", path, presence::optional, 1, n)) out.step_timeout_ms = n;
  if (const json* b = v.member(w, "budget", path, presence::optional)) {
    out.thread_budget = parse_budget(v, *b, member_path(path, "budget"), thread_budget);
  }
  if (const json* e = v.member(w, "escalation", path, presence::optional)) {
    out.escalation = parse_escalation(v, *e, member_path(path, "escalation"));
  }
  if (const json* agents = v.member(w, "agents", path, presence::optional)) {
    std::string at = member_path(path, "agents");
    if (!agents->is_object()) {
      v.fail(at, "must be an object", *agents);
    } else {
      for (const auto& item : agents->items()) {
        std::string agent_path = member_path(at, item.key());
        if (item.key().empty()) v.fail(agent_path, "agent names must not be empty");
        out.agents[item.key()] = parse_agent(v, item.value(), agent_path, known);
      }
    }
  }
  return out;
}

std::vector<std::string> string_list(validator& v, const json& obj, const std::string& key,
                                     const std::string& path) {
  std::vector<std::string> out;
  const json* list = v.array(obj, key, path, presence::optional);
  if (list == nullptr) return out;
  std::string at = member_path(path, key);
  for (size_t i = 0; i < list->size(); ++i) {
    std::string item;
    if (v.non_empty_string_value((*list)[i], element_path(at, i), item))
      out.push_back(std::move(item));
  }
  return out;
}

void check_tier(validator& v, const json& obj, const std::string& key, const std::string& path,
                const catalog& known, const std::string& tier) {
  if (tier.empty() || !known.tiers_known) return;
  if (std::find(known.tiers.begin(), known.tiers.end(), tier) == known.tiers.end())
    v.fail(member_path(path, key), "must be one of the tiers (" + join(known.tiers) + ")",
           obj[key]);
}

route_config parse_route(validator& v, const json& r, const std::string& path,
                         const catalog& known) {
  route_config out;
  if (!v.object(r, path, route_keys)) return out;
  v.non_empty_string(r, "name", path, presence::required, out.name);
  if (v.non_empty_string(r, "tier", path, presence::required, out.tier))
    check_tier(v, r, "tier", path, known, out.tier);
  out.examples = string_list(v, r, "examples", path);
  v.non_empty_string(r, "examples_file", path, presence::optional, out.examples_file);
  if (out.examples.empty() && out.examples_file.empty())
    v.fail(path, "needs example utterances: set examples or examples_file", r);
  return out;
}

routing_rule parse_rule(validator& v, const json& r, const std::string& path,
                        const catalog& known, const std::vector<std::string>& route_names) {
  routing_rule out;
  if (!v.object(r, path, rule_keys)) return out;
  v.non_empty_string(r, "name", path, presence::required, out.name);
  out.keywords = string_list(v, r, "keywords", path);
  if (v.non_empty_string(r, "regex", path, presence::optional, out.regex)) {
    RE2::Options options;
    options.set_log_errors(false);
    RE2 compiled(out.regex, options);
    if (!compiled.ok())
      v.fail(member_path(path, "regex"), "is not a valid RE2 pattern (" + compiled.error() + ")",
             r["regex"]);
  }
  if (const json* m = v.member(r, "metadata", path, presence::optional)) {
    std::string at = member_path(path, "metadata");
    if (!m->is_object()) {
      v.fail(at, "must be an object of strings", *m);
    } else {
      for (const auto& item : m->items()) {
        std::string value;
        if (v.string_value(item.value(), member_path(at, item.key()), value))
          out.metadata[item.key()] = value;
      }
    }
  }
  if (out.keywords.empty() && out.regex.empty() && out.metadata.empty())
    v.fail(path, "needs a condition: keywords, regex or metadata", r);
  if (v.non_empty_string(r, "route", path, presence::optional, out.route) &&
      std::find(route_names.begin(), route_names.end(), out.route) == route_names.end())
    v.fail(member_path(path, "route"),
           "must be the name of an entry of router.routes" + suggestion(out.route, route_names),
           r["route"]);
  if (v.non_empty_string(r, "tier", path, presence::optional, out.tier))
    check_tier(v, r, "tier", path, known, out.tier);
  v.choice(r, "data_class", path, presence::optional, data_class_names, out.data_class);
  if (out.route.empty() && out.tier.empty() && out.data_class.empty())
    v.fail(path, "needs an effect: route, tier or data_class", r);
  return out;
}

embeddings_settings parse_embeddings(validator& v, const json& e, const std::string& path,
                                     const catalog& known) {
  embeddings_settings out;
  if (!v.object(e, path, embeddings_keys)) return out;
  if (v.non_empty_string(e, "provider", path, presence::required, out.provider) &&
      known.providers_known) {
    auto it = known.provider_kinds.find(out.provider);
    if (it == known.provider_kinds.end()) {
      std::vector<std::string> names;
      for (const auto& entry : known.provider_kinds) names.push_back(entry.first);
      v.fail(member_path(path, "provider"), "must name an entry of providers (" + join(names) + ")",
             e["provider"]);
    } else if (it->second != "openai") {
      v.fail(member_path(path, "provider"),
             "must name a provider of kind openai (an OpenAI-compatible /v1/embeddings), not " +
                 it->second,
             e["provider"]);
    }
  }
  v.non_empty_string(e, "model", path, presence::required, out.model);
  v.integer(e, "dimension", path, presence::required, 1, 65536, out.dimension);
  v.integer(e, "batch_size", path, presence::optional, 1, 2048, out.batch_size);
  v.integer(e, "timeout_ms", path, presence::optional, 1, max_timeout_ms, out.timeout_ms);
  v.integer(e, "cooldown_ms", path, presence::optional, 0, max_timeout_ms, out.cooldown_ms);
  return out;
}

router_settings parse_router(validator& v, const json& r, const std::string& path,
                             const catalog& known) {
  router_settings out;
  if (!v.object(r, path, router_keys)) return out;
  std::vector<std::string> route_names;
  if (const json* routes = v.array(r, "routes", path, presence::optional)) {
    std::string at = member_path(path, "routes");
    for (size_t i = 0; i < routes->size(); ++i) {
      std::string route_path = element_path(at, i);
      auto route = parse_route(v, (*routes)[i], route_path, known);
      if (route.name.empty()) continue;
      if (std::find(route_names.begin(), route_names.end(), route.name) != route_names.end())
        v.fail(member_path(route_path, "name"), "duplicate route name", route.name);
      route_names.push_back(route.name);
      out.routes.push_back(std::move(route));
    }
  }
  if (v.non_empty_string(r, "default_route", path, presence::optional, out.default_route) &&
      std::find(route_names.begin(), route_names.end(), out.default_route) == route_names.end())
    v.fail(member_path(path, "default_route"),
           "must be the name of an entry of router.routes" +
               suggestion(out.default_route, route_names),
           r["default_route"]);
  if (const json* t = v.member(r, "threshold", path, presence::optional)) {
    if (!t->is_number() || !(t->get<double>() >= 0 && t->get<double>() <= 1))
      v.fail(member_path(path, "threshold"), "must be a number from 0 to 1", *t);
    else
      out.threshold = t->get<double>();
  }
  v.non_empty_string(r, "classifier_model", path, presence::optional, out.classifier_model);
  if (const json* rules = v.array(r, "rules", path, presence::optional)) {
    std::string at = member_path(path, "rules");
    for (size_t i = 0; i < rules->size(); ++i)
      out.rules.push_back(parse_rule(v, (*rules)[i], element_path(at, i), known, route_names));
  }
  if (const json* c = v.member(r, "complexity", path, presence::optional)) {
    std::string at = member_path(path, "complexity");
    if (v.object(*c, at, complexity_keys)) {
      v.integer(*c, "long_prompt_tokens", at, presence::optional, 1,
                out.complexity.long_prompt_tokens);
      v.integer(*c, "multi_part_questions", at, presence::optional, 2,
                out.complexity.multi_part_questions);
    }
  }
  if (const json* l = v.member(r, "latency_classes", path, presence::optional)) {
    std::string at = member_path(path, "latency_classes");
    if (v.object(*l, at, latency_class_keys)) {
      v.integer(*l, "realtime", at, presence::optional, 0, out.latency.realtime_ms);
      v.integer(*l, "interactive", at, presence::optional, 0, out.latency.interactive_ms);
      v.integer(*l, "batch", at, presence::optional, 0, out.latency.batch_ms);
    }
  }
  if (const json* e = v.member(r, "embeddings", path, presence::optional))
    out.embeddings = parse_embeddings(v, *e, member_path(path, "embeddings"), known);
  return out;
}

const std::vector<std::string> resilience_keys = {
    "breaker", "retry", "latency_deadlines_ms", "cascade", "cache", "rate_limits", "fallback"};
const std::vector<std::string> key_limit_keys = {"key", "requests_per_minute", "tokens_per_minute",
                                                 "api_key_env"};
// A key mask is one 64-bit word (router/rate_limiter.hpp).
constexpr size_t max_keys_per_provider = 64;
const std::vector<std::string> breaker_keys = {"window_ms", "min_calls",   "failure_rate",
                                               "open_ms",   "max_open_ms", "probe_timeout_ms"};
const std::vector<std::string> retry_keys = {"base_delay_ms", "max_delay_ms", "jitter",
                                             "max_attempts", "max_total_ms"};
const std::vector<std::string> deadline_keys = {"realtime", "interactive", "batch"};
const std::vector<std::string> cascade_route_keys = {"thresholds", "judge"};
const std::vector<std::string> cascade_judge_keys = {"model", "prompt", "max_tokens"};
const std::vector<std::string> cache_keys = {"ttl_ms", "semantic_threshold", "path",
                                             "temperature_routes"};

constexpr uint64_t max_ms = std::numeric_limits<uint32_t>::max();

// A number in a range whose ends may be open: "must be > 0 and <= 1".
bool bounded_number(validator& v, const json& obj, const std::string& key, const std::string& path,
                    double lo, bool lo_open, double hi, bool hi_open, double& out) {
  const json* value = v.member(obj, key, path, presence::optional);
  if (value == nullptr) return false;
  std::string at = member_path(path, key);
  auto text = [](double x) {
    std::string t = std::to_string(x);
    t.erase(t.find_last_not_of('0') + 1);
    if (!t.empty() && t.back() == '.') t.pop_back();
    return t;
  };
  std::string rule = std::string("must be a number ") + (lo_open ? "> " : ">= ") + text(lo) +
                     " and " + (hi_open ? "< " : "<= ") + text(hi);
  if (!value->is_number()) {
    v.fail(at, rule, *value);
    return false;
  }
  double x = value->get<double>();
  bool ok = std::isfinite(x) && (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);
  if (!ok) {
    v.fail(at, rule, *value);
    return false;
  }
  out = x;
  return true;
}

breaker_settings parse_breaker(validator& v, const json& b, const std::string& path) {
  breaker_settings out;
  if (!v.object(b, path, breaker_keys)) return out;
  v.integer(b, "window_ms", path, presence::optional, 10, max_ms, out.window_ms);
  v.integer(b, "min_calls", path, presence::optional, 1, 1000000, out.min_calls);
  bounded_number(v, b, "failure_rate", path, 0, true, 1, false, out.failure_rate);
  v.integer(b, "open_ms", path, presence::optional, 1, max_ms, out.open_ms);
  v.integer(b, "max_open_ms", path, presence::optional, 1, max_ms, out.max_open_ms);
  v.integer(b, "probe_timeout_ms", path, presence::optional, 1, max_ms, out.probe_timeout_ms);
  if (out.max_open_ms < out.open_ms) {
    v.fail(member_path(path, "max_open_ms"),
           "must be >= open_ms (" + std::to_string(out.open_ms) + ")", json(out.max_open_ms));
  }
  return out;
}

retry_settings parse_retry(validator& v, const json& r, const std::string& path) {
  retry_settings out;
  if (!v.object(r, path, retry_keys)) return out;
  v.integer(r, "base_delay_ms", path, presence::optional, 1, max_ms, out.base_delay_ms);
  v.integer(r, "max_delay_ms", path, presence::optional, 1, max_ms, out.max_delay_ms);
  bounded_number(v, r, "jitter", path, 0, false, 1, true, out.jitter);
  v.integer(r, "max_attempts", path, presence::optional, 1, 100, out.max_attempts);
  v.integer(r, "max_total_ms", path, presence::optional, 1, max_ms, out.max_total_ms);
  if (out.max_delay_ms < out.base_delay_ms) {
    v.fail(member_path(path, "max_delay_ms"),
           "must be >= base_delay_ms (" + std::to_string(out.base_delay_ms) + ")",
           json(out.max_delay_ms));
  }
  return out;
}

latency_deadlines parse_deadlines(validator& v, const json& d, const std::string& path) {
  latency_deadlines out;
  if (!v.object(d, path, deadline_keys)) return out;
  v.integer(d, "realtime", path, presence::optional, 0, max_ms, out.realtime_ms);
  v.integer(d, "interactive", path, presence::optional, 0, max_ms, out.interactive_ms);
  v.integer(d, "batch", path, presence::optional, 0, max_ms, out.batch_ms);
  return out;
}

// {model, prompt, max_tokens}: the local model that grades answers without logprobs.
cascade_judge_settings parse_cascade_judge(validator& v, const json& j, const std::string& path,
                                           const catalog& known) {
  cascade_judge_settings out;
  if (!v.object(j, path, cascade_judge_keys)) return out;
  if (v.non_empty_string(j, "model", path, presence::required, out.model) && known.models_known &&
      std::find(known.model_ids.begin(), known.model_ids.end(), out.model) ==
          known.model_ids.end()) {
    v.fail(member_path(path, "model"), "must be the id of an entry of models", j["model"]);
  }
  out.prompt = judge_default_prompt;
  if (v.non_empty_string(j, "prompt", path, presence::optional, out.prompt) &&
      out.prompt.find("{answer}") == std::string::npos) {
    v.fail(member_path(path, "prompt"),
           "must contain {answer} (where the stage's answer goes; {question} is optional)");
  }
  v.integer(j, "max_tokens", path, presence::optional, 1, 4096, out.max_tokens);
  return out;
}

std::map<std::string, cascade_route_settings> parse_cascade(validator& v, const json& c,
                                                            const std::string& path,
                                                            const catalog& known) {
  std::map<std::string, cascade_route_settings> out;
  if (!c.is_object()) {
    v.fail(path, "must be an object", c);
    return out;
  }
  for (const auto& route : c.items()) {
    std::string route_path = member_path(path, route.key());
    if (route.key().empty()) v.fail(route_path, "route names must not be empty");
    cascade_route_settings settings;
    if (v.object(route.value(), route_path, cascade_route_keys)) {
      const json* thresholds =
          v.member(route.value(), "thresholds", route_path, presence::required);
      std::string at = member_path(route_path, "thresholds");
      if (thresholds != nullptr && !thresholds->is_object()) {
        v.fail(at, "must be an object mapping a tier to a confidence", *thresholds);
      } else if (thresholds != nullptr) {
        for (const auto& item : thresholds->items()) {
          if (known.tiers_known &&
              std::find(known.tiers.begin(), known.tiers.end(), item.key()) == known.tiers.end()) {
            v.fail(member_path(at, item.key()),
                   "must be one of the tiers (" + join(known.tiers) + ")");
            continue;
          }
          double x = 0;
          if (bounded_number(v, *thresholds, item.key(), at, 0, false, 1, false, x)) {
            settings.thresholds[item.key()] = x;
          }
        }
      }
      if (const json* j = v.member(route.value(), "judge", route_path, presence::optional)) {
        settings.judge = parse_cascade_judge(v, *j, member_path(route_path, "judge"), known);
      }
    }
    out[route.key()] = std::move(settings);
  }
  return out;
}

response_cache_settings parse_cache(validator& v, const json& c, const std::string& path) {
  response_cache_settings out;
  if (!v.object(c, path, cache_keys)) return out;
  v.integer(c, "ttl_ms", path, presence::optional, 1, out.ttl_ms);
  bounded_number(v, c, "semantic_threshold", path, 0, true, 1, false, out.semantic_threshold);
  v.non_empty_string(c, "path", path, presence::optional, out.path);
  if (const json* routes = v.array(c, "temperature_routes", path, presence::optional)) {
    for (size_t i = 0; i < routes->size(); ++i) {
      std::string route;
      std::string at = element_path(member_path(path, "temperature_routes"), i);
      if (v.non_empty_string_value((*routes)[i], at, route))
        out.temperature_routes.push_back(std::move(route));
    }
  }
  return out;
}

// provider -> [{key, requests_per_minute, tokens_per_minute}, ...]
std::map<std::string, std::vector<key_rate_limits>> parse_rate_limits(validator& v, const json& r,
                                                                      const std::string& path,
                                                                      const catalog& known) {
  std::map<std::string, std::vector<key_rate_limits>> out;
  if (!r.is_object()) {
    v.fail(path, "must be an object mapping a provider name to a list of key limits", r);
    return out;
  }
  for (const auto& item : r.items()) {
    std::string at = member_path(path, item.key());
    if (known.providers_known && known.provider_kinds.count(item.key()) == 0) {
      v.fail(at, "must name a provider of `providers`");
      continue;
    }
    if (!item.value().is_array() || item.value().empty()) {
      v.fail(at, "must be a non-empty array of key limits", item.value());
      continue;
    }
    if (item.value().size() > max_keys_per_provider) {
      v.fail(at, "must list at most " + std::to_string(max_keys_per_provider) + " keys, got " +
                     std::to_string(item.value().size()));
      continue;
    }
    std::vector<key_rate_limits> keys;
    for (size_t i = 0; i < item.value().size(); ++i) {
      const json& k = item.value()[i];
      std::string kp = at + "[" + std::to_string(i) + "]";
      if (!v.object(k, kp, key_limit_keys)) continue;
      key_rate_limits limits;
      limits.key = "key" + std::to_string(i);
      v.non_empty_string(k, "key", kp, presence::optional, limits.key);
      v.integer(k, "requests_per_minute", kp, presence::required, 1, 100000000,
                limits.requests_per_minute);
      v.integer(k, "tokens_per_minute", kp, presence::required, 1, limits.tokens_per_minute);
      if (v.string(k, "api_key_env", kp, presence::optional, limits.api_key_env)) {
        auto kind = known.provider_kinds.find(item.key());
        if (!is_env_var_name(limits.api_key_env)) {
          // Do not echo the value: someone may have pasted the key itself here.
          v.fail(member_path(kp, "api_key_env"),
                 "must be the NAME of an environment variable (letters, digits, _), not a key");
        } else if (kind != known.provider_kinds.end() && kind->second == "sim") {
          v.fail(member_path(kp, "api_key_env"), "is only used by HTTP providers, not sim ones");
        }
      }
      for (const auto& other : keys)
        if (other.key == limits.key)
          v.fail(member_path(kp, "key"), "is a duplicate", json(limits.key));
      keys.push_back(std::move(limits));
    }
    out[item.key()] = std::move(keys);
  }
  return out;
}

// route -> [model id, ...]
std::map<std::string, std::vector<std::string>> parse_fallback(validator& v, const json& f,
                                                               const std::string& path,
                                                               const catalog& known) {
  std::map<std::string, std::vector<std::string>> out;
  if (!f.is_object()) {
    v.fail(path, "must be an object mapping a route name to a list of model ids", f);
    return out;
  }
  for (const auto& item : f.items()) {
    std::string at = member_path(path, item.key());
    if (item.key().empty()) v.fail(at, "route names must not be empty");
    if (!item.value().is_array() || item.value().empty()) {
      v.fail(at, "must be a non-empty array of model ids", item.value());
      continue;
    }
    std::vector<std::string> models;
    for (size_t i = 0; i < item.value().size(); ++i) {
      std::string id;
      std::string mp = at + "[" + std::to_string(i) + "]";
      if (!v.non_empty_string_value(item.value()[i], mp, id)) continue;
      if (known.models_known &&
          std::find(known.model_ids.begin(), known.model_ids.end(), id) == known.model_ids.end()) {
        v.fail(mp, "must be a model id of `models`", item.value()[i]);
        continue;
      }
      models.push_back(std::move(id));
    }
    out[item.key()] = std::move(models);
  }
  return out;
}

resilience_settings parse_resilience(validator& v, const json& r, const std::string& path,
                                     const catalog& known) {
  resilience_settings out;
  if (!v.object(r, path, resilience_keys)) return out;
  if (const json* b = v.member(r, "breaker", path, presence::optional)) {
    out.breaker = parse_breaker(v, *b, member_path(path, "breaker"));
  }
  if (const json* x = v.member(r, "retry", path, presence::optional)) {
    out.retry = parse_retry(v, *x, member_path(path, "retry"));
  }
  if (const json* d = v.member(r, "latency_deadlines_ms", path, presence::optional)) {
    out.deadlines = parse_deadlines(v, *d, member_path(path, "latency_deadlines_ms"));
  }
  if (const json* c = v.member(r, "cascade", path, presence::optional)) {
    out.cascade = parse_cascade(v, *c, member_path(path, "cascade"), known);
  }
  if (const json* c = v.member(r, "cache", path, presence::optional)) {
    out.cache = parse_cache(v, *c, member_path(path, "cache"));
  }
  if (const json* l = v.member(r, "rate_limits", path, presence::optional)) {
    out.rate_limits = parse_rate_limits(v, *l, member_path(path, "rate_limits"), known);
  }
  if (const json* f = v.member(r, "fallback", path, presence::optional)) {
    out.fallback = parse_fallback(v, *f, member_path(path, "fallback"), known);
  }
  return out;
}

store_settings parse_store(validator& v, const json& j, const std::string& path) {
  store_settings out;
  if (!v.object(j, path, store_keys)) return out;
  v.string(j, "path", path, presence::optional, out.path);
  if (const json* sync = v.member(j, "sync", path, presence::optional)) {
    if (sync->is_boolean())
      out.sync = sync->get<bool>();
    else
      v.fail(member_path(path, "sync"), "must be true or false", *sync);
  }
  v.integer(j, "completed_ttl_hours", path, presence::optional, 0, 24u * 365 * 100,
            out.completed_ttl_hours);
  v.integer(j, "resume_backoff_ms", path, presence::optional, 1, 3600000, out.resume_backoff_ms);
  bool max_ok = v.integer(j, "resume_max_backoff_ms", path, presence::optional, 1, 86400000,
                          out.resume_max_backoff_ms);
  if (max_ok && out.resume_max_backoff_ms < out.resume_backoff_ms)
    v.fail(member_path(path, "resume_max_backoff_ms"),
           "must be >= resume_backoff_ms (" + std::to_string(out.resume_backoff_ms) + ")",
           j.at("resume_max_backoff_ms"));
  return out;
}

support_settings parse_support(validator& v, const json& j, const std::string& path) {
  support_settings out;
  if (!v.object(j, path, support_keys)) return out;
  v.non_empty_string(j, "knowledge_base", path, presence::optional, out.knowledge_base);
  v.non_empty_string(j, "orders", path, presence::optional, out.orders);
  v.integer(j, "max_ticket_bytes", path, presence::optional, 1, 64u * 1024 * 1024,
            out.max_ticket_bytes);
  v.integer(j, "articles", path, presence::optional, 1, 20, out.articles);
  return out;
}

gateway_settings parse_gateway(validator& v, const json& j, const std::string& path) {
  gateway_settings out;
  if (!v.object(j, path, gateway_keys)) return out;
  if (v.non_empty_string(j, "listen", path, presence::optional, out.listen)) {
    auto colon = out.listen.rfind(':');
    bool port_ok = colon != std::string::npos && colon > 0 && colon + 1 < out.listen.size() &&
                   out.listen.find_first_not_of("0123456789", colon + 1) == std::string::npos &&
                   out.listen.size() - colon - 1 <= 5 &&
                   std::stoul(out.listen.substr(colon + 1)) <= 65535;
    if (!port_ok)
      v.fail(member_path(path, "listen"), "must be HOST:PORT with a port from 0 to 65535",
             j.at("listen"));
  }
  v.integer(j, "io_threads", path, presence::optional, 1, 64, out.io_threads);
  v.choice(j, "auth", path, presence::optional, {"keys", "none"}, out.auth);
  v.string(j, "keys_path", path, presence::optional, out.keys_path);
  v.integer(j, "max_body_bytes", path, presence::optional, 1024, 1u << 30, out.max_body_bytes);
  v.integer(j, "max_header_bytes", path, presence::optional, 1024, 1u << 20, out.max_header_bytes);
  v.integer(j, "idle_timeout_ms", path, presence::optional, 10, 3600000, out.idle_timeout_ms);
  v.integer(j, "read_timeout_ms", path, presence::optional, 10, 3600000, out.read_timeout_ms);
  v.integer(j, "max_connections", path, presence::optional, 1, 1000000, out.max_connections);
  v.integer(j, "request_timeout_ms", path, presence::optional, 10, 86400000,
            out.request_timeout_ms);
  v.integer(j, "default_max_tokens", path, presence::optional, 1, 10000000,
            out.default_max_tokens);
  if (const json* a = v.member(j, "audit", path, presence::optional)) {
    std::string at = member_path(path, "audit");
    if (v.object(*a, at, audit_keys)) {
      v.string(*a, "path", at, presence::optional, out.audit_path);
      v.integer(*a, "max_bytes", at, presence::optional, 4096, out.audit_max_bytes);
      v.integer(*a, "keep_files", at, presence::optional, 0, 1000, out.audit_keep_files);
      if (const json* p = v.member(*a, "prompts", at, presence::optional)) {
        if (p->is_boolean())
          out.audit_prompts = p->get<bool>();
        else
          v.fail(member_path(at, "prompts"), "must be true or false", *p);
      }
    }
  }
  return out;
}

config parse_document(validator& v, const json& doc) {
  config out;
  if (!v.object(doc, "", root_keys)) return out;
  catalog known;
  if (const json* r = v.member(doc, "runtime", "", presence::optional)) {
    out.runtime = parse_runtime(v, *r, "runtime");
  }
  if (const json* st = v.member(doc, "store", "", presence::optional)) {
    out.store = parse_store(v, *st, "store");
  }
  if (const json* su = v.member(doc, "support", "", presence::optional)) {
    out.support = parse_support(v, *su, "support");
  }
  if (const json* g = v.member(doc, "gateway", "", presence::optional)) {
    out.gateway = parse_gateway(v, *g, "gateway");
  }
  out.tiers = parse_tiers(v, doc, known);
  out.providers = parse_providers(v, doc, known);
  out.models = parse_models(v, doc, known);
  if (const json* s = v.member(doc, "supervisor", "", presence::optional)) {
    out.supervisor = parse_supervisor(v, *s, "supervisor");
  }
  if (const json* b = v.member(doc, "budgets", "", presence::optional)) {
    if (v.object(*b, "budgets", budgets_keys)) {
      if (const json* per_thread = v.member(*b, "per_thread", "budgets", presence::optional)) {
        out.thread_budget = parse_budget(v, *per_thread, "budgets.per_thread", budget_limits{});
      }
    }
  }
  if (const json* r = v.member(doc, "router", "", presence::optional)) {
    out.router = parse_router(v, *r, "router", known);
  }
  if (const json* w = v.member(doc, "workflows", "", presence::optional)) {
    if (!w->is_object()) {
      v.fail("workflows", "must be an object", *w);
    } else {
      for (const auto& item : w->items()) {
        std::string path = member_path("workflows", item.key());
        if (item.key().empty()) v.fail(path, "workflow names must not be empty");
        out.workflows[item.key()] = parse_workflow(v, item.value(), path, known, out.thread_budget);
      }
    }
  }
  if (const json* r = v.member(doc, "resilience", "", presence::optional)) {
    out.resilience = parse_resilience(v, *r, "resilience", known);
  }
  return out;
}

// Finds keys that appear twice in one object while parsing: nlohmann keeps the last
// one silently, and a silently dropped setting is exactly what validation exists to
// prevent. Tracks the path as a stack of open containers.
class duplicate_key_finder {
 public:
  bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        enter_element();
        frames_.push_back(frame{false, 0, {}, {}});
        break;
      case json::parse_event_t::array_start:
        enter_element();
        frames_.push_back(frame{true, 0, {}, {}});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!frames_.empty()) frames_.pop_back();
        break;
      case json::parse_event_t::key:
        if (!frames_.empty()) {
          frame& top = frames_.back();
          top.key = parsed.get<std::string>();
          if (!top.seen.insert(top.key).second) {
            errors.push_back(shown_path(current_path()) +
                             ": duplicate key; only the last value would be used");
          }
        }
        break;
      case json::parse_event_t::value:
        enter_element();
        break;
    }
    return true;
  }

  std::vector<std::string> errors;

 private:
  struct frame {
    bool is_array;
    size_t elements;  // arrays: elements started so far
    std::string key;  // objects: the current key
    std::set<std::string> seen;
  };

  void enter_element() {
    if (!frames_.empty() && frames_.back().is_array) ++frames_.back().elements;
  }

  std::string current_path() const {
    std::string path;
    for (const auto& f : frames_) {
      path = f.is_array ? element_path(path, f.elements - 1) : member_path(path, f.key);
    }
    return path;
  }

  std::vector<frame> frames_;
};

// nlohmann prefixes what() with "[json.exception.parse_error.101] "; users need only
// the part after it.
std::string without_exception_tag(const std::string& what) {
  if (!what.empty() && what[0] == '[') {
    auto end = what.find("] ");
    if (end != std::string::npos) return what.substr(end + 2);
  }
  return what;
}

}  // namespace

std::string to_string(residency x) {
  switch (x) {
    case residency::local:
      return "local";
    case residency::private_host:
      return "private";
    case residency::cloud:
      return "cloud";
  }
  return "cloud";
}

const model_config* config::find_model(const std::string& id) const {
  for (const auto& m : models) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

const provider_config* config::find_provider(const std::string& name) const {
  for (const auto& p : providers) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

int config::tier_rank(const std::string& tier) const {
  auto it = std::find(tiers.begin(), tiers.end(), tier);
  return it == tiers.end() ? -1 : static_cast<int>(it - tiers.begin());
}

workflow_settings config::workflow(const std::string& name) const {
  workflow_settings out;
  out.max_hops = supervisor.max_hops;
  out.step_timeout_ms = supervisor.step_timeout_ms;
  out.thread_budget = thread_budget;
  out.escalation = supervisor.escalation;
  auto it = workflows.find(name);
  if (it == workflows.end()) return out;
  const workflow_overrides& w = it->second;
  if (w.max_hops) out.max_hops = *w.max_hops;
  if (w.step_timeout_ms) out.step_timeout_ms = *w.step_timeout_ms;
  if (w.thread_budget) out.thread_budget = *w.thread_budget;
  if (w.escalation) out.escalation = *w.escalation;
  out.agents = w.agents;
  return out;
}

std::string config_load_result::message() const {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += '\n';
    out += source + ": " + e;
  }
  return out;
}

config_load_result parse_config(const nlohmann::json& doc, const std::string& source) {
  config_load_result result;
  result.source = source;
  try {
    validator v;
    config parsed = parse_document(v, doc);
    result.errors = v.take_errors();
    if (result.errors.empty()) result.value = std::move(parsed);
  } catch (const std::exception& e) {
    // Validation should not throw; if it does, say so rather than crash the caller.
    result.value.reset();
    result.errors.emplace_back(std::string("(root): internal error while validating: ") + e.what());
  } catch (...) {
    result.value.reset();
    result.errors.push_back("(root): internal error while validating");
  }
  return result;
}

config_load_result parse_config_text(const std::string& text, const std::string& source) {
  config_load_result result;
  result.source = source;
  try {
    duplicate_key_finder duplicates;
    json doc = json::parse(text, std::ref(duplicates));
    result = parse_config(doc, source);
    if (!duplicates.errors.empty()) {
      result.value.reset();
      result.errors.insert(result.errors.begin(), duplicates.errors.begin(),
                           duplicates.errors.end());
    }
  } catch (const json::parse_error& e) {
    result.errors.push_back("(root): invalid JSON at byte " + std::to_string(e.byte) + ": " +
                            without_exception_tag(e.what()));
  } catch (const std::exception& e) {
    result.value.reset();
    result.errors.emplace_back(std::string("(root): cannot parse: ") + e.what());
  } catch (...) {
    result.value.reset();
    result.errors.emplace_back("(root): cannot parse");
  }
  return result;
}

config_load_result load_config_file(const std::string& path) {
  config_load_result result;
  result.source = path;
  try {
    // stdio rather than iostreams: it reports *why* a read failed (errno), e.g. EISDIR
    // for a directory, which an ifstream opens happily and then reads as empty.
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                         &std::fclose);
    if (!file) {
      result.errors.push_back("cannot read file: " +
                              std::error_code(errno, std::generic_category()).message());
      return result;
    }
    std::string text;
    std::vector<char> buffer(64 * 1024);
    size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
      text.append(buffer.data(), n);
    }
    if (std::ferror(file.get()) != 0) {
      result.errors.push_back("cannot read file: " +
                              std::error_code(errno, std::generic_category()).message());
      return result;
    }
    result = parse_config_text(text, path);
    if (result.value) {
      auto slash = path.find_last_of('/');
      result.value->base_dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
      if (result.value->base_dir.size() > 1 && result.value->base_dir.back() == '/')
        result.value->base_dir.pop_back();
    }
    return result;
  } catch (const std::exception& e) {
    result.value.reset();
    result.errors.emplace_back(std::string("cannot read file: ") + e.what());
  }
  return result;
}

}  // namespace switchyard
