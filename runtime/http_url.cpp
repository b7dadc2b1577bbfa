#include "runtime/http_url.hpp"

#include <cctype>

namespace switchyard {

std::optional<http_url> parse_http_url(const std::string& text, std::string& problem) {
  http_url url;
  std::string rest;
  if (text.rfind("http://", 0) == 0) {
    url.scheme = "http";
    url.port = 80;
    rest = text.substr(7);
  } else if (text.rfind("https://", 0) == 0) {
    url.scheme = "https";
    url.port = 443;
    rest = text.substr(8);
  } else {
    problem = "must start with http:// or https://";
    return std::nullopt;
  }
  for (char c : rest) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0 ||
        std::iscntrl(static_cast<unsigned char>(c)) != 0) {
      problem = "must not contain spaces or control characters";
      return std::nullopt;
    }
  }
  if (rest.find_first_of("?#") != std::string::npos) {
    problem = "must not have a query or fragment";
    return std::nullopt;
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  url.path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!url.path.empty() && url.path.back() == '/') url.path.pop_back();
  if (authority.find('@') != std::string::npos) {
    problem = "must not contain credentials (put the key's variable name in api_key_env)";
    return std::nullopt;
  }
  std::string port_text;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) {
      problem = "has an unterminated [IPv6] host";
      return std::nullopt;
    }
    url.host = authority.substr(1, close - 1);
    std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        problem = "has text after the [IPv6] host";
        return std::nullopt;
      }
      port_text = after.substr(1);
      if (port_text.empty()) {
        problem = "has an empty port";
        return std::nullopt;
      }
    }
  } else {
    size_t colon = authority.find(':');
    url.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) {
        problem = "has an empty port";
        return std::nullopt;
      }
    }
  }
  if (url.host.empty()) {
    problem = "has no host";
    return std::nullopt;
  }
  if (!port_text.empty()) {
    if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(port_text) == 0 || std::stoul(port_text) > 65535) {
      problem = "has a port that is not 1..65535";
      return std::nullopt;
    }
    url.port = static_cast<uint16_t>(std::stoul(port_text));
  }
  return url;
}

}  // namespace switchyard
