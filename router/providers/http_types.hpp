#pragma once
// Plain HTTP request and response-head values shared by the wire adapters (which
// build and read them) and the transport (which sends and receives them). No I/O here.

#include <string>
#include <utility>
#include <vector>

namespace switchyard {

/// Header fields in the order they were added or received. Names compare
/// case-insensitively (find_header); values are kept as sent.
using http_headers = std::vector<std::pair<std::string, std::string>>;

/// A request relative to a provider's base URL: the transport sends it to
/// base URL path (without its trailing '/') + `target`. `target` starts with '/' and
/// may carry a query ("/chat/completions?api-version=2024-06-01").
struct http_request {
  std::string method = "POST";
  std::string target;
  http_headers headers;
  std::string body;
};

/// Status line and headers of a response, known before its body arrives (streaming).
struct http_response_head {
  int status = 0;
  http_headers headers;
};

/// The value of the first header named `name` (case-insensitive), or nullptr.
const std::string* find_header(const http_headers& headers, const std::string& name);

}  // namespace switchyard
