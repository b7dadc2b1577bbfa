// Fuzzes the SSE parser and the three stream decoders. The first byte sets the chunk size,
// so the same stream is also fed in pieces; parsing in pieces must give the same
// events as parsing it whole.
#include "fuzz/fuzz_invariants.hpp"
#include "fuzz/fuzz_response_common.hpp"
#include "router/providers/sse_parser.hpp"
#include "router/providers/stream_decoder.hpp"

namespace {

using namespace switchyard;

template <class Decoder>
void decode(std::string_view stream, size_t chunk) {
  static const model_config model = fuzz::fuzz_model();
  Decoder decoder("c", model, "sk-fuzz");
  for (size_t at = 0; at < stream.size(); at += chunk) decoder.feed(stream.substr(at, chunk));
  model_response r = decoder.finish();
  fuzz::check_response(r);
  fuzz::require(r.error.message.find("sk-fuzz") == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = 1 + data[0] % 16;
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);

  sse_parser whole(4096), pieces(4096);
  auto expected = whole.feed(stream);
  std::vector<sse_event> got;
  for (size_t at = 0; at < stream.size(); at += chunk) {
    auto events = pieces.feed(stream.substr(at, chunk));
    got.insert(got.end(), events.begin(), events.end());
  }
  fuzz::require(whole.failed() == pieces.failed());
  if (!whole.failed()) {
    fuzz::require(got.size() == expected.size());
    for (size_t i = 0; i < got.size(); ++i) {
      fuzz::require(got[i].data == expected[i].data && got[i].event == expected[i].event &&
                    got[i].id == expected[i].id);
    }
    fuzz::require(whole.has_partial_event() == pieces.has_partial_event());
  }

  decode<openai_stream_decoder>(stream, chunk);
  decode<anthropic_stream_decoder>(stream, chunk);
  decode<gemini_stream_decoder>(stream, chunk);
  return 0;
}
