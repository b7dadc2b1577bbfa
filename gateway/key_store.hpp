#pragma once
// Virtual API keys for the gateway, in a RocksDB database of their own. A key is
// "sy-<12 hex id>-<64 hex secret>"; only its SHA-256 is stored (OpenSSL), so the
// database never holds a usable key, and logs and audit records name keys by id only.
// Each key may carry a budget (USD, 0 = unlimited) and a rate limit (requests per
// minute, 0 = unlimited); its spend is kept with it.
//
// The database is locked by the process that opens it read-write: while `switchyard
// serve` has it, `switchyard keys` goes through the server's /admin/keys endpoint
// (server/cli_keys.cpp). All methods are thread-safe (one mutex); authenticate() is a
// hash plus a map lookup.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rocksdb {
class DB;
}

namespace switchyard::gateway {

struct key_record {
  std::string id;    // public; what logs and audit records show
  std::string name;  // a label for humans
  std::string hash;  // hex SHA-256 of the whole key
  int64_t created_ms = 0;
  bool revoked = false;
  double budget_usd = 0;  // 0: unlimited
  uint32_t rpm = 0;       // requests per minute; 0: unlimited
  double spent_usd = 0;
  uint64_t tokens = 0;
  uint64_t requests = 0;
};

/// What a key listing shows of a key (`keys list --json`, GET /admin/keys): every field
/// but the hash.
nlohmann::json key_json(const key_record& k);

/// Where a running `switchyard serve` announces its /admin/keys endpoint for the key
/// database at `keys_db`: "<keys_db>.admin.json" (mode 0600, removed at a clean stop),
/// holding {"url": "http://127.0.0.1:PORT", "token": "...", "pid": N}. Reading it takes
/// the same file access as opening the database, so it grants nothing more.
std::string keys_admin_file(const std::string& keys_db);

/// Lower-case hex SHA-256 of `text`.
std::string sha256_hex(std::string_view text);

class key_store {
 public:
  struct open_result {
    std::unique_ptr<key_store> store;
    std::string error;
    bool locked = false;  // another process (a running `switchyard serve`) has it open
    bool ok() const { return store != nullptr; }
  };
  /// Opens (creating when missing) the key database at `path`.
  static open_result open(const std::string& path);
  ~key_store();
  key_store(const key_store&) = delete;
  key_store& operator=(const key_store&) = delete;

  struct created {
    std::string key;  // shown once; not stored anywhere
    key_record record;
    std::string error;
  };
  /// A new key. `name` must be non-empty.
  created create(const std::string& name, double budget_usd, uint32_t rpm);
  /// Every key, oldest first.
  std::vector<key_record> list() const;
  /// Marks key `id` revoked; returns an error message, empty on success.
  std::string revoke(const std::string& id);
  /// The record of a live (not revoked) key, or nullopt.
  std::optional<key_record> authenticate(std::string_view key) const;
  /// Adds one request's usage to key `id` and persists it (unsynced write).
  void record_usage(const std::string& id, double usd, uint64_t tokens);
  size_t size() const;

 private:
  key_store() = default;
  std::string put(const key_record& r);  // error or ""
  mutable std::mutex mu_;
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, key_record> by_id_;
  std::map<std::string, std::string> id_by_hash_;
};

/// Requests-per-minute limits per key: a token bucket of `rpm` tokens refilled at
/// rpm/60 per second, so a burst of `rpm` passes and then the steady rate. Time is
/// passed in (milliseconds, any monotonic origin). Thread-safe.
class key_rate_limiter {
 public:
  /// 0 when the request may go now; otherwise milliseconds until it could.
  uint32_t acquire(const std::string& key_id, uint32_t rpm, int64_t now_ms);

 private:
  struct bucket {
    double tokens = 0;
    int64_t at_ms = 0;
  };
  std::mutex mu_;
  std::map<std::string, bucket> buckets_;
};

}  // namespace switchyard::gateway
