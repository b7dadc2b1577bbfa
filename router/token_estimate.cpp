#include "router/token_estimate.hpp"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
#if defined(__SSE2__)
  // Sixteen bytes at a time where SSE2 is there (every x86-64): a continuation byte is a
  // signed byte below -64; each compare's -1 is counted per lane, and the lanes are
  // summed (psadbw) before a lane could pass 255.
  {
    const __m128i below = _mm_set1_epi8(-64);
    const __m128i zero = _mm_setzero_si128();
    __m128i sums = zero;
    while (i + 16 <= size) {
      __m128i lanes = zero;
      for (int round = 0; round < 255 && i + 16 <= size; ++round, i += 16) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
        lanes = _mm_sub_epi8(lanes, _mm_cmplt_epi8(v, below));
      }
      sums = _mm_add_epi64(sums, _mm_sad_epu8(lanes, zero));
    }
    continuation = static_cast<uint64_t>(_mm_cvtsi128_si64(sums)) +
                   static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums)));
  }
#endif
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
