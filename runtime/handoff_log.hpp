#pragma once
// Where runs the supervisor stopped are handed to people: one JSON line per handoff,
// appended to a file named in the config. Thread-safe; every append is flushed so a
// record is on disk before the run reports its result.

#include <mutex>
#include <string>

#include "runtime/messages.hpp"

namespace switchyard {

class handoff_log {
 public:
  /// Appends `record` to `path` (created if missing). Returns an empty string on
  /// success, otherwise what went wrong.
  std::string append(const std::string& path, const handoff_record& record);

 private:
  std::mutex mutex_;
};

}  // namespace switchyard
