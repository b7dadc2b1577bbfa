#pragma once
// Logging goes through spdlog to stderr, so stdout stays free for results (--json).

#include <string>

namespace switchyard {

/// Sets the global spdlog level from a name (trace, debug, info, warn, error,
/// critical, off). Returns false, leaving the level as it was, for an unknown name.
bool set_log_level(const std::string& name);

/// Installs a stderr logger with Switchyard's pattern as spdlog's default.
void init_logging(const std::string& level);

}  // namespace switchyard
