#include "examples/support/ticket_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "agents/support_ticket.hpp"

namespace switchyard::examples {

namespace {

using json = nlohmann::json;

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

constexpr uint64_t repeat_max = 100000;

support_ticket_line parse_one(const std::string& line_text, size_t line,
                              const std::string& source) {
  support_ticket_line t;
  t.line = line;
  t.id = fmt::format("line {}", line);
  auto fail = [&](const std::string& why) {
    t.error = fmt::format("{}:{}: {}", source, line, why);
    return t;
  };
  auto j = json::parse(line_text, nullptr, false);
  if (j.is_discarded()) return fail("not valid JSON");
  if (!j.is_object()) return fail("must be a JSON object");
  static const std::vector<std::string> keys = {
      "id",        "text",       "turns",          "text_base64",   "repeat",
      "input",     "tags",       "expected_route", "customer_name", "customer_email",
      "thread_id", "pii_values", "run_id"};
  for (const auto& item : j.items())
    if (std::find(keys.begin(), keys.end(), item.key()) == keys.end())
      return fail(fmt::format("unknown key '{}'", item.key()));
  auto str = [&](const char* key, std::string& out) -> bool {
    if (!j.contains(key)) return true;
    if (!j[key].is_string()) {
      fail(fmt::format("'{}' must be a string", key));
      return false;
    }
    out = j[key].get<std::string>();
    return true;
  };
  if (!str("id", t.id) || !str("thread_id", t.thread_id) ||
      !str("customer_name", t.customer_name) || !str("customer_email", t.customer_email))
    return t;
  if (j.contains("id") && t.id.empty()) t.id = fmt::format("line {}", line);
  if (j.contains("expected_route")) {
    if (!str("expected_route", t.expected_route)) return t;
    t.has_expected = true;
  }
  for (const char* key : {"tags", "pii_values"}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_array()) return fail(fmt::format("'{}' must be an array of strings", key));
    auto& out = std::string(key) == "tags" ? t.tags : t.pii_values;
    for (const auto& v : j[key]) {
      if (!v.is_string()) return fail(fmt::format("'{}' must be an array of strings", key));
      out.push_back(v.get<std::string>());
    }
  }
  int sources = int{j.contains("text")} + int{j.contains("turns")} +
                int{j.contains("text_base64")} + int{j.contains("input")};
  if (sources != 1) return fail("needs exactly one of 'text', 'turns', 'text_base64' or 'input'");
  std::string text;
  if (j.contains("turns")) {
    const auto& turns = j["turns"];
    if (!turns.is_array() || turns.empty())
      return fail("'turns' must be a non-empty array of strings");
    for (const auto& v : turns) {
      if (!v.is_string()) return fail("'turns' must be a non-empty array of strings");
      t.turns.push_back(v.get<std::string>());
    }
  } else if (j.contains("text_base64")) {
    std::string encoded;
    if (!str("text_base64", encoded)) return t;
    if (!decode_base64(encoded, text)) return fail("'text_base64' is not valid base64");
    t.turns.push_back(std::move(text));
  } else {
    if (!str(j.contains("text") ? "text" : "input", text)) return t;
    t.turns.push_back(std::move(text));
  }
  if (j.contains("repeat")) {
    const auto& r = j["repeat"];
    if (!r.is_number_unsigned() || r.get<uint64_t>() < 1 || r.get<uint64_t>() > repeat_max)
      return fail(fmt::format("'repeat' must be an integer from 1 to {}", repeat_max));
    if (t.turns.size() != 1) return fail("'repeat' only applies to a single-turn ticket");
    std::string once = t.turns.front();
    std::string all;
    all.reserve(once.size() * r.get<uint64_t>());
    for (uint64_t i = 0; i < r.get<uint64_t>(); ++i) all += once;
    t.turns.front() = std::move(all);
  }
  return t;
}

}  // namespace

bool decode_base64(const std::string& in, std::string& out) {
  out.clear();
  uint32_t acc = 0;
  int bits = 0;
  size_t padding = 0;
  for (char c : in) {
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0) return false;  // data after padding
    int v = base64_value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return padding <= 2 && bits < 6;
}

std::vector<support_ticket_line> parse_ticket_lines(const std::string& text,
                                                    const std::string& source) {
  std::vector<support_ticket_line> out;
  size_t line = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    ++line;
    std::string one = text.substr(start, end - start);
    if (!one.empty() && one.back() == '\r') one.pop_back();
    if (one.find_first_not_of(" \t") != std::string::npos)
      out.push_back(parse_one(one, line, source));
    start = end + 1;
  }
  return out;
}

std::string ticket_run_input(const support_ticket_line& ticket) {
  if (ticket.turns.size() == 1 && ticket.customer_name.empty() && ticket.customer_email.empty()) {
    const auto& text = ticket.turns.front();
    // Plain text goes as it is (invalid bytes included, for the gatekeeper to judge),
    // unless it could be mistaken for an envelope.
    auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || text[first] != '{') return text;
  }
  support_ticket envelope;
  envelope.text = ticket.turns.back();
  for (size_t i = 0; i + 1 < ticket.turns.size(); ++i)
    envelope.history.emplace_back("user", ticket.turns[i]);
  envelope.customer_name = ticket.customer_name;
  envelope.customer_email = ticket.customer_email;
  return to_envelope(envelope);
}

}  // namespace switchyard::examples
