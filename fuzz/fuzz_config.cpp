// Fuzzes the config loader: any text gives either a config or errors, never both,
// never neither, and never a crash.
#include <string>

#include "fuzz/fuzz_invariants.hpp"
#include "runtime/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace switchyard;
  std::string text(reinterpret_cast<const char*>(data), size);
  config_load_result r = parse_config_text(text, "fuzz.json");
  fuzz::require(r.ok() == r.errors.empty());
  if (r.ok()) {
    fuzz::require(!r.value->tiers.empty() && !r.value->providers.empty() &&
                  !r.value->models.empty());
    for (const auto& m : r.value->models)
      fuzz::require(r.value->find_provider(m.provider) != nullptr);
  } else {
    fuzz::require(!r.message().empty());
  }
  return 0;
}
