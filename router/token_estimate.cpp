#include "router/token_estimate.hpp"

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
  uint64_t code_points = 0;
  for (char c : text) {
    if (!is_continuation_byte(static_cast<unsigned char>(c))) ++code_points;
  }
  return code_points;
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
