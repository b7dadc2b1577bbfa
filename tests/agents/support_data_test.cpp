// Checks of the support swarm's bundled data: the route example files and the tickets
// (examples/support/routes/*.txt, examples/tickets/tickets.jsonl; format in
// examples/tickets/README.md). They are inputs other tests and the demo rely on, so a
// broken line should fail here, with its line number, rather than skew an accuracy figure.

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "agents/pii_scrubber.hpp"
#include "agents/ticket_tags.hpp"

using namespace switchyard;

namespace {

const std::vector<std::string> kRoutes = {"place_order",    "change_order",     "cancel_order",
                                          "track_order",    "shipping_address", "shipping_options",
                                          "delivery_time",  "refund_policy",    "refund_request",
                                          "refund_status",  "payment_methods",  "payment_problem",
                                          "invoice",        "create_account",   "edit_account",
                                          "delete_account", "switch_account",   "password_recovery",
                                          "signup_problem", "complaint",        "feedback",
                                          "review",         "newsletter",       "human_agent"};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string base64_decode(const std::string& in) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    auto at = alphabet.find(c);
    if (at == std::string::npos) throw std::invalid_argument("not base64");
    buffer = (buffer << 6) | static_cast<unsigned>(at);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    if (n == 2 && c < 0xC2) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

struct ticket {
  size_t line;
  nlohmann::json doc;
  std::string text;  // text, turns joined by newlines, or decoded bytes, after repeat
};

const std::vector<ticket>& tickets() {
  static const std::vector<ticket> all = [] {
    std::vector<ticket> out;
    auto lines = read_lines(SWITCHYARD_SOURCE_DIR "/examples/tickets/tickets.jsonl");
    for (size_t i = 0; i < lines.size(); ++i) {
      INFO("tickets.jsonl line " << i + 1);
      ticket t{i + 1, nlohmann::json::parse(lines[i]), ""};
      if (t.doc.contains("text")) t.text = t.doc["text"].get<std::string>();
      if (t.doc.contains("text_base64")) t.text = base64_decode(t.doc["text_base64"]);
      if (t.doc.contains("turns"))
        for (const auto& turn : t.doc["turns"]) t.text += turn.get<std::string>() + "\n";
      if (t.doc.contains("repeat")) {
        std::string once = t.text;
        for (int k = 1; k < t.doc["repeat"].get<int>(); ++k) t.text += once;
      }
      out.push_back(std::move(t));
    }
    return out;
  }();
  return all;
}

bool has_tag(const ticket& t, const std::string& tag) {
  for (const auto& x : t.doc["tags"])
    if (x == tag) return true;
  return false;
}

}  // namespace

TEST_CASE("support data: each route has 15 to 40 distinct example utterances", "[support-data]") {
  namespace fs = std::filesystem;
  size_t files = 0;
  for (const auto& entry :
       fs::directory_iterator(SWITCHYARD_SOURCE_DIR "/examples/support/routes")) {
    ++files;
    std::string route = entry.path().stem().string();
    INFO("route file " << entry.path().filename().string());
    CHECK(std::find(kRoutes.begin(), kRoutes.end(), route) != kRoutes.end());
    auto lines = read_lines(entry.path().string());
    CHECK(lines.size() >= 15);
    CHECK(lines.size() <= 40);  // 30 at first; other languages and phrasings needed room
    std::set<std::string> distinct;
    for (const auto& l : lines) {
      CHECK_FALSE(l.empty());
      distinct.insert(lower(l));
    }
    CHECK(distinct.size() == lines.size());
  }
  CHECK(files == kRoutes.size());
}

TEST_CASE("support data: tickets are well-formed and cover every route", "[support-data]") {
  REQUIRE(tickets().size() >= 200);
  std::set<std::string> ids;
  std::map<std::string, size_t> per_route;
  for (const auto& t : tickets()) {
    INFO("tickets.jsonl line " << t.line);
    REQUIRE(t.doc.is_object());
    CHECK(ids.insert(t.doc.at("id").get<std::string>()).second);
    int bodies = t.doc.contains("text") + t.doc.contains("turns") + t.doc.contains("text_base64");
    CHECK(bodies == 1);
    REQUIRE(t.doc.at("tags").is_array());
    std::string route = t.doc.at("expected_route").get<std::string>();
    if (route.empty()) {
      CHECK(has_tag(t, "malformed"));
    } else {
      CHECK(std::find(kRoutes.begin(), kRoutes.end(), route) != kRoutes.end());
      ++per_route[route];
    }
    for (const auto& [key, value] : t.doc.items()) {
      static const std::set<std::string> known = {
          "id", "text", "turns", "text_base64", "repeat", "expected_route", "tags", "pii_values"};
      CHECK(known.count(key) == 1);
    }
  }
  for (const auto& route : kRoutes) {
    INFO("route " << route);
    CHECK(per_route[route] >= 8);
  }
}

TEST_CASE("support data: the hard cases are all there", "[support-data]") {
  std::map<std::string, size_t> count;
  bool large = false, invalid = false;
  for (const auto& t : tickets()) {
    for (const auto& tag : t.doc["tags"]) ++count[tag.get<std::string>()];
    if (has_tag(t, "large")) large = large || t.text.size() >= 100 * 1024;
    if (has_tag(t, "invalid_utf8")) {
      INFO("tickets.jsonl line " << t.line);
      CHECK_FALSE(valid_utf8(t.text));
      invalid = true;
    }
    if (has_tag(t, "empty")) CHECK(t.text.find_first_not_of(" \t\n") == std::string::npos);
  }
  CHECK(count["multi_turn"] >= 8);
  CHECK(count["pii"] >= 20);
  CHECK(count["injection"] >= 6);
  CHECK(count["empty"] >= 1);
  CHECK(large);
  CHECK(invalid);
}

TEST_CASE("support data: tickets are worded differently from the route examples",
          "[support-data]") {
  std::set<std::string> examples;
  for (const auto& route : kRoutes)
    for (const auto& l :
         read_lines(SWITCHYARD_SOURCE_DIR "/examples/support/routes/" + route + ".txt"))
      examples.insert(lower(l));
  for (const auto& t : tickets()) {
    INFO("tickets.jsonl line " << t.line);
    std::string text = t.text;
    while (!text.empty() && text.back() == '\n') text.pop_back();
    CHECK(examples.count(lower(text)) == 0);
  }
}

TEST_CASE("support data: every listed PII value is in its ticket and scrubbed from it",
          "[support-data]") {
  pii_scrubber scrubber;
  size_t checked = 0;
  for (const auto& t : tickets()) {
    if (!t.doc.contains("pii_values")) continue;
    INFO("tickets.jsonl line " << t.line);
    CHECK(has_tag(t, "pii"));
    pii_vault vault;
    auto scrubbed = scrubber.scrub(t.text, vault);
    CHECK(scrubbed.data_class == "pii");
    for (const auto& value : t.doc["pii_values"]) {
      std::string v = value.get<std::string>();
      INFO("value " << v);
      CHECK(t.text.find(v) != std::string::npos);
      CHECK(scrubbed.text.find(v) == std::string::npos);
      ++checked;
    }
  }
  CHECK(checked >= 20);
}

TEST_CASE("support data: the gatekeeper's tags agree with the tickets' language and mood tags",
          "[support-data]") {
  for (const auto& t : tickets()) {
    INFO("tickets.jsonl line " << t.line << ": " << t.text.substr(0, 80));
    auto tags = tag_ticket(t.text);
    for (const auto& tag : t.doc["tags"]) {
      std::string s = tag.get<std::string>();
      if (s.rfind("lang:", 0) == 0) CHECK(tags.language == s.substr(5));
      if (s == "negative") CHECK(tags.mood == sentiment::negative);
      if (s == "positive") CHECK(tags.mood == sentiment::positive);
      if (s == "urgent") CHECK(tags.priority == urgency::high);
    }
  }
}

TEST_CASE("support data: tickets without PII come out of the scrubber unchanged",
          "[support-data]") {
  // Order numbers, dates, prices, postcodes and tracking questions must survive: an
  // over-eager scrubber would break order tracking and mislabel tickets as PII.
  pii_scrubber scrubber;
  size_t checked = 0;
  for (const auto& t : tickets()) {
    if (has_tag(t, "pii")) continue;
    INFO("tickets.jsonl line " << t.line << ": " << t.text.substr(0, 80));
    pii_vault vault;
    auto scrubbed = scrubber.scrub(t.text, vault);
    CHECK(scrubbed.data_class == "public");
    CHECK(scrubbed.text == t.text);
    ++checked;
  }
  CHECK(checked >= 150);
}
