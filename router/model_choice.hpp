#pragma once
// Which catalog model serves a request, before the full routing policy exists:
// an explicit model id wins, then the cheapest model of the requested tier, then the
// cheapest model of the lowest tier. "Cheapest" compares the sum of input and output
// prices; ties keep catalog order. Plain function, no CAF.

#include <string>

#include "runtime/config.hpp"
#include "runtime/messages.hpp"

namespace switchyard {

struct model_choice {
  const model_config* model = nullptr;
  std::string error;  // why nothing fits, when model is null
};

model_choice choose_model(const config& cfg, const std::string& model_id, const std::string& tier);

}  // namespace switchyard
