#pragma once
// Writing JSON text straight into a string, for documents written on every step or
// model call, where building an nlohmann::json tree first costs several times more.

#include <cstring>
#include <string>
#include <string_view>

namespace switchyard {

/// Appends `text` as a JSON string literal. Invalid UTF-8 becomes U+FFFD, one per bad
/// byte, as a JSON document must be valid UTF-8.
void append_json_string(std::string& out, std::string_view text);

/// Appends `,"key":`, without the comma right after an opening brace, in one append.
/// For literal keys of plain ASCII only (nothing to escape): their length is known at
/// compile time, so no strlen and no append per piece.
template <size_t N>
void append_json_key(std::string& out, const char (&key)[N]) {
  char buf[N + 3];
  buf[0] = ',';
  buf[1] = '"';
  std::memcpy(buf + 2, key, N - 1);
  buf[N + 1] = '"';
  buf[N + 2] = ':';
  if (!out.empty() && out.back() == '{')
    out.append(buf + 1, N + 2);
  else
    out.append(buf, N + 3);
}

}  // namespace switchyard
