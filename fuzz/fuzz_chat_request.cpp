// Fuzzes the gateway's chat completions request parser: any body gives either a
// canonical request or one OpenAI-style error (400 or 404) that names a field and
// serialises to valid JSON; never a crash.
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz/fuzz_invariants.hpp"
#include "gateway/chat_request.hpp"

namespace {

const switchyard::config& catalog() {
  static const switchyard::config cfg = [] {
    auto loaded = switchyard::parse_config_text(R"({
      "tiers": ["local", "frontier"],
      "providers": [{"name": "sim", "kind": "sim"}],
      "models": [
        {"id": "small", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
         "price_out_per_mtok": 0, "context_window": 8192, "residency": "local"},
        {"id": "big", "provider": "sim", "tier": "frontier", "price_in_per_mtok": 1,
         "price_out_per_mtok": 2, "context_window": 8192, "residency": "cloud",
         "capabilities": ["tools", "json_mode"]}]})",
                                                "fuzz");
    return *loaded.value;
  }();
  return cfg;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace switchyard::gateway;
  std::string body(reinterpret_cast<const char*>(data), size);
  chat_request out;
  api_error e = parse_chat_request(body, catalog(), 256, out);
  if (e.ok()) {
    switchyard::fuzz::require(!out.call.messages.empty());
    switchyard::fuzz::require(out.call.max_tokens >= 1);
  } else {
    switchyard::fuzz::require(e.status == 400 || e.status == 404);
    switchyard::fuzz::require(!e.param.empty() && !e.message.empty());
    auto text = error_body(e);
    switchyard::fuzz::require(nlohmann::json::accept(text));
  }
  return 0;
}
