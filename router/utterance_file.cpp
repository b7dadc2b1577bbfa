#include "router/utterance_file.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace switchyard {

namespace {

std::string lower_ascii(std::string s) {
  for (auto& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n'))
    --e;
  return std::string{s.substr(b, e - b)};
}

std::string_view strip_bom(std::string_view text) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  return text;
}

struct csv_record {
  std::vector<std::string> fields;
  size_t line = 0;  // 1-based line where the record starts
};

// Reads one RFC 4180 record starting at `pos`; advances `pos` and `line`. Returns an
// error message (empty on success).
std::string read_csv_record(std::string_view text, size_t& pos, size_t& line, csv_record& rec) {
  rec.fields.clear();
  rec.line = line;
  std::string field;
  while (true) {
    field.clear();
    if (pos < text.size() && text[pos] == '"') {
      const size_t quote_line = line;
      ++pos;
      while (true) {
        if (pos >= text.size()) {
          return std::to_string(quote_line) + ": quoted field is never closed (missing '\"')";
        }
        const char c = text[pos++];
        if (c == '"') {
          if (pos < text.size() && text[pos] == '"') {
            field.push_back('"');
            ++pos;
          } else {
            break;
          }
        } else {
          if (c == '\n') ++line;
          field.push_back(c);
        }
      }
      if (pos < text.size() && text[pos] != ',' && text[pos] != '\n' && text[pos] != '\r') {
        return std::to_string(line) + ": unexpected character '" + std::string(1, text[pos]) +
               "' after a closing quote (quotes inside a field "
               "must be doubled)";
      }
    } else {
      while (pos < text.size() && text[pos] != ',' && text[pos] != '\n' && text[pos] != '\r') {
        if (text[pos] == '"') {
          return std::to_string(line) +
                 ": quote inside an unquoted field (quote the whole field and double the quote)";
        }
        field.push_back(text[pos++]);
      }
    }
    rec.fields.push_back(field);
    if (pos >= text.size()) return "";
    if (text[pos] == ',') {
      ++pos;
      continue;
    }
    if (text[pos] == '\r') ++pos;
    if (pos < text.size() && text[pos] == '\n') ++pos;
    ++line;
    return "";
  }
}

bool blank_record(const csv_record& rec) {
  return rec.fields.size() == 1 && rec.fields[0].empty();
}

}  // namespace

utterance_file_result parse_utterance_csv(std::string_view text, const std::string& source) {
  utterance_file_result out;
  text = strip_bom(text);
  size_t pos = 0, line = 1;
  csv_record rec;
  auto fail = [&](const std::string& where_and_what) {
    out.rows.clear();
    out.error = source + ":" + where_and_what;
    return out;
  };
  // Header.
  do {
    if (pos >= text.size()) return fail("1: empty file, expected a header such as text,label");
    if (auto e = read_csv_record(text, pos, line, rec); !e.empty()) return fail(e);
  } while (blank_record(rec));
  int text_col = -1, label_col = -1;
  for (size_t i = 0; i < rec.fields.size(); ++i) {
    const auto name = lower_ascii(trim(rec.fields[i]));
    if (name == "text" && text_col < 0) text_col = static_cast<int>(i);
    if ((name == "label" || name == "route" || name == "intent" || name == "category") &&
        label_col < 0) {
      label_col = static_cast<int>(i);
    }
  }
  if (text_col < 0 || label_col < 0) {
    return fail(std::to_string(rec.line) +
                ": header must name a 'text' column and a 'label' (or route, intent, category) "
                "column, got '" +
                std::string(text.substr(0, text.find('\n'))) + "'");
  }
  const size_t columns = rec.fields.size();
  while (pos < text.size()) {
    if (auto e = read_csv_record(text, pos, line, rec); !e.empty()) return fail(e);
    if (blank_record(rec)) continue;
    const std::string where = std::to_string(rec.line) + ": ";
    if (rec.fields.size() != columns) {
      return fail(where + "expected " + std::to_string(columns) + " fields as in the header, got " +
                  std::to_string(rec.fields.size()) + " (quote fields that contain commas)");
    }
    auto t = rec.fields[static_cast<size_t>(text_col)];
    auto l = trim(rec.fields[static_cast<size_t>(label_col)]);
    if (trim(t).empty()) return fail(where + "text is empty");
    if (l.empty()) return fail(where + "label is empty");
    out.rows.push_back({std::move(t), std::move(l)});
  }
  if (out.rows.empty()) return fail(std::to_string(line) + ": no rows after the header");
  return out;
}

utterance_file_result parse_utterance_jsonl(std::string_view text, const std::string& source) {
  utterance_file_result out;
  text = strip_bom(text);
  size_t line = 0, pos = 0;
  auto fail = [&](const std::string& what) {
    out.rows.clear();
    out.error = source + ":" + std::to_string(line) + ": " + what;
    return out;
  };
  while (pos < text.size()) {
    ++line;
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view raw = text.substr(pos, end - pos);
    pos = end + 1;
    if (trim(raw).empty()) continue;
    auto doc = nlohmann::json::parse(raw.begin(), raw.end(), nullptr, false);
    if (doc.is_discarded()) return fail("not valid JSON");
    if (!doc.is_object()) return fail("expected a JSON object {\"text\", \"label\"}");
    const char* label_key = doc.contains("label") ? "label" : "route";
    if (!doc.contains("text") || !doc["text"].is_string()) {
      return fail("\"text\" is missing or not a string");
    }
    if (!doc.contains(label_key) || !doc[label_key].is_string()) {
      return fail("\"label\" is missing or not a string");
    }
    auto t = doc["text"].get<std::string>();
    auto l = trim(doc[label_key].get<std::string>());
    if (trim(t).empty()) return fail("text is empty");
    if (l.empty()) return fail("label is empty");
    out.rows.push_back({std::move(t), std::move(l)});
  }
  if (out.rows.empty()) {
    line = std::max<size_t>(line, 1);
    return fail("no rows (expected one JSON object per line)");
  }
  return out;
}

utterance_file_result read_utterance_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in) return {{}, path + ": cannot open for reading"};
  std::ostringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  auto ends_with = [&](const char* ext) {
    const std::string e{ext};
    return path.size() >= e.size() && lower_ascii(path.substr(path.size() - e.size())) == e;
  };
  if (ends_with(".csv")) return parse_utterance_csv(text, path);
  if (ends_with(".jsonl") || ends_with(".ndjson") || ends_with(".json")) {
    return parse_utterance_jsonl(text, path);
  }
  const auto first = text.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
  if (first != std::string::npos && text[first] == '{') return parse_utterance_jsonl(text, path);
  return parse_utterance_csv(text, path);
}

}  // namespace switchyard
