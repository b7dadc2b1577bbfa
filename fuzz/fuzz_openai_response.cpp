// Fuzzes the openai adapter's response parser and the error mapping behind it, and
// compares the SAX parser with the DOM parser it replaced: same result for every input.
#include "fuzz/fuzz_invariants.hpp"
#include "fuzz/fuzz_response_common.hpp"
#include "fuzz/openai_reply_reference.hpp"
#include "router/providers/openai_adapter.hpp"

namespace {

bool same_response(const switchyard::model_response& a, const switchyard::model_response& b) {
  if (a.error.kind != b.error.kind || a.error.message != b.error.message ||
      a.error.retry_after_ms != b.error.retry_after_ms || a.text != b.text ||
      a.finish_reason != b.finish_reason || a.tool_calls.size() != b.tool_calls.size() ||
      a.logprobs.size() != b.logprobs.size() || a.usage.input_tokens != b.usage.input_tokens ||
      a.usage.output_tokens != b.usage.output_tokens || a.usage.model_id != b.usage.model_id) {
    return false;
  }
  for (size_t i = 0; i < a.tool_calls.size(); ++i) {
    const auto& x = a.tool_calls[i];
    const auto& y = b.tool_calls[i];
    if (x.id != y.id || x.name != y.name || x.arguments_json != y.arguments_json) return false;
  }
  for (size_t i = 0; i < a.logprobs.size(); ++i) {
    if (a.logprobs[i].token != b.logprobs[i].token) return false;
    if (a.logprobs[i].logprob != b.logprobs[i].logprob) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace switchyard;
  static const model_config model = fuzz::fuzz_model();
  fuzz::fuzz_reply reply = fuzz::split_input(data, size);
  model_response r =
      openai_adapter::parse_response(reply.status, reply.headers, reply.body, model, "sk-fuzz");
  fuzz::check_response(r);
  if (reply.status < 200 || reply.status > 299) fuzz::require(!r.ok());
  fuzz::require(r.error.message.find("sk-fuzz") == std::string::npos);

  model_response reference =
      fuzz::parse_with_dom(reply.status, reply.headers, reply.body, model, "sk-fuzz");
  redact_secret(reference.error.message, "sk-fuzz");
  fuzz::require(same_response(r, reference));
  return 0;
}
