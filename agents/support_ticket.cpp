#include "agents/support_ticket.hpp"

#include <fmt/format.h>

#include <cctype>
#include <nlohmann/json.hpp>

namespace switchyard {

namespace {

using json = nlohmann::json;

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid
// (overlong forms, surrogates and code points above U+10FFFF included).
size_t utf8_sequence(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if (c >= 0xE0 && c <= 0xEF)
    n = 3;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 4;
  else
    return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  if (n == 3 && c == 0xE0 && b(i + 1) < 0xA0) return 0;   // overlong
  if (n == 3 && c == 0xED && b(i + 1) >= 0xA0) return 0;  // surrogate
  if (n == 4 && c == 0xF0 && b(i + 1) < 0x90) return 0;   // overlong
  if (n == 4 && c == 0xF4 && b(i + 1) >= 0x90) return 0;  // above U+10FFFF
  return n;
}

bool is_blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') return false;
  return true;
}

}  // namespace

std::string to_envelope(const support_ticket& t) {
  json j;
  j["text"] = t.text;
  if (!t.history.empty()) {
    auto& h = j["history"] = json::array();
    for (const auto& m : t.history) h.push_back({{"role", m.role}, {"content", m.content}});
  }
  if (!t.customer_name.empty()) j["customer_name"] = t.customer_name;
  if (!t.customer_email.empty()) j["customer_email"] = t.customer_email;
  if (!t.data_class.empty()) {
    j["data_class"] = t.data_class;
    j["pii_found"] = t.pii_found;
    j["mood"] = t.mood;
    j["urgency"] = t.urgency;
    j["language"] = t.language;
  }
  if (!t.note.empty()) j["note"] = t.note;
  if (!t.route.empty()) {
    j["route"] = t.route;
    j["confidence"] = t.confidence;
    j["agent"] = t.agent;
  }
  if (!t.source.empty()) {
    j["source"] = t.source;
    j["draft"] = t.draft;
    if (!t.citations.empty()) j["citations"] = t.citations;
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

support_ticket read_envelope(std::string_view input, std::string& error) {
  support_ticket t;
  size_t first = input.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || input[first] != '{') {
    t.text = std::string(input);
    return t;
  }
  auto j = json::parse(input.begin(), input.end(), nullptr, false);
  if (!j.is_object() || !j.contains("text")) {
    // Looks like JSON but is not an envelope: a customer may well type braces.
    t.text = std::string(input);
    return t;
  }
  auto str = [&](const char* key, std::string& out) {
    if (!j.contains(key)) return;
    if (!j[key].is_string())
      error = fmt::format("ticket envelope: '{}' must be a string", key);
    else
      out = j[key].get<std::string>();
  };
  str("text", t.text);
  str("customer_name", t.customer_name);
  str("customer_email", t.customer_email);
  str("data_class", t.data_class);
  str("mood", t.mood);
  str("urgency", t.urgency);
  str("language", t.language);
  str("note", t.note);
  str("route", t.route);
  str("agent", t.agent);
  str("source", t.source);
  str("draft", t.draft);
  if (j.contains("pii_found") && j["pii_found"].is_number_unsigned())
    t.pii_found = j["pii_found"].get<size_t>();
  if (j.contains("confidence") && j["confidence"].is_number())
    t.confidence = j["confidence"].get<double>();
  if (j.contains("history")) {
    const auto& h = j["history"];
    if (!h.is_array()) {
      error = "ticket envelope: 'history' must be an array of {role, content}";
    } else {
      for (size_t i = 0; i < h.size(); ++i) {
        const auto& m = h[i];
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string() ||
            !m.contains("content") || !m["content"].is_string()) {
          error = fmt::format("ticket envelope: history[{}] must be {{\"role\", \"content\"}}", i);
          break;
        }
        auto role = m["role"].get<std::string>();
        if (role != "user" && role != "assistant") {
          error = fmt::format(
              "ticket envelope: history[{}].role must be user or assistant, got '{}'", i, role);
          break;
        }
        t.history.emplace_back(std::move(role), m["content"].get<std::string>());
      }
    }
  }
  if (j.contains("citations") && j["citations"].is_array())
    for (const auto& c : j["citations"])
      if (c.is_string()) t.citations.push_back(c.get<std::string>());
  return t;
}

std::string check_ticket_text(std::string_view raw, size_t max_bytes, std::string& cleaned,
                              size_t& replaced) {
  cleaned.clear();
  replaced = 0;
  if (raw.empty()) return "empty ticket: there is no text to answer";
  if (raw.size() > max_bytes)
    return fmt::format("ticket too large: {} bytes, the limit is support.max_ticket_bytes = {}",
                       raw.size(), max_bytes);
  if (is_blank(raw))
    return fmt::format("empty ticket: {} bytes of whitespace only, no text to answer", raw.size());
  cleaned.reserve(raw.size());
  bool readable = false;
  for (size_t i = 0; i < raw.size();) {
    size_t n = utf8_sequence(raw, i);
    if (n == 0) {
      cleaned += "\xEF\xBF\xBD";  // U+FFFD
      ++replaced;
      ++i;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if (n > 1 || (c < 0x80 && std::isalnum(c))) readable = true;
    cleaned.append(raw.substr(i, n));
    i += n;
  }
  if (!readable) {
    cleaned.clear();
    return fmt::format(
        "unreadable ticket: none of its {} bytes is a letter or digit in valid UTF-8 "
        "({} invalid byte sequences)",
        raw.size(), replaced);
  }
  return {};
}

}  // namespace switchyard
