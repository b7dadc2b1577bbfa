#include "router/response_cache.hpp"

// hnswlib 0.6.2's SSE path prefetches one link past the end of a neighbour list, a
// heap over-read ASan reports. The scalar path computes the same distances and,
// at our dimensions and index sizes, fast enough.
#define NO_MANUAL_VECTORIZATION
#include <hnswlib/hnswlib.h>
#include <openssl/evp.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

namespace switchyard {

namespace {

constexpr const char* exact_prefix = "rc/x/";
constexpr const char* semantic_prefix = "rc/s/";
// Nearest neighbours looked at per semantic lookup: a few, so an expired nearest
// entry does not hide a live one just behind it.
constexpr size_t neighbours = 4;

void field(std::string& out, std::string_view text) {
  out += std::to_string(text.size());
  out += ':';
  out.append(text.data(), text.size());
}

std::string hex(const unsigned char* bytes, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return hex(md, len);
}

void encode_scope(std::string& out, const cache_scope& s) {
  field(out, "scope");
  field(out, s.tenant);
  field(out, s.workflow);
  field(out, s.node);
  field(out, s.tool_state_hash);
}

// Everything that shapes the answer except the messages.
void encode_settings(std::string& out, const cache_request& r) {
  field(out, "tools");
  out += std::to_string(r.tools.size()) + ';';
  for (const auto& t : r.tools) field(out, t);
  field(out, "params");
  out += std::to_string(r.params.size()) + ';';
  for (const auto& [name, value] : r.params) {  // std::map: sorted by name
    field(out, name);
    field(out, value);
  }
  char temperature[32];
  std::snprintf(temperature, sizeof temperature, "%.17g", r.temperature);
  field(out, temperature);
}

void encode_messages(std::string& out, const std::vector<chat_message>& messages, size_t count) {
  field(out, "messages");
  out += std::to_string(count) + ';';
  for (size_t i = 0; i < count; ++i) {
    field(out, messages[i].role);
    field(out, messages[i].content);
  }
}

bool last_is_user(const cache_request& r) {
  return !r.messages.empty() && r.messages.back().role == "user";
}

// The semantic namespace: the vector space, the scope and everything but the last user
// message.
std::string semantic_namespace(const cache_request& r, const std::string& space) {
  std::string out;
  field(out, space);
  encode_scope(out, r.scope);
  encode_settings(out, r);
  encode_messages(out, r.messages, r.messages.size() - 1);
  return sha256_hex(out);
}

void put_i64(std::string& out, int64_t x) {
  char bytes[8];
  std::memcpy(bytes, &x, 8);
  out.append(bytes, 8);
}

int64_t get_i64(const char* p) {
  int64_t x;
  std::memcpy(&x, p, 8);
  return x;
}

std::string id_text(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

}  // namespace

std::string canonical_request_hash(const cache_request& request) {
  std::string out;
  encode_scope(out, request.scope);
  encode_settings(out, request);
  encode_messages(out, request.messages, request.messages.size());
  return sha256_hex(out);
}

struct response_cache::semantic_index {
  explicit semantic_index(size_t dimension)
      : space(dimension), index(&space, initial_capacity, 16, 100) {}
  static constexpr size_t initial_capacity = 256;
  hnswlib::InnerProductSpace space;
  hnswlib::HierarchicalNSW<float> index;
  size_t capacity = initial_capacity;
  size_t added = 0;  // points ever added; hnswlib keeps deleted ones, so this sizes it
  size_t count = 0;  // live points
  std::unordered_map<hnswlib::labeltype, std::string> keys;  // label -> RocksDB key
};

std::unique_ptr<response_cache> response_cache::open(const std::string& path,
                                                     const response_cache_settings& settings,
                                                     const clock_source& clock,
                                                     const embedding_encoder* encoder,
                                                     std::string& error) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status status = rocksdb::DB::Open(options, path, &raw);
  if (!status.ok()) {
    error = "response cache: cannot open RocksDB at " + path + ": " + status.ToString();
    return nullptr;
  }
  std::unique_ptr<response_cache> cache(
      new response_cache(std::unique_ptr<rocksdb::DB>(raw), settings, clock, encoder));
  cache->load_semantic_entries();
  return cache;
}

response_cache::response_cache(std::unique_ptr<rocksdb::DB> db,
                               const response_cache_settings& settings, const clock_source& clock,
                               const embedding_encoder* encoder)
    : db_(std::move(db)),
      settings_(settings),
      clock_(clock),
      encoder_(encoder),
      space_(encoder != nullptr ? encoder->identity() : std::string{}) {}

response_cache::~response_cache() = default;

bool response_cache::embedding_of(const cache_request& request, std::vector<float>& out) const {
  if (!request.embedding.empty()) {
    out = request.embedding;
    normalise(out);
  } else {
    out = encoder_->encode(request.messages.back().content);
  }
  // A vector of another space, or of a text the encoder knows nothing about (all
  // zeros: every such text would look alike), takes no part in semantic matching.
  if (out.size() != encoder_->dimension()) return false;
  return std::any_of(out.begin(), out.end(), [](float x) { return x != 0.0f; });
}

response_cache::semantic_index& response_cache::index_for(const std::string& ns) {
  auto& slot = indexes_[ns];
  if (!slot) slot = std::make_unique<semantic_index>(encoder_->dimension());
  return *slot;
}

void response_cache::load_semantic_entries() {
  const int64_t now = clock_.now().count();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  rocksdb::WriteBatch expired;
  const size_t prefix_len = std::strlen(semantic_prefix);
  for (it->Seek(semantic_prefix); it->Valid() && it->key().starts_with(semantic_prefix);
       it->Next()) {
    std::string key = it->key().ToString();
    // rc/s/<64 hex namespace>/<16 hex id>
    if (key.size() != prefix_len + 64 + 1 + 16) continue;
    uint64_t id = std::stoull(key.substr(prefix_len + 65), nullptr, 16);
    next_id_ = std::max(next_id_, id + 1);
    rocksdb::Slice value = it->value();
    if (value.size() < 12) continue;
    if (get_i64(value.data()) <= now) {
      expired.Delete(key);
      continue;
    }
    if (encoder_ == nullptr) continue;
    uint32_t dim;
    std::memcpy(&dim, value.data() + 8, 4);
    if (dim != encoder_->dimension() || value.size() < 12 + dim * sizeof(float)) continue;
    std::vector<float> embedding(dim);
    std::memcpy(embedding.data(), value.data() + 12, dim * sizeof(float));
    semantic_index& idx = index_for(key.substr(prefix_len, 64));
    if (idx.added == idx.capacity) {
      idx.capacity *= 2;
      idx.index.resizeIndex(idx.capacity);
    }
    idx.index.addPoint(embedding.data(), id);
    idx.keys[id] = key;
    ++idx.added;
    ++idx.count;
  }
  if (expired.Count() > 0) db_->Write(rocksdb::WriteOptions(), &expired);
}

cache_lookup response_cache::lookup(const cache_request& request, const cache_policy& policy) {
  std::lock_guard<std::mutex> lock(mutex_);
  cache_lookup out;
  if (request.temperature > 0 && !policy.allow_nonzero_temperature) {
    ++counters_.not_cacheable;
    out.what = cache_lookup::not_cacheable;
    return out;
  }
  const int64_t now = clock_.now().count();
  std::string key = exact_prefix + canonical_request_hash(request);
  std::string value;
  if (db_->Get(rocksdb::ReadOptions(), key, &value).ok() && value.size() >= 8) {
    if (get_i64(value.data()) > now) {
      ++counters_.exact_hits;
      out.what = cache_lookup::exact;
      out.response = value.substr(8);
      out.similarity = 1;
      return out;
    }
    ++counters_.expired;
    db_->Delete(rocksdb::WriteOptions(), key);
  }
  if (policy.semantic && encoder_ != nullptr && last_is_user(request)) {
    auto found = indexes_.find(semantic_namespace(request, space_));
    std::vector<float> query;
    if (found != indexes_.end() && found->second->count > 0 && embedding_of(request, query)) {
      semantic_index& idx = *found->second;
      std::vector<std::pair<float, hnswlib::labeltype>> hits;
      try {
        auto queue = idx.index.searchKnn(query.data(), std::min(neighbours, idx.count));
        for (; !queue.empty(); queue.pop()) hits.push_back(queue.top());
      } catch (const std::exception& e) {
        error_ = std::string("response cache: semantic search failed: ") + e.what();
      }
      std::sort(hits.begin(), hits.end());  // ascending distance = 1 - cosine
      for (const auto& [distance, label] : hits) {
        double similarity = 1.0 - distance;
        if (similarity < settings_.semantic_threshold) break;
        const std::string& entry_key = idx.keys[label];
        if (!db_->Get(rocksdb::ReadOptions(), entry_key, &value).ok() || value.size() < 12) {
          continue;
        }
        uint32_t dim;
        std::memcpy(&dim, value.data() + 8, 4);
        if (get_i64(value.data()) <= now) {
          ++counters_.expired;
          db_->Delete(rocksdb::WriteOptions(), entry_key);
          idx.index.markDelete(label);
          idx.keys.erase(label);
          --idx.count;
          continue;
        }
        ++counters_.semantic_hits;
        out.what = cache_lookup::semantic;
        out.response = value.substr(12 + dim * sizeof(float));
        out.similarity = similarity;
        return out;
      }
    }
  }
  ++counters_.misses;
  return out;
}

bool response_cache::store(const cache_request& request, const std::string& response,
                           const cache_policy& policy) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (request.temperature > 0 && !policy.allow_nonzero_temperature) {
    ++counters_.not_cacheable;
    return false;
  }
  const int64_t expires =
      clock_.now().count() +
      std::chrono::duration_cast<clock_time>(std::chrono::milliseconds(settings_.ttl_ms)).count();
  rocksdb::WriteBatch batch;
  std::string value;
  put_i64(value, expires);
  value += response;
  batch.Put(exact_prefix + canonical_request_hash(request), value);

  semantic_index* idx = nullptr;
  std::vector<float> embedding;
  uint64_t id = 0;
  std::string semantic_key;
  if (policy.semantic && encoder_ != nullptr && last_is_user(request) &&
      embedding_of(request, embedding)) {
    std::string ns = semantic_namespace(request, space_);
    id = next_id_++;
    semantic_key = semantic_prefix + ns + "/" + id_text(id);
    std::string sv;
    put_i64(sv, expires);
    uint32_t dim = static_cast<uint32_t>(embedding.size());
    sv.append(reinterpret_cast<const char*>(&dim), 4);
    sv.append(reinterpret_cast<const char*>(embedding.data()), dim * sizeof(float));
    sv += response;
    batch.Put(semantic_key, sv);
    idx = &index_for(ns);
  }
  rocksdb::Status status = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!status.ok()) {
    error_ = "response cache: write failed: " + status.ToString();
    return false;
  }
  if (idx != nullptr) {
    try {
      if (idx->added == idx->capacity) {
        idx->capacity *= 2;
        idx->index.resizeIndex(idx->capacity);
      }
      idx->index.addPoint(embedding.data(), id);
      idx->keys[id] = semantic_key;
      ++idx->added;
      ++idx->count;
    } catch (const std::exception& e) {
      error_ = std::string("response cache: semantic index: ") + e.what();
    }
  }
  ++counters_.stores;
  return true;
}

cache_counters response_cache::counters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counters_;
}

std::string response_cache::error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_;
}

}  // namespace switchyard
