#pragma once
// Base URLs of HTTP providers: parsed once, by config validation and by the transport,
// with the same rules.

#include <cstdint>
#include <optional>
#include <string>

namespace switchyard {

/// An absolute http(s) URL without query or fragment.
struct http_url {
  std::string scheme;  // "http" or "https"
  std::string host;    // name, IPv4, or IPv6 without brackets
  uint16_t port = 0;   // explicit, or 80 / 443 from the scheme
  std::string path;    // "" or "/..." without a trailing '/'
};

/// Parses `text` as http(s)://host[:port][/path]. On failure returns nullopt and sets
/// `problem` to what is wrong ("must start with http:// or https://"). Credentials
/// (user@), queries and fragments are rejected: keys belong in api_key_env.
std::optional<http_url> parse_http_url(const std::string& text, std::string& problem);

}  // namespace switchyard
