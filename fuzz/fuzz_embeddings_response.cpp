// Fuzzes the embeddings adapter's response parser.
#include "fuzz/fuzz_invariants.hpp"
#include "fuzz/fuzz_response_common.hpp"
#include "router/providers/embeddings_adapter.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace switchyard;
  static const model_config model = fuzz::fuzz_model();
  fuzz::fuzz_reply reply = fuzz::split_input(data, size);
  size_t expected = 1 + (size % 3);
  embedding_result r = embeddings_adapter::parse_response(reply.status, reply.headers, reply.body,
                                                          model, expected, "sk-fuzz");
  if (r.ok()) {
    fuzz::require(r.vectors.size() == expected);
    for (const auto& v : r.vectors) fuzz::require(!v.empty() && v.size() == r.vectors[0].size());
  } else {
    fuzz::require(!r.error.message.empty());
  }
  fuzz::require(r.error.message.find("sk-fuzz") == std::string::npos);
  return 0;
}
