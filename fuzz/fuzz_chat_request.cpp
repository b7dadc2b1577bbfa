// Fuzzes the gateway's chat completions request parser: any body gives either a
// canonical request or one OpenAI-style error (400 or 404) that names a field and
// serialises to valid JSON; never a crash. The result is the same as the DOM-only
// parse gives (the SAX fast path must not change any answer).
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

bool same_message(const switchyard::chat_message& a, const switchyard::chat_message& b) {
  if (a.role != b.role || a.content != b.content || a.name != b.name ||
      a.tool_call_id != b.tool_call_id || a.tool_calls.size() != b.tool_calls.size())
    return false;
  for (size_t i = 0; i < a.tool_calls.size(); ++i) {
    const auto& x = a.tool_calls[i];
    const auto& y = b.tool_calls[i];
    if (x.id != y.id || x.name != y.name || x.arguments_json != y.arguments_json) return false;
  }
  return true;
}

// parse_chat_request (SAX fast path, DOM for the rest) against the DOM path alone.
bool same_result(const switchyard::gateway::api_error& e1, const switchyard::gateway::chat_request& a,
                 const switchyard::gateway::api_error& e2, const switchyard::gateway::chat_request& b) {
  if (e1.ok() != e2.ok()) return false;
  if (!e1.ok()) {
    return e1.status == e2.status && e1.type == e2.type && e1.code == e2.code &&
           e1.param == e2.param && e1.message == e2.message;
  }
  const auto& x = a.call;
  const auto& y = b.call;
  if (a.requested_model != b.requested_model || a.stream != b.stream ||
      a.include_usage != b.include_usage || x.max_tokens != y.max_tokens || x.model != y.model ||
      x.tier != y.tier || x.tool_choice != y.tool_choice || x.temperature != y.temperature ||
      x.top_p != y.top_p || x.stop != y.stop || x.json_mode != y.json_mode ||
      x.logprobs != y.logprobs || x.top_logprobs != y.top_logprobs || x.stream != y.stream ||
      x.capabilities != y.capabilities || x.metadata != y.metadata ||
      x.tools.size() != y.tools.size() || x.messages.size() != y.messages.size())
    return false;
  for (size_t i = 0; i < x.tools.size(); ++i) {
    if (x.tools[i].name != y.tools[i].name || x.tools[i].description != y.tools[i].description ||
        x.tools[i].parameters_json != y.tools[i].parameters_json)
      return false;
  }
  for (size_t i = 0; i < x.messages.size(); ++i)
    if (!same_message(x.messages[i], y.messages[i])) return false;
  return true;
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
  chat_request reference;
  api_error reference_error = parse_chat_request_dom(body, catalog(), 256, reference);
  switchyard::fuzz::require(same_result(e, out, reference_error, reference));
  return 0;
}
