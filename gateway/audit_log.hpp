#pragma once
// The gateway's audit log: one JSON object per line (JSONL), one line per model call,
// rotated by size: when the live file would pass `max_bytes` it becomes `<path>.1`
// (older ones shift to .2, ...; beyond `keep_files` they are deleted) and a new file
// starts. Each line is written whole and flushed, so a crash loses at most the line
// being written. Thread-safe (one mutex).
//
// Callers put key ids in records, never keys; the prompt goes in only as a SHA-256
// unless the config asks for it (gateway.audit.prompts).

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

namespace switchyard::gateway {

class audit_log {
 public:
  /// Opens `path` for appending (creating it). On failure ok() is false and error()
  /// says why.
  audit_log(std::string path, uint64_t max_bytes, uint32_t keep_files);
  ~audit_log();
  audit_log(const audit_log&) = delete;
  audit_log& operator=(const audit_log&) = delete;

  bool ok() const { return file_ != nullptr; }
  const std::string& error() const { return error_; }

  /// Appends `record` as one line (rotating first when it would not fit).
  void write(const nlohmann::json& record);

  /// Lines written by this process.
  uint64_t lines() const;

 private:
  void rotate();
  std::string path_;
  uint64_t max_bytes_;
  uint32_t keep_files_;
  mutable std::mutex mu_;
  std::FILE* file_ = nullptr;
  uint64_t size_ = 0;
  uint64_t lines_ = 0;
  std::string error_;
};

}  // namespace switchyard::gateway
