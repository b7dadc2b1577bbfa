#pragma once
// What a call costs at catalog prices.

#include <cstdint>

#include "runtime/config.hpp"

namespace switchyard {

/// USD for `input_tokens` in and `output_tokens` out at `model`'s per-million prices.
double call_cost_usd(const model_config& model, uint64_t input_tokens, uint64_t output_tokens);

}  // namespace switchyard
