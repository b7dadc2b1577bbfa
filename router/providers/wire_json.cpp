#include "router/providers/wire_json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "router/cost.hpp"

namespace switchyard {

using json = nlohmann::json;

json parse_object_text(const std::string& text, const std::string& what, const std::string& kind) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded())
    throw wire_error(kind, what + " is not valid JSON: " + body_excerpt(text));
  if (!doc.is_object()) {
    throw wire_error(kind, what + " must be a JSON object, got " + body_excerpt(text));
  }
  return doc;
}

std::string canonical_arguments_text(const std::string& text, const std::string& tool_name) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return "{}";
  json args = parse_object_text(text, "arguments of tool call " + tool_name, "bad_response");
  return args.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string canonical_arguments(const json& args, const std::string& tool_name) {
  if (args.is_null()) return "{}";
  if (!args.is_object()) {
    throw wire_error("bad_response",
                     "arguments of tool call " + tool_name + " must be a JSON object, got " +
                         body_excerpt(args.dump(-1, ' ', false, json::error_handler_t::replace)));
  }
  return args.dump(-1, ' ', false, json::error_handler_t::replace);
}

void set_usage(model_response& response, const model_config& model, uint64_t input_tokens,
               uint64_t output_tokens) {
  constexpr uint64_t max32 = std::numeric_limits<uint32_t>::max();
  response.usage.model_id = model.id;
  response.usage.tier = model.tier;
  response.usage.input_tokens = static_cast<uint32_t>(std::min(input_tokens, max32));
  response.usage.output_tokens = static_cast<uint32_t>(std::min(output_tokens, max32));
  response.usage.cost_usd = call_cost_usd(model, input_tokens, output_tokens);
}

uint64_t count_field(const json& obj, const char* key) {
  if (!obj.is_object()) return 0;
  auto it = obj.find(key);
  if (it == obj.end()) return 0;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer())
    return static_cast<uint64_t>(std::max<int64_t>(0, it->get<int64_t>()));
  if (it->is_number_float()) {
    double x = it->get<double>();
    if (x > 0 && x < 1e18) return static_cast<uint64_t>(x);
  }
  return 0;
}

std::string string_field(const json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

model_response failed_response(const std::string& kind, const std::string& message,
                               uint32_t retry_after_ms) {
  model_response out;
  out.error.kind = kind;
  out.error.message = message;
  out.error.retry_after_ms = retry_after_ms;
  return out;
}

std::string body_excerpt(const std::string& body) {
  constexpr size_t limit = 200;
  if (body.size() <= limit) return body;
  size_t at = limit;
  while (at > 0 && (static_cast<unsigned char>(body[at]) & 0xC0) == 0x80) --at;
  return body.substr(0, at) + "...";
}

nlohmann::json request_object(const std::string& text, const std::string& what) {
  try {
    return parse_object_text(text, what, "bad_request");
  } catch (const wire_error& e) {
    throw std::invalid_argument(e.what());
  }
}

}  // namespace switchyard

namespace switchyard {

namespace {

// A recursive-descent reader of JSON text (RFC 8259, as nlohmann's lexer reads it:
// strict UTF-8, no comments, nothing after the value but whitespace) that calls the
// handler as nlohmann's SAX parser does. On anything it does not take it stops and
// says so (false); it never guesses.
class json_scanner {
 public:
  json_scanner(std::string_view text, nlohmann::json_sax<nlohmann::json>& sax)
      : p_(text.data()), end_(text.data() + text.size()), sax_(sax) {}

  bool run() {
    skip_space();
    if (!value(0)) return false;
    skip_space();
    return p_ == end_;
  }

 private:
  static constexpr int max_depth = 64;

  static bool digit(char c) { return c >= '0' && c <= '9'; }

  void skip_space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool value(int depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{':
        return object(depth);
      case '[':
        return array(depth);
      case '"':
        return string(text_) && sax_.string(text_);
      case 't':
        return literal("true", 4) && sax_.boolean(true);
      case 'f':
        return literal("false", 5) && sax_.boolean(false);
      case 'n':
        return literal("null", 4) && sax_.null();
      default:
        return number();
    }
  }

  bool literal(const char* word, size_t n) {
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return false;
    p_ += n;
    return true;
  }

  bool object(int depth) {
    if (depth >= max_depth) return false;
    ++p_;
    if (!sax_.start_object(static_cast<std::size_t>(-1))) return false;
    skip_space();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return sax_.end_object();
    }
    for (;;) {
      skip_space();
      if (p_ == end_ || *p_ != '"' || !string(text_) || !sax_.key(text_)) return false;
      skip_space();
      if (p_ == end_ || *p_ != ':') return false;
      ++p_;
      skip_space();
      if (!value(depth + 1)) return false;
      skip_space();
      if (p_ == end_) return false;
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ != '}') return false;
      ++p_;
      return sax_.end_object();
    }
  }

  bool array(int depth) {
    if (depth >= max_depth) return false;
    ++p_;
    if (!sax_.start_array(static_cast<std::size_t>(-1))) return false;
    skip_space();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return sax_.end_array();
    }
    for (;;) {
      skip_space();
      if (!value(depth + 1)) return false;
      skip_space();
      if (p_ == end_) return false;
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ != ']') return false;
      ++p_;
      return sax_.end_array();
    }
  }

  // The length of the well-formed UTF-8 sequence at p_ (ranges of RFC 3629, as
  // nlohmann checks them), or 0.
  size_t utf8_sequence() const {
    auto at = [&](size_t i) -> unsigned {
      return p_ + i < end_ ? static_cast<unsigned char>(p_[i]) : 0x100u;
    };
    auto cont = [&](size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) {
      unsigned x = at(i);
      return x >= lo && x <= hi;
    };
    unsigned c = at(0);
    if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
    if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
    if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
    if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
    return 0;
  }

  // Four hex digits after "\u" (p_ on the 'u'); advances past them.
  bool hex4(unsigned& out) {
    if (end_ - p_ < 5) return false;
    out = 0;
    for (int i = 1; i <= 4; ++i) {
      char c = p_[i];
      unsigned d = c >= '0' && c <= '9'   ? c - '0'
                   : c >= 'a' && c <= 'f' ? c - 'a' + 10
                   : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : 16;
      if (d == 16) return false;
      out = out * 16 + d;
    }
    p_ += 5;
    return true;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // A string (p_ on its opening quote) into `out`, escapes decoded.
  bool string(std::string& out) {
    ++p_;
    out.clear();
    for (;;) {
      const char* run = p_;
      while (p_ < end_) {
        auto c = static_cast<unsigned char>(*p_);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++p_;
      }
      out.append(run, p_);
      if (p_ == end_) return false;
      auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;  // control characters must be escaped
      if (c >= 0x80) {
        size_t n = utf8_sequence();
        if (n == 0) return false;
        out.append(p_, n);
        p_ += n;
        continue;
      }
      if (++p_ == end_) return false;  // a backslash
      switch (*p_) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          unsigned cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate alone
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned low = 0;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
            ++p_;
            if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, cp);
          continue;  // hex4 moved past the escape
        }
        default:
          return false;
      }
      ++p_;
    }
  }

  bool number() {
    const char* start = p_;
    bool negative = *p_ == '-';
    if (negative) ++p_;
    if (p_ == end_ || !digit(*p_)) return false;
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ < end_ && digit(*p_)) ++p_;
    }
    const char* integer_end = p_;
    bool fraction = false;
    if (p_ < end_ && *p_ == '.') {
      fraction = true;
      ++p_;
      if (p_ == end_ || !digit(*p_)) return false;
      while (p_ < end_ && digit(*p_)) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      fraction = true;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !digit(*p_)) return false;
      while (p_ < end_ && digit(*p_)) ++p_;
    }
    if (!fraction) {
      const char* d = start + (negative ? 1 : 0);
      if (integer_end - d > 18) return false;  // nlohmann decides where it overflows
      uint64_t v = 0;
      for (; d < integer_end; ++d) v = v * 10 + static_cast<uint64_t>(*d - '0');
      if (negative) return sax_.number_integer(-static_cast<int64_t>(v));
      return sax_.number_unsigned(v);
    }
    std::string token(start, p_);
    char* parsed_end = nullptr;
    double v = std::strtod(token.c_str(), &parsed_end);
    if (parsed_end != token.c_str() + token.size() || !std::isfinite(v)) return false;
    return sax_.number_float(v, token);
  }

  const char* p_;
  const char* end_;
  nlohmann::json_sax<nlohmann::json>& sax_;
  std::string text_;  // the string being read; handed to the handler, which may take it
};

}  // namespace

bool scan_json(std::string_view text, nlohmann::json_sax<nlohmann::json>& sax) {
  return json_scanner{text, sax}.run();
}

}  // namespace switchyard
