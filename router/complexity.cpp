#include "router/complexity.hpp"

#include <algorithm>
#include <cstring>

namespace switchyard {

namespace {

std::string_view trim(std::string_view line) {
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
    line.remove_suffix(1);
  return line;
}

template <class Fn>
void for_each_line(std::string_view text, Fn fn) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    fn(text.substr(start, end - start));
    start = end + 1;
  }
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// `line` trimmed (trim()).
bool code_shaped(std::string_view line) {
  if (line.size() < 2) return false;
  char last = line.back();
  if (last == ';' || last == '{' || last == '}') return true;
  // Only lines starting with one of the openers' first letters can match: most lines
  // are rejected with one lookup instead of fifteen compares.
  if (std::string_view{"#dfirSscplv"}.find(line.front()) == std::string_view::npos) return false;
  for (std::string_view opener : {"#include", "def ", "fn ", "func ", "function ", "import ",
                                  "return ", "SELECT ", "select ", "class ", "public ",
                                  "private ", "const ", "let ", "var "})
    if (starts_with(line, opener)) return true;
  return false;
}

// `line` trimmed (trim()).
bool list_item(std::string_view line) {
  if (line.size() < 3) return false;
  if ((line[0] == '-' || line[0] == '*') && line[1] == ' ') return true;
  size_t digits = 0;
  while (digits < line.size() && line[digits] >= '0' && line[digits] <= '9') ++digits;
  return digits > 0 && digits <= 3 && digits + 1 < line.size() &&
         (line[digits] == '.' || line[digits] == ')') && line[digits + 1] == ' ';
}

bool has_fence(std::string_view text) {
  return text.find("```") != std::string_view::npos;
}

uint32_t count_questions(std::string_view text) {
  uint32_t questions = 0;
  // memchr from one '?' to the next: most of a prompt has none.
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    const auto* q = static_cast<const char*>(std::memchr(p, '?', static_cast<size_t>(end - p)));
    if (q == nullptr) break;
    if (q + 1 == end || q[1] != '?') ++questions;
    p = q + 1;
  }
  return questions;
}

}  // namespace

bool looks_like_code(std::string_view text) {
  if (has_fence(text)) return true;
  int shaped = 0;
  for_each_line(text, [&](std::string_view line) { shaped += code_shaped(trim(line)) ? 1 : 0; });
  return shaped >= 2;
}

uint32_t count_parts(std::string_view text) {
  uint32_t items = 0;
  for_each_line(text, [&](std::string_view line) { items += list_item(trim(line)) ? 1 : 0; });
  return std::max(count_questions(text), items);
}

complexity_estimate estimate_complexity(std::string_view text, uint32_t prompt_tokens,
                                        const complexity_settings& settings) {
  complexity_estimate out;
  out.prompt_tokens = prompt_tokens;
  out.long_prompt = prompt_tokens >= settings.long_prompt_tokens;
  // looks_like_code and count_parts in one walk over the lines (this runs on every
  // routed call).
  const bool fenced = has_fence(text);
  int shaped = 0;
  uint32_t items = 0;
  for_each_line(text, [&](std::string_view raw) {
    std::string_view line = trim(raw);
    if (!fenced) shaped += code_shaped(line) ? 1 : 0;
    items += list_item(line) ? 1 : 0;
  });
  out.has_code = fenced || shaped >= 2;
  out.parts = std::max(count_questions(text), items);
  out.multi_part = out.parts >= settings.multi_part_questions;
  out.tier_steps = (out.long_prompt ? 1u : 0u) + (out.has_code || out.multi_part ? 1u : 0u);
  return out;
}

}  // namespace switchyard
