#pragma once
// The audit file of `switchyard run --audit FILE`: one JSON line per model request,
// written by the model service right before the request leaves for its provider
// (router/model_service.hpp, model_request_observer), so anyone can check what left
// the process and where it went. Line: {"model", "tier", "residency", "provider",
// "run_id", "call_id", "route", "data_class", "payload": {"messages": [{"role",
// "content"}], "max_tokens"}}. Invalid UTF-8 is written as U+FFFD.

#include <fstream>
#include <memory>
#include <mutex>
#include <string>

#include "router/model_service.hpp"

namespace switchyard {

class request_audit {
 public:
  /// Opens (truncates) `path`; check error() afterwards.
  explicit request_audit(const std::string& path);

  /// "" when the file is open, else why not (naming the path).
  const std::string& error() const { return error_; }

  /// Appends one line and flushes it. Thread-safe.
  void record(const model_config& model, const model_request& request);

  size_t lines() const;

  /// An observer writing to `audit` (which must outlive the engine using it).
  static model_request_observer observer(std::shared_ptr<request_audit> audit);

 private:
  mutable std::mutex mutex_;
  std::ofstream out_;
  std::string error_;
  size_t lines_ = 0;
};

}  // namespace switchyard
