#pragma once
// Batch input for many runs: JSON Lines, one run per line.

#include <string>
#include <vector>

#include "runtime/messages.hpp"

namespace switchyard {

/// Parses a batch file: one JSON object per line, {"input": "...", "thread_id"?: "...",
/// "run_id"?: "..."}; blank lines are skipped. Every bad line is reported as
/// "<path>:<line>: <problem>" and no request is returned when any line is bad.
struct batch_parse_result {
  std::vector<run_request> requests;
  std::vector<std::string> errors;
};
batch_parse_result parse_batch(const std::string& text, const std::string& path,
                               const std::string& workflow, const std::string& default_thread);

}  // namespace switchyard
