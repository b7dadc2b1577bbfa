#pragma once
// How hard a request looks, from signals that cost nothing to read: prompt length,
// code, and questions with several parts. Each signal that holds moves the request
// one tier above its route's tier (at most to the top tier); the signals are kept so
// the decision trace can say why.

#include <cstdint>
#include <string_view>

#include "runtime/config.hpp"

namespace switchyard {

struct complexity_estimate {
  uint32_t prompt_tokens = 0;
  bool long_prompt = false;
  bool has_code = false;
  uint32_t parts = 0;  // questions or numbered items in the latest user message
  bool multi_part = false;
  uint32_t tier_steps = 0;  // tiers above the route's tier
};

/// `text` is the latest user message; `prompt_tokens` the estimate for the whole prompt.
complexity_estimate estimate_complexity(std::string_view text, uint32_t prompt_tokens,
                                        const complexity_settings& settings);

/// True when `text` looks like it contains source code: a fenced block, or several
/// lines shaped like statements.
bool looks_like_code(std::string_view text);

/// Questions (runs of '?') plus numbered or bulleted list items at line starts.
uint32_t count_parts(std::string_view text);

}  // namespace switchyard
