#include "router/token_estimate.hpp"

#include <cstring>

namespace switchyard {

namespace {

// A UTF-8 continuation byte (0b10xxxxxx) never starts a code point, so counting the
// other bytes counts code points without decoding.
constexpr bool is_continuation_byte(unsigned char byte) {
  return (byte & 0xC0) == 0x80;
}

constexpr uint32_t framing_tokens_per_message = 4;

}  // namespace

uint64_t count_code_points(std::string_view text) {
  // Eight bytes at a time: a continuation byte has bit 7 set and bit 6 clear, and
  // (w & ~(w << 1)) puts exactly that in each byte's bit 7. Every prompt and reply is
  // counted, so this loop is on the hot path of each model call.
  constexpr uint64_t high_bits = 0x8080808080808080ULL;
  const char* data = text.data();
  const size_t size = text.size();
  uint64_t continuation = 0;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, sizeof word);
    // One bit per continuation byte, moved to the byte's bit 0 and summed by a
    // multiply: the build targets baseline x86-64, where __builtin_popcountll is a
    // call into libgcc, not an instruction.
    uint64_t marks = (word & ~(word << 1) & high_bits) >> 7;
    continuation += (marks * 0x0101010101010101ULL) >> 56;
  }
  for (; i < size; ++i) {
    if (is_continuation_byte(static_cast<unsigned char>(data[i]))) ++continuation;
  }
  return size - continuation;
}

uint32_t estimate_tokens(std::string_view text) {
  return tokens_for_code_points(count_code_points(text));
}

uint32_t estimate_prompt_tokens(const std::vector<chat_message>& messages) {
  uint32_t total = 0;
  for (const auto& message : messages) {
    total += framing_tokens_per_message + estimate_tokens(message.content);
  }
  return total;
}

}  // namespace switchyard
