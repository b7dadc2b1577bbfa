#pragma once
// Word tokens for the lexicon rules (ticket_tags) and the retrieval index
// (knowledge_base): lower case, split on anything that is not a letter or digit.

#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

/// Lower-cased words of `text`. ASCII letters are lowered, and so are the Latin-1
/// capitals encoded in UTF-8 (À..Þ, e.g. "Ä" -> "ä"); other non-ASCII bytes (including
/// invalid UTF-8) count as letters, so "größe" and "café" stay one word each. O(n).
std::vector<std::string> word_tokens(std::string_view text);

}  // namespace switchyard
