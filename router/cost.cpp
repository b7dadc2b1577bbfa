#include "router/cost.hpp"

namespace switchyard {

double call_cost_usd(const model_config& model, uint64_t input_tokens, uint64_t output_tokens) {
  // Catalog prices are per million tokens.
  constexpr double tokens_per_mtok = 1e6;
  return (static_cast<double>(input_tokens) * model.price_in_per_mtok +
          static_cast<double>(output_tokens) * model.price_out_per_mtok) /
         tokens_per_mtok;
}

}  // namespace switchyard
