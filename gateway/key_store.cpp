#include "gateway/key_store.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

namespace switchyard::gateway {

namespace {

using json = nlohmann::json;

std::string hex(const unsigned char* data, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(bytes)) != 1)
    throw std::runtime_error("key store: OpenSSL RAND_bytes failed");
  return hex(buf.data(), bytes);
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json to_json(const key_record& r) {
  return {{"id", r.id},           {"name", r.name},
          {"hash", r.hash},       {"created_ms", r.created_ms},
          {"revoked", r.revoked}, {"budget_usd", r.budget_usd},
          {"rpm", r.rpm},         {"spent_usd", r.spent_usd},
          {"tokens", r.tokens},   {"requests", r.requests}};
}

key_record from_json(const json& j) {
  key_record r;
  r.id = j.at("id").get<std::string>();
  r.name = j.at("name").get<std::string>();
  r.hash = j.at("hash").get<std::string>();
  r.created_ms = j.at("created_ms").get<int64_t>();
  r.revoked = j.at("revoked").get<bool>();
  r.budget_usd = j.at("budget_usd").get<double>();
  r.rpm = j.at("rpm").get<uint32_t>();
  r.spent_usd = j.at("spent_usd").get<double>();
  r.tokens = j.at("tokens").get<uint64_t>();
  r.requests = j.at("requests").get<uint64_t>();
  return r;
}

const std::string key_prefix = "key/";

}  // namespace

json key_json(const key_record& k) {
  return {{"id", k.id},
          {"name", k.name},
          {"revoked", k.revoked},
          {"created_ms", k.created_ms},
          {"budget_usd", k.budget_usd},
          {"rpm", k.rpm},
          {"spent_usd", k.spent_usd},
          {"tokens", k.tokens},
          {"requests", k.requests}};
}

std::string sha256_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  return hex(digest, len);
}

std::string keys_admin_file(const std::string& keys_db) {
  auto path = keys_db;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path + ".admin.json";
}

key_store::open_result key_store::open(const std::string& path) {
  open_result result;
  rocksdb::Options options;
  options.create_if_missing = true;
  options.keep_log_file_num = 2;
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(options, path, &raw);
  if (!st.ok()) {
    auto text = st.ToString();
    result.locked = text.find("lock") != std::string::npos || text.find("LOCK") != std::string::npos;
    result.error = result.locked
                       ? fmt::format(
                             "key database '{}' is locked by another process (a running "
                             "`switchyard serve`? stop it to manage keys): {}",
                             path, text)
                       : fmt::format("cannot open key database '{}': {}", path, text);
    return result;
  }
  std::unique_ptr<key_store> store{new key_store};
  store->db_.reset(raw);
  std::unique_ptr<rocksdb::Iterator> it{store->db_->NewIterator(rocksdb::ReadOptions{})};
  for (it->Seek(key_prefix); it->Valid() && it->key().starts_with(key_prefix); it->Next()) {
    auto doc = json::parse(it->value().ToString(), nullptr, false);
    try {
      auto r = from_json(doc);
      store->id_by_hash_[r.hash] = r.id;
      store->by_id_[r.id] = std::move(r);
    } catch (const json::exception&) {
      result.error =
          fmt::format("key database '{}': record '{}' is corrupt", path, it->key().ToString());
      return result;
    }
  }
  result.store = std::move(store);
  return result;
}

key_store::~key_store() = default;

std::string key_store::put(const key_record& r) {
  auto st = db_->Put(rocksdb::WriteOptions{}, key_prefix + r.id, to_json(r).dump());
  return st.ok() ? "" : st.ToString();
}

key_store::created key_store::create(const std::string& name, double budget_usd, uint32_t rpm) {
  created out;
  if (name.empty()) {
    out.error = "keys create: --name must not be empty";
    return out;
  }
  if (!(budget_usd >= 0)) {
    out.error = "keys create: --budget-usd must be >= 0";
    return out;
  }
  std::lock_guard<std::mutex> lock{mu_};
  key_record r;
  do {
    r.id = random_hex(6);
  } while (by_id_.count(r.id));
  out.key = "sy-" + r.id + "-" + random_hex(32);
  r.name = name;
  r.hash = sha256_hex(out.key);
  r.created_ms = now_ms();
  r.budget_usd = budget_usd;
  r.rpm = rpm;
  // A key is only handed out once it is durable.
  rocksdb::WriteOptions sync;
  sync.sync = true;
  auto st = db_->Put(sync, key_prefix + r.id, to_json(r).dump());
  if (!st.ok()) {
    out.error = "keys create: cannot write the key: " + st.ToString();
    out.key.clear();
    return out;
  }
  id_by_hash_[r.hash] = r.id;
  by_id_[r.id] = r;
  out.record = std::move(r);
  return out;
}

std::vector<key_record> key_store::list() const {
  std::lock_guard<std::mutex> lock{mu_};
  std::vector<key_record> out;
  for (const auto& [id, r] : by_id_) out.push_back(r);
  std::sort(out.begin(), out.end(),
            [](const key_record& a, const key_record& b) { return a.created_ms < b.created_ms; });
  return out;
}

std::string key_store::revoke(const std::string& id) {
  std::lock_guard<std::mutex> lock{mu_};
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return fmt::format("keys revoke: no key with id '{}'", id);
  it->second.revoked = true;
  auto error = put(it->second);
  return error.empty() ? "" : "keys revoke: " + error;
}

std::optional<key_record> key_store::authenticate(std::string_view key) const {
  // Cheap shape check first; the hash lookup itself is by value, so there is no
  // byte-by-byte comparison of secrets to time.
  if (key.size() != 3 + 12 + 1 + 64 || key.substr(0, 3) != "sy-") return std::nullopt;
  auto hash = sha256_hex(key);
  std::lock_guard<std::mutex> lock{mu_};
  auto id = id_by_hash_.find(hash);
  if (id == id_by_hash_.end()) return std::nullopt;
  const auto& r = by_id_.at(id->second);
  if (r.revoked) return std::nullopt;
  return r;
}

void key_store::record_usage(const std::string& id, double usd, uint64_t tokens) {
  std::lock_guard<std::mutex> lock{mu_};
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  it->second.spent_usd += usd;
  it->second.tokens += tokens;
  it->second.requests += 1;
  put(it->second);
}

size_t key_store::size() const {
  std::lock_guard<std::mutex> lock{mu_};
  return by_id_.size();
}

uint32_t key_rate_limiter::acquire(const std::string& key_id, uint32_t rpm, int64_t now_ms) {
  if (rpm == 0) return 0;
  std::lock_guard<std::mutex> lock{mu_};
  auto [it, fresh] = buckets_.try_emplace(key_id, bucket{static_cast<double>(rpm), now_ms});
  auto& b = it->second;
  double per_ms = rpm / 60000.0;
  if (!fresh && now_ms > b.at_ms) {
    b.tokens = std::min<double>(rpm, b.tokens + (now_ms - b.at_ms) * per_ms);
    b.at_ms = now_ms;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return static_cast<uint32_t>(std::ceil((1 - b.tokens) / per_ms));
}

}  // namespace switchyard::gateway
