#pragma once
// The first two bytes pick the HTTP status (so error mapping is fuzzed too), the
// next one how many headers follow as "name:value\n" lines; the rest is the body.

#include <cstddef>
#include <cstdint>
#include <string>

#include "router/providers/http_types.hpp"
#include "runtime/config.hpp"

namespace switchyard::fuzz {

struct fuzz_reply {
  int status = 200;
  http_headers headers;
  std::string body;
};

inline fuzz_reply split_input(const uint8_t* data, size_t size) {
  fuzz_reply out;
  if (size >= 2) {
    // Mostly 200, otherwise any status from 100 to 599.
    unsigned pick = (data[0] << 8) | data[1];
    out.status = pick % 4 == 0 ? 100 + static_cast<int>(pick % 500) : 200;
    data += 2;
    size -= 2;
  }
  std::string rest(reinterpret_cast<const char*>(data), size);
  size_t headers = 0;
  if (!rest.empty()) {
    headers = static_cast<unsigned char>(rest[0]) % 4;
    rest.erase(0, 1);
  }
  for (size_t i = 0; i < headers; ++i) {
    size_t end = rest.find('\n');
    if (end == std::string::npos) break;
    std::string line = rest.substr(0, end);
    rest.erase(0, end + 1);
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    out.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  out.body = std::move(rest);
  return out;
}

inline model_config fuzz_model() {
  model_config m;
  m.id = "fuzz-model";
  m.tier = "mid";
  m.price_in_per_mtok = 1;
  m.price_out_per_mtok = 2;
  m.context_window = 1000;
  return m;
}

}  // namespace switchyard::fuzz
