#pragma once
// `switchyard run support`: the customer-support swarm over one ticket (--input), a
// ticket file (--batch, examples/tickets/README.md) or stdin turns (--interactive),
// with an optional request audit (--audit) and a cost report at the end.

#include "server/cli_run.hpp"

namespace switchyard::cli {

/// Exit status: 0 when every ticket was answered, handed off or rejected as malformed
/// with a clear error; 1 when a run failed otherwise; 2 for bad usage, config or files.
int support_command(const run_options& opts);

}  // namespace switchyard::cli
