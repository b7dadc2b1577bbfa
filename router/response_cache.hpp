#pragma once
// Response cache: exact and semantic, namespaced per tenant and agent state, stored in
// RocksDB. Plain class, no CAF, thread-safe (one mutex; RocksDB does the I/O).
//
// - Exact: the key is SHA-256 over the scope (tenant, workflow, node, tool-state hash)
//   and the canonical request (every message's role and content, the tool definitions,
//   the parameters sorted by name, the temperature), each field length-prefixed so
//   no two requests encode alike.
// - Semantic: requests whose scope and *context* (everything but the last user
//   message) are identical, embedded in the same vector space (the encoder's identity),
//   form a namespace with its own hnswlib index over the last user message's
//   embedding; a cached answer is returned when the cosine similarity is at least
//   `semantic_threshold`. The vectors come from an embedding_encoder (the model service
//   uses the router's: projected_text_encoder over the classifier's TF-IDF features,
//   or the embeddings service's vectors passed in cache_request::embedding). Because
//   the scope is part of the namespace and of the exact key, a tenant never sees
//   another tenant's answers and an agent never gets an answer cached for a different
//   workflow node or tool state; a prompt of which the encoder knows no feature (a
//   zero vector) is matched exactly or not at all.
// - A request with temperature > 0 is neither looked up nor stored unless the route
//   opts in (cache_policy::allow_nonzero_temperature): its answers are meant to vary.
// - Entries expire `ttl_ms` after they were stored, on the injected clock. The clock
//   must be a wall clock (wall_clock_source) in production: entries outlive the process.
// - RocksDB keys are prefixed "rc/x/" (exact) and "rc/s/" (semantic), so the cache can
//   share a database with other state. The semantic indexes are rebuilt from RocksDB
//   when the cache opens. Writes are not synced: losing the last entries in a power
//   cut costs a few cache misses, nothing more.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "router/embedding_encoder.hpp"
#include "runtime/clock.hpp"
#include "runtime/messages.hpp"
#include "runtime/resilience_settings.hpp"

namespace rocksdb {
class DB;
}

namespace switchyard {

/// Whose answer this is. `tool_state_hash` is the caller's hash of the agent's tool
/// state (empty when the agent has none).
struct cache_scope {
  std::string tenant;
  std::string workflow;
  std::string node;
  std::string tool_state_hash;
};

struct cache_request {
  cache_scope scope;
  std::vector<chat_message> messages;
  std::vector<std::string> tools;             // tool definitions, e.g. JSON text
  std::map<std::string, std::string> params;  // model, max_tokens, json_mode, ...
  double temperature = 0;
  /// The last user message's vector when the caller already has it (a remote
  /// encoder's, in the space of the cache's encoder); empty: the encoder computes it.
  std::vector<float> embedding;
};

struct cache_policy {
  bool allow_nonzero_temperature = false;  // the route opts in to caching sampled answers
  bool semantic = true;                    // also match similar prompts
};

struct cache_lookup {
  enum kind { miss, exact, semantic, not_cacheable };
  kind what = miss;
  std::string response;
  double similarity = 0;  // semantic hits: cosine similarity of the prompts
};

struct cache_counters {
  uint64_t exact_hits = 0;
  uint64_t semantic_hits = 0;
  uint64_t misses = 0;
  uint64_t expired = 0;        // entries found but past their TTL (counted as misses too)
  uint64_t not_cacheable = 0;  // lookups and stores skipped (temperature > 0)
  uint64_t stores = 0;
};

/// SHA-256 of the canonical request, hex. Exposed for tests and audit logs.
std::string canonical_request_hash(const cache_request& request);

class response_cache {
 public:
  /// Opens (or creates) the RocksDB database at `path`. `encoder` may be null: exact
  /// matching only. `clock` and `encoder` must outlive the cache. On failure returns
  /// null and sets `error`.
  static std::unique_ptr<response_cache> open(const std::string& path,
                                              const response_cache_settings& settings,
                                              const clock_source& clock,
                                              const embedding_encoder* encoder, std::string& error);
  ~response_cache();

  cache_lookup lookup(const cache_request& request, const cache_policy& policy = {});
  /// Stores `response` for `request`. False when the request is not cacheable or the
  /// write failed (`error()` says why).
  bool store(const cache_request& request, const std::string& response,
             const cache_policy& policy = {});
  cache_counters counters() const;
  std::string error() const;

 private:
  struct semantic_index;
  response_cache(std::unique_ptr<rocksdb::DB> db, const response_cache_settings& settings,
                 const clock_source& clock, const embedding_encoder* encoder);
  void load_semantic_entries();
  semantic_index& index_for(const std::string& ns);
  // The unit vector of the request's last user message; false when there is none.
  bool embedding_of(const cache_request& request, std::vector<float>& out) const;

  std::unique_ptr<rocksdb::DB> db_;
  response_cache_settings settings_;
  const clock_source& clock_;
  const embedding_encoder* encoder_;
  std::string space_;  // encoder_->identity(): part of every semantic namespace
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::unique_ptr<semantic_index>> indexes_;
  uint64_t next_id_ = 0;
  cache_counters counters_;
  std::string error_;
};

}  // namespace switchyard
