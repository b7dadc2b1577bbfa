#include "router/providers/http_types.hpp"

#include <strings.h>

namespace switchyard {

const std::string* find_header(const http_headers& headers, const std::string& name) {
  for (const auto& header : headers) {
    if (header.first.size() == name.size() && strcasecmp(header.first.c_str(), name.c_str()) == 0)
      return &header.second;
  }
  return nullptr;
}

}  // namespace switchyard
