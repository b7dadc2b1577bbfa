#pragma once
// Properties every parsed response must have, whatever bytes came in. A violation
// aborts, so libFuzzer records the input.

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "runtime/messages.hpp"

namespace switchyard::fuzz {

inline void require(bool condition) {
  if (!condition) std::abort();
}

inline void check_response(const model_response& r) {
  if (!r.ok()) {
    require(!r.error.message.empty());
    require(r.text.empty() && r.tool_calls.empty());
    return;
  }
  require(!r.finish_reason.empty());
  for (const auto& call : r.tool_calls) {
    require(!call.name.empty());
    auto args = nlohmann::json::parse(call.arguments_json, nullptr, false);
    require(args.is_object());
    // Canonical: serialising again gives the same text.
    require(args.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) ==
            call.arguments_json);
  }
  require(r.usage.cost_usd >= 0);
}

}  // namespace switchyard::fuzz
