#pragma once
// `switchyard stub-provider`: serve the stub provider (stub/stub_server.hpp) until
// SIGINT/SIGTERM or --max-seconds.

#include <cstdint>
#include <string>

namespace switchyard::cli {

struct stub_provider_options {
  uint16_t port = 0;         // 0: an ephemeral port, printed on stdout
  std::string script_path;   // empty: every model answers normally
  uint32_t max_seconds = 0;  // 0: until a signal
};

/// Exit status: 0 after a clean stop, 2 for a bad script or a port that cannot be bound.
int stub_provider_command(const stub_provider_options& opts);

}  // namespace switchyard::cli
