// Fuzzes the gemini adapter's response parser and the error mapping behind it.
#include "fuzz/fuzz_invariants.hpp"
#include "fuzz/fuzz_response_common.hpp"
#include "router/providers/gemini_adapter.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace switchyard;
  static const model_config model = fuzz::fuzz_model();
  fuzz::fuzz_reply reply = fuzz::split_input(data, size);
  model_response r =
      gemini_adapter::parse_response(reply.status, reply.headers, reply.body, model, "sk-fuzz");
  fuzz::check_response(r);
  if (reply.status < 200 || reply.status > 299) fuzz::require(!r.ok());
  fuzz::require(r.error.message.find("sk-fuzz") == std::string::npos);
  return 0;
}
