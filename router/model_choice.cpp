#include "router/model_choice.hpp"

#include <fmt/format.h>

namespace switchyard {

namespace {

const model_config* cheapest_in_tier(const config& cfg, const std::string& tier) {
  const model_config* best = nullptr;
  for (const auto& m : cfg.models) {
    if (m.tier != tier) continue;
    if (!best || m.price_in_per_mtok + m.price_out_per_mtok <
                     best->price_in_per_mtok + best->price_out_per_mtok)
      best = &m;
  }
  return best;
}

}  // namespace

model_choice choose_model(const config& cfg, const std::string& model_id, const std::string& tier) {
  if (!model_id.empty()) {
    if (auto* m = cfg.find_model(model_id)) return {m, {}};
    return {nullptr, fmt::format("no model '{}' in the catalog", model_id)};
  }
  if (!tier.empty()) {
    if (cfg.tier_rank(tier) < 0) return {nullptr, fmt::format("no tier '{}' in the catalog", tier)};
    if (auto* m = cheapest_in_tier(cfg, tier)) return {m, {}};
    return {nullptr, fmt::format("tier '{}' has no models", tier)};
  }
  for (const auto& t : cfg.tiers)
    if (auto* m = cheapest_in_tier(cfg, t)) return {m, {}};
  return {nullptr, "the catalog has no models"};
}

}  // namespace switchyard
