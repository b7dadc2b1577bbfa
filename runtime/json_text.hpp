#pragma once
// Writing JSON text straight into a string, for documents written on every step or
// model call, where building an nlohmann::json tree first costs several times more.

#include <string>
#include <string_view>

namespace switchyard {

/// Appends `text` as a JSON string literal. Invalid UTF-8 becomes U+FFFD, one per bad
/// byte, as a JSON document must be valid UTF-8.
void append_json_string(std::string& out, std::string_view text);

}  // namespace switchyard
