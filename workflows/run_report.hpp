#pragma once
// A run result as text for people: status, output, then one line per step.

#include <string>

#include "runtime/messages.hpp"

namespace switchyard {

std::string describe_run(const run_result& r);

}  // namespace switchyard
