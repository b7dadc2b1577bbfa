#pragma once
// Token counting without a tokenizer. The approximation (documented in docs/sim.md):
// a piece of text costs ceil(utf8_code_points / 4) tokens, the usual rule of thumb
// for English with BPE tokenizers, and every chat message adds 4 tokens of framing
// (role and separators), as OpenAI's chat format does. The sim provider bills with
// the same function, so a reservation made with it is exact for sim models; real
// providers report their own usage.

#include <cstdint>
#include <string_view>
#include <vector>

#include "runtime/messages.hpp"

namespace switchyard {

/// UTF-8 code points in `text` (bytes that are not continuation bytes). O(n).
uint64_t count_code_points(std::string_view text);

/// Tokens for a text of `code_points` code points: ceil(code points / 4).
constexpr uint32_t tokens_for_code_points(uint64_t code_points) {
  return static_cast<uint32_t>((code_points + 3) / 4);
}

/// Tokens in `text`: ceil(code points / 4). Empty text is 0 tokens. O(n), no allocation.
uint32_t estimate_tokens(std::string_view text);

/// Tokens of a whole prompt: the sum over messages of 4 + estimate_tokens(content).
uint32_t estimate_prompt_tokens(const std::vector<chat_message>& messages);

}  // namespace switchyard
