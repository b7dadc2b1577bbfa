#pragma once
// Switchyard's configuration: one JSON file holding the runtime settings, the model
// catalog, supervisor limits, budgets and per-workflow settings.
//
// Loading validates everything and reports *every* problem, each with its JSON path
// and the value found ("models[2].price_in_per_mtok: must be >= 0, got -1"). Unknown
// keys are errors: a typo must never be silently ignored. The format is documented
// in docs/config.md; examples/configs/default.json is a complete example.

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/resilience_settings.hpp"

namespace switchyard {

/// Where a model runs, as far as data protection is concerned. Data classed as
/// private may only go to `local` or `private_host` models (enforced by the router).
enum class residency { local, private_host, cloud };

/// "local", "private", "cloud".
std::string to_string(residency x);

/// Runtime knobs for the actor system.
struct runtime_settings {
  /// CAF scheduler policy: "sharing" (one shared queue; fastest request/reply round
  /// trips on few cores) or "stealing". Default: "sharing".
  std::string scheduler = "sharing";
  /// Scheduler worker threads; 0 means one per hardware thread. Default: 0.
  uint32_t workers = 0;
  /// spdlog level: trace, debug, info, warn, error, critical, off. Default: "info".
  std::string log_level = "info";
};

/// A fault the sim provider injects. `kind` is one of rate_limited, server_error,
/// timeout. It fires on every `every`-th call to the model (1-based: calls N, 2N,
/// ...) when `every` > 0, and otherwise with `probability`, drawn deterministically
/// from the provider seed and the call's index.
struct sim_fault {
  std::string kind;
  uint32_t every = 0;
  double probability = 0;
  uint32_t retry_after_ms = 1000;  // only for rate_limited
};

/// A window, in milliseconds since the sim provider started, during which every call
/// to the model fails with a `connection` error (an outage).
struct sim_outage {
  uint64_t from_ms = 0;
  uint64_t to_ms = 0;
};

/// Behaviour of one model when served by the sim provider.
struct sim_model_settings {
  uint32_t latency_ms = 0;           // fixed part of every call's latency
  uint32_t ms_per_output_token = 0;  // added per generated token
  uint32_t timeout_ms = 30000;       // how long a `timeout` fault makes the caller wait
  std::vector<sim_fault> faults;
  std::vector<sim_outage> outages;
};

struct model_config {
  std::string id;
  std::string provider;                   // name of an entry in `providers`
  std::string tier;                       // name of an entry in `tiers`
  double price_in_per_mtok = 0;           // USD per million input tokens
  double price_out_per_mtok = 0;          // USD per million output tokens
  uint32_t context_window = 0;            // tokens, prompt plus completion
  std::vector<std::string> capabilities;  // of: tools, vision, json_mode, logprobs
  residency where = residency::cloud;
  std::string region;      // free-form, e.g. "eu-west"; empty when unknown
  sim_model_settings sim;  // used only when the provider's kind is "sim"
  /// The name the provider knows the model by (the `model` field on the wire);
  /// defaults to `id`. Lets two providers serve the same model under distinct ids.
  std::string provider_model;

  /// provider_model, or id when that is empty.
  const std::string& wire_name() const { return provider_model.empty() ? id : provider_model; }
};

/// An endpoint that serves models. Kind "sim" is the in-process simulator; the HTTP
/// kinds name a wire format: "openai" (OpenAI-compatible chat completions: OpenAI,
/// vLLM, Ollama, llama.cpp server, OpenRouter, LiteLLM, Azure OpenAI), "anthropic"
/// (Messages API) and "gemini" (generateContent). Only sim providers take `seed`;
/// only HTTP providers take the rest.
struct provider_config {
  std::string name;
  std::string kind;
  uint64_t seed = 42;  // sim: seeds the deterministic fault draws

  /// http(s)://host[:port][/path]; request targets are appended to its path, e.g.
  /// "https://api.openai.com/v1" + "/chat/completions". Default per kind: openai
  /// https://api.openai.com/v1, anthropic https://api.anthropic.com, gemini
  /// https://generativelanguage.googleapis.com/v1beta.
  std::string base_url;
  /// Name of the environment variable holding the API key; empty: no key is sent
  /// (local servers). The key itself never appears in the config.
  std::string api_key_env;
  /// openai: when set, Azure style (`api-version` query, `api-key` header);
  /// anthropic: the `anthropic-version` header (default "2023-06-01"); gemini: unused.
  std::string api_version;
  /// Extra headers sent with every request (e.g. OpenRouter's HTTP-Referer).
  std::vector<std::pair<std::string, std::string>> headers;
  uint32_t connect_timeout_ms = 5000;      // TCP connect plus TLS handshake
  uint32_t first_byte_timeout_ms = 60000;  // request sent -> first response byte
  uint32_t total_timeout_ms = 300000;      // whole call, streaming included
  uint32_t max_connections = 8;            // keep-alive pool size for this endpoint

  bool is_http() const { return kind != "sim"; }
};

struct budget_limits {
  uint64_t max_tokens = 0;  // input plus output tokens per thread; 0 means unlimited
  double max_cost_usd = 0;  // USD per thread; 0 means unlimited
};

/// What happens to a run the supervisor stops (hop limit, budget exhausted).
struct escalation_settings {
  /// "handoff": the run ends with a human-handoff record (and, when `handoff_file` is
  /// set, the record is appended to that JSONL file). "agent": the run's graph node
  /// named by `agent` gets the escalated run and writes the final output.
  std::string target = "handoff";
  std::string agent;
  std::string handoff_file;
};

/// Per-agent model settings inside a workflow; empty fields keep the agent's own
/// defaults.
struct agent_settings {
  std::string model;
  std::string tier;
  uint32_t max_tokens = 0;  // 0: the agent's default
  std::string system_prompt;
};

/// Settings of one workflow as written in the file; absent values fall back to the
/// top-level `supervisor` and `budgets` sections (see config::workflow()).
struct workflow_overrides {
  std::optional<uint32_t> max_hops;
  std::optional<uint32_t> step_timeout_ms;
  std::optional<budget_limits> thread_budget;
  std::optional<escalation_settings> escalation;
  std::map<std::string, agent_settings> agents;
};

/// Effective settings of one workflow, defaults applied.
struct workflow_settings {
  uint32_t max_hops = 8;
  uint32_t step_timeout_ms = 60000;
  budget_limits thread_budget;
  escalation_settings escalation;
  std::map<std::string, agent_settings> agents;
};

struct supervisor_settings {
  /// Agent-to-agent messages allowed per run. Default: 8.
  uint32_t max_hops = 8;
  /// How long the run waits for one step before failing it. Default: 60000.
  uint32_t step_timeout_ms = 60000;
  escalation_settings escalation;
};

/// A route: an intent the router recognises, defined by example utterances (inline or
/// a file with one utterance per line), and the tier that serves it by default.
struct route_config {
  std::string name;
  std::string tier;
  std::vector<std::string> examples;
  std::string examples_file;  // relative paths resolve against the config file's folder
};

/// A rule evaluated before the classifier. Every condition given must hold: any of
/// `keywords` (whole words, case-insensitive), `regex` (RE2, case-insensitive), and
/// every `metadata` pair equal to the request's. A rule that fires sets the route,
/// the tier and/or the data class; the first rule to set each one wins.
struct routing_rule {
  std::string name;
  std::vector<std::string> keywords;
  std::string regex;
  std::map<std::string, std::string> metadata;
  std::string route;
  std::string tier;
  std::string data_class;
};

/// How the complexity estimate moves a request above its route's tier: one tier up
/// for a long prompt, one for code or a question with several parts.
struct complexity_settings {
  uint32_t long_prompt_tokens = 1500;
  uint32_t multi_part_questions = 3;  // this many questions or numbered items
};

/// The longest observed model latency each latency class tolerates (0: no limit).
struct latency_class_settings {
  uint32_t realtime_ms = 2000;
  uint32_t interactive_ms = 20000;
  uint32_t batch_ms = 0;
};

/// An external OpenAI-compatible embeddings service the intent classifier runs on
/// (`router.embeddings`; router/embedding_encoder.hpp). Unset (empty model): TF-IDF.
struct embeddings_settings {
  std::string provider;    // name of a `providers` entry of kind "openai"
  std::string model;       // the service's model name, e.g. "text-embedding-3-small"
  uint32_t dimension = 0;  // length of its vectors; a reply of another length is an error
  /// Texts per request when the route examples are embedded at start-up. Default: 64.
  uint32_t batch_size = 64;
  /// A routing call waits this long for its embedding, then routes with TF-IDF.
  /// Default: 2000.
  uint32_t timeout_ms = 2000;
  /// After a failed call, route with TF-IDF without asking for this long. Default: 5000.
  uint32_t cooldown_ms = 5000;

  bool enabled() const { return !model.empty(); }
};

struct router_settings {
  std::vector<route_config> routes;
  std::string default_route;     // applies when no rule or confident classification does
  double threshold = 0.5;        // classifier confidence below this means "no route"
  std::string classifier_model;  // saved classifier file; empty: train at start
  std::vector<routing_rule> rules;
  complexity_settings complexity;
  latency_class_settings latency;
  embeddings_settings embeddings;
};

/// The durable run store (RocksDB). See docs/durability.md.
struct store_settings {
  /// Database directory. Empty: the engine keeps runs in memory only (no recovery);
  /// `switchyard run` then uses its --db default. Default: "".
  std::string path;
  /// fsync every step's checkpoint: survives power loss at ~300 us a step. Off, a
  /// process crash (kill -9) still loses nothing; a power loss may lose the last
  /// steps written. Default: false.
  bool sync = false;
  /// Ended runs (completed, escalated, failed) are deleted this many hours after
  /// their last update; 0 keeps them forever. Default: 168 (7 days).
  uint32_t completed_ttl_hours = 168;
  /// First wait before a blocked run's provider is checked again; doubles after each
  /// check that finds it still down. Default: 200.
  uint32_t resume_backoff_ms = 200;
  /// Cap of that wait. Default: 30000.
  uint32_t resume_max_backoff_ms = 30000;
};

/// The customer-support swarm's data (workflow `support`). Relative paths resolve
/// against the config file's folder. Both are optional: without them the researcher
/// and the scripted agent answer their steps with an error that names the key.
struct support_settings {
  /// Folder of knowledge-base articles (*.md, agents/knowledge_base.hpp). Default: "".
  std::string knowledge_base;
  /// The order store the scripted agent tracks orders in (JSON). Default: "".
  std::string orders;
  /// Longest ticket accepted, in bytes; a longer one is rejected with an error
  /// naming its size. Default: 262144 (256 KiB).
  uint32_t max_ticket_bytes = 262144;
  /// How many knowledge-base articles the researcher puts in its prompt. Default: 3.
  uint32_t articles = 3;
};

/// The HTTP gateway (`switchyard serve`, docs/gateway.md). Section `gateway`.
struct gateway_settings {
  /// host:port to listen on; `serve --listen` overrides it. Default: "127.0.0.1:8080".
  std::string listen = "127.0.0.1:8080";
  /// I/O threads of the HTTP server (they only parse and write; model calls run on
  /// CAF's scheduler). Default: 1.
  uint32_t io_threads = 1;
  /// "keys": every /v1 request needs a virtual key (`switchyard keys create`);
  /// "none": no authentication, for a gateway only this machine can reach.
  /// Default: "keys".
  std::string auth = "keys";
  /// Key database (RocksDB) directory; `serve --keys-db` and `keys --db` override it.
  /// Empty: "<store path>-keys". Default: "".
  std::string keys_path;
  /// Largest request body accepted; larger gets 413. Default: 1048576 (1 MiB).
  uint32_t max_body_bytes = 1u << 20;
  /// Largest request header block accepted; larger gets 431. Default: 16384.
  uint32_t max_header_bytes = 16384;
  /// A connection must deliver a request's whole header within this long of being
  /// accepted or of its previous response (keep-alive idle + slow headers). Default: 30000.
  uint32_t idle_timeout_ms = 30000;
  /// After its header, a request's body must arrive within this long. Default: 30000.
  uint32_t read_timeout_ms = 30000;
  /// Open connections at most; more are answered 503 and closed. Default: 1024.
  uint32_t max_connections = 1024;
  /// How long a model call or a waited-for run may take before the client gets 504.
  /// Default: 300000.
  uint32_t request_timeout_ms = 300000;
  /// max_tokens for a chat completion that does not say. Default: 1024.
  uint32_t default_max_tokens = 1024;
  /// Audit log (JSONL, one record per model call). Empty path: no audit. Default: "".
  std::string audit_path;
  /// Rotate the audit file when it reaches this size (file -> file.1 -> ...). Default: 67108864.
  uint64_t audit_max_bytes = 64ull << 20;
  /// Rotated audit files kept besides the live one. Default: 5.
  uint32_t audit_keep_files = 5;
  /// Write the prompt itself into audit records (a SHA-256 of it is always there).
  /// Default: false.
  bool audit_prompts = false;
};

struct config {
  runtime_settings runtime;
  gateway_settings gateway;
  store_settings store;
  std::vector<std::string> tiers;  // ordered by capability, cheapest first
  std::vector<provider_config> providers;
  std::vector<model_config> models;
  supervisor_settings supervisor;
  budget_limits thread_budget;  // from budgets.per_thread
  std::map<std::string, workflow_overrides> workflows;
  router_settings router;
  support_settings support;
  std::string base_dir;  // folder of the config file ("" when parsed from text)

  /// Breakers, retries, rate-limit waits, cascade thresholds, response cache
  /// (section `resilience`; runtime/resilience_settings.hpp).
  resilience_settings resilience;

  /// The model with this id, or nullptr.
  const model_config* find_model(const std::string& id) const;
  /// The provider with this name, or nullptr.
  const provider_config* find_provider(const std::string& name) const;
  /// Position of `tier` in `tiers`, or -1.
  int tier_rank(const std::string& tier) const;
  /// Effective settings for `workflow` (defaults when the file does not mention it).
  workflow_settings workflow(const std::string& name) const;
};

/// The outcome of loading a config: either a config, or every problem found.
struct config_load_result {
  std::optional<config> value;
  std::vector<std::string> errors;  // each: "<json path>: <problem>, got <value>"
  std::string source;  // file path or the name given to parse_config(); prefixes message()

  bool ok() const { return value.has_value(); }
  /// All errors, one per line, prefixed with the source name.
  std::string message() const;
};

/// Parses and validates a config document. `source` names it in messages.
config_load_result parse_config(const nlohmann::json& doc, const std::string& source);
/// Parses JSON text, then validates it. Syntax errors name the byte offset.
config_load_result parse_config_text(const std::string& text, const std::string& source);
/// Reads a file, then parses it. A missing or unreadable file is reported as such.
config_load_result load_config_file(const std::string& path);

}  // namespace switchyard
