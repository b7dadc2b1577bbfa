#pragma once
// The workflows the `switchyard` binary knows by name.

#include <memory>

#include "agents/support_shared.hpp"
#include "workflows/workflow_registry.hpp"

namespace switchyard::examples {

/// Registers hello, loop and support. `support` is what the support agents share (run
/// vaults, call log); pass your own to end runs and read their calls, else one is
/// made. Returns build errors, empty on success.
std::string register_builtin_workflows(workflow_registry& registry,
                                       std::shared_ptr<support_shared> support = nullptr);

}  // namespace switchyard::examples
