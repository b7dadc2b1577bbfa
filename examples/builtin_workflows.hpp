#pragma once
// The workflows the `switchyard` binary knows by name.

#include "workflows/workflow_registry.hpp"

namespace switchyard::examples {

/// Registers hello and loop. Returns build errors, empty on success.
std::string register_builtin_workflows(workflow_registry& registry);

}  // namespace switchyard::examples
