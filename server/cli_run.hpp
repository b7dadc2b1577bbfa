#pragma once
// `switchyard run`: run a registered workflow once (--input) or over a JSONL batch.

#include <string>
#include <vector>

#include "runtime/messages.hpp"

namespace switchyard::cli {

struct run_options {
  std::string workflow;
  std::string config_path;
  std::string input;
  std::string batch_path;
  std::string thread_id;
  bool json = false;
  std::string log_level;  // empty: the config's runtime.log_level
};

/// Parses a batch file: one JSON object per line, {"input": "...", "thread_id"?: "...",
/// "run_id"?: "..."}; blank lines are skipped. Every bad line is reported as
/// "<path>:<line>: <problem>" and no request is returned when any line is bad.
struct batch_parse_result {
  std::vector<run_request> requests;
  std::vector<std::string> errors;
};
batch_parse_result parse_batch(const std::string& text, const std::string& path,
                               const std::string& workflow, const std::string& default_thread);

/// Exit status: 0 when every run completed or was escalated (a handled outcome),
/// 1 when any run failed, 2 for bad usage, config or input.
int run_command(const run_options& opts);

}  // namespace switchyard::cli
