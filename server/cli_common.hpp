#pragma once
// What several subcommands do the same way before their own work starts.

#include <memory>
#include <string>

#include "runtime/config.hpp"

namespace switchyard::cli {

/// Loads and validates the config at `path` and starts logging at `log_level`, or at
/// the config's runtime.log_level when `log_level` is empty. On a bad config prints
/// every problem to stderr and returns null (the caller exits with status 2).
std::shared_ptr<const config> load_config_and_logging(const std::string& path,
                                                      const std::string& log_level);

/// Reads a whole file (bytes as they are). False when it cannot be opened or is a
/// directory.
bool read_file(const std::string& path, std::string& out);

}  // namespace switchyard::cli
