#include <catch2/catch.hpp>

#include "router/model_choice.hpp"
#include "tests/support/test_config.hpp"

using namespace switchyard;

namespace {

const char* catalog = R"([
  {"id": "local-b", "provider": "sim", "tier": "local", "price_in_per_mtok": 0.1,
   "price_out_per_mtok": 0.1, "context_window": 4096, "residency": "local"},
  {"id": "local-a", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
   "price_out_per_mtok": 0, "context_window": 4096, "residency": "local"},
  {"id": "front", "provider": "sim", "tier": "frontier", "price_in_per_mtok": 3,
   "price_out_per_mtok": 15, "context_window": 200000, "residency": "cloud"}
])";

}  // namespace

TEST_CASE("model choice: a pinned model wins, then the cheapest of the tier", "[choice]") {
  auto cfg = testing::make_config(catalog);
  CHECK(choose_model(*cfg, "local-b", "frontier").model->id == "local-b");
  CHECK(choose_model(*cfg, "", "local").model->id == "local-a");
  CHECK(choose_model(*cfg, "", "frontier").model->id == "front");
  CHECK(choose_model(*cfg, "", "").model->id == "local-a");  // lowest tier by default
}

TEST_CASE("model choice: unknown models and empty or unknown tiers are explained",
          "[choice]") {
  auto cfg = testing::make_config(catalog);
  auto unknown = choose_model(*cfg, "gpt-9", "");
  CHECK(unknown.model == nullptr);
  CHECK(unknown.error == "no model 'gpt-9' in the catalog");
  CHECK(choose_model(*cfg, "", "mid").error == "tier 'mid' has no models");
  CHECK(choose_model(*cfg, "", "ultra").error == "no tier 'ultra' in the catalog");
}
