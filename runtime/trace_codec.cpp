#include "runtime/trace_codec.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <iterator>

#include "runtime/json_text.hpp"

namespace switchyard {

namespace {

// Part of format 1: a word's index is written in traces, so words are only ever
// appended (a new format tag otherwise).
// clang-format off
constexpr std::string_view dictionary[] = {
    "routed",      "blocked",   "budget_exhausted", "no_model",         "request",
    "classifier",  "default",   "none",             "model_pin",        "route",
    "lowest",      "route+complexity",              "lowest+complexity", "interactive",
    "realtime",    "batch",     "public",           "internal",         "pii",
    "health",      "financial", "private",
};
// clang-format on
constexpr size_t dictionary_size = sizeof dictionary / sizeof dictionary[0];
// The dictionary's words by length (put_word): their indices, no_word after the last.
constexpr size_t max_word_size = 17;
constexpr size_t max_words_of_a_size = 4;
constexpr uint8_t no_word = 0xff;
struct word_table {
  uint8_t index[max_word_size + 1][max_words_of_a_size];
};
constexpr word_table make_words_of_size() {
  word_table t{};
  for (auto& row : t.index)
    for (auto& i : row) i = no_word;
  for (size_t i = 0; i < dictionary_size; ++i) {
    auto& row = t.index[dictionary[i].size()];
    size_t at = 0;
    while (row[at] != no_word) ++at;
    row[at] = static_cast<uint8_t>(i);
  }
  return t;
}
constexpr word_table words_of_size = make_words_of_size();
constexpr uint64_t ref_empty = 0;
constexpr uint64_t ref_new = 1;
constexpr uint64_t ref_words = 2;
constexpr uint64_t ref_seen = ref_words + dictionary_size;
// A trace repeats a handful of strings; more distinct ones than this are written out.
constexpr size_t max_strings = 64;

// Names of candidate_filter values (router/decision_trace.cpp), by verdict byte.
constexpr std::string_view verdicts[] = {"eligible", "compliance", "context_window", "capability",
                                         "health",   "latency",    "budget",         "chosen"};

void put_number(std::string& out, double x) {
  if (x == 0 && !std::signbit(x)) {
    out.push_back('0');  // what {:.6g} writes for 0, without the formatter
    return;
  }
  fmt::format_to(std::back_inserter(out), "{:.6g}", x);
}

void append_varint(std::string& out, uint64_t x) {
  while (x >= 0x80) {
    out.push_back(static_cast<char>((x & 0x7f) | 0x80));
    x >>= 7;
  }
  out.push_back(static_cast<char>(x));
}

void put_integer(std::string& out, uint64_t x) {
  char buf[24];
  auto end = std::to_chars(buf, buf + sizeof buf, x).ptr;
  out.append(buf, static_cast<size_t>(end - buf));
}

// Reads one trace's fields; every read checks the bounds and fails the reader once.
class trace_reader {
 public:
  trace_reader(std::string_view bytes, size_t pos) : in_(bytes), pos_(pos) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t pos() const { return pos_; }

  uint8_t byte() {
    if (pos_ >= in_.size()) return fail("ends early"), 0;
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint64_t varint() {
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return fail("ends early"), 0;
      auto b = static_cast<uint8_t>(in_[pos_++]);
      x |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return x;
    }
    return fail("a number is too long"), 0;
  }
  double number() {
    uint8_t kind = byte();
    if (kind == 0) return 0;
    if (kind != 1) return fail("bad number"), 0;
    if (in_.size() - pos_ < 8) return fail("ends early"), 0;
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i)
      bits |= static_cast<uint64_t>(static_cast<uint8_t>(in_[pos_ + i])) << (8 * i);
    pos_ += 8;
    double x;
    std::memcpy(&x, &bits, sizeof x);
    return x;
  }
  std::string_view text() {
    uint64_t n = varint();
    if (!ok()) return {};
    if (n > in_.size() - pos_) return fail("a string runs past the end"), std::string_view{};
    auto out = in_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  std::string_view string() {
    uint64_t ref = varint();
    if (!ok() || ref == ref_empty) return {};
    if (ref == ref_new) {
      auto s = text();
      if (ok() && seen_count_ < max_strings) seen_[seen_count_++] = s;
      return s;
    }
    if (ref < ref_seen) return dictionary[ref - ref_words];
    if (ref - ref_seen >= seen_count_) return fail("bad string reference"), std::string_view{};
    return seen_[ref - ref_seen];
  }

  void fail(const char* what) {
    if (error_.empty()) error_ = fmt::format("trace at byte {}: {}", pos_, what);
    pos_ = in_.size();
  }

 private:
  std::string_view in_;
  size_t pos_;
  std::string error_;
  std::string_view seen_[max_strings];
  size_t seen_count_ = 0;
};

// The fields form, written as router/decision_trace.cpp's to_json_text writes the
// trace itself (tests compare the two on varied decisions).
bool render_fields(trace_reader& r, std::string& out) {
  const uint8_t flags = r.byte();
  auto outcome = r.string();
  auto route = r.string();
  auto route_source = r.string();
  auto target_tier = r.string();
  auto tier_source = r.string();
  auto model = r.string();
  auto tier = r.string();
  auto note = r.string();
  if (!r.ok()) return false;
  out += "{\"outcome\":";
  append_json_string(out, outcome);
  if (!route.empty()) {
    append_json_key(out, "route");
    append_json_string(out, route);
  }
  append_json_key(out, "route_source");
  append_json_string(out, route_source);
  append_json_key(out, "target_tier");
  append_json_string(out, target_tier);
  append_json_key(out, "tier_source");
  append_json_string(out, tier_source);
  append_json_key(out, "model");
  append_json_string(out, model);
  append_json_key(out, "tier");
  append_json_string(out, tier);
  if (flags & trace_flag_downgraded) out += ",\"downgraded\":true";
  if (!note.empty()) {
    append_json_key(out, "note");
    append_json_string(out, note);
  }
  uint64_t rules = r.varint();
  if (rules > 0) {
    append_json_key(out, "rules_fired");
    out.push_back('[');
    for (uint64_t i = 0; i < rules && r.ok(); ++i) {
      if (i > 0) out.push_back(',');
      append_json_string(out, r.string());
    }
    out.push_back(']');
  }
  if (flags & trace_flag_classifier) {
    append_json_key(out, "classifier");
    out += "{\"route\":";
    append_json_string(out, r.string());
    append_json_key(out, "confidence");
    put_number(out, r.number());
    append_json_key(out, "runner_up");
    append_json_string(out, r.string());
    append_json_key(out, "runner_up_confidence");
    put_number(out, r.number());
    append_json_key(out, "threshold");
    put_number(out, r.number());
    append_json_key(out, "top");
    out.push_back('[');
    uint64_t top = r.varint();
    for (uint64_t i = 0; i < top && r.ok(); ++i) {
      if (i > 0) out.push_back(',');
      out += "{\"route\":";
      append_json_string(out, r.string());
      append_json_key(out, "p");
      put_number(out, r.number());
      out.push_back('}');
    }
    out.push_back(']');
    auto encoder = r.string();
    if (!encoder.empty()) {
      append_json_key(out, "encoder");
      append_json_string(out, encoder);
    }
    out.push_back('}');
  }
  auto data_class = r.string();
  auto data_class_source = r.string();
  auto latency_class = r.string();
  if (!data_class.empty()) {
    append_json_key(out, "data_class");
    out += "{\"class\":";
    append_json_string(out, data_class);
    append_json_key(out, "source");
    append_json_string(out, data_class_source);
    out.push_back('}');
  }
  if (!latency_class.empty()) {
    append_json_key(out, "latency_class");
    append_json_string(out, latency_class);
  }
  out += ",\"complexity\":{\"prompt_tokens\":";
  put_integer(out, r.varint());
  uint8_t bits = r.byte();
  uint64_t parts = r.varint();
  uint64_t tier_steps = r.varint();
  if (bits & 1) out += ",\"long_prompt\":true";
  if (bits & 2) out += ",\"has_code\":true";
  if (bits & 4) {
    out += ",\"parts\":";
    put_integer(out, parts);
  }
  if (tier_steps > 0) {
    out += ",\"tier_steps\":";
    put_integer(out, tier_steps);
  }
  out.push_back('}');
  append_json_key(out, "candidates");
  out.push_back('[');
  uint64_t listed = r.varint();
  for (uint64_t i = 0; i < listed && r.ok(); ++i) {
    if (i > 0) out.push_back(',');
    out += "{\"model\":";
    append_json_string(out, r.string());
    append_json_key(out, "tier");
    append_json_string(out, r.string());
    uint8_t verdict = r.byte();
    if (verdict > trace_verdict_chosen) r.fail("bad verdict");
    append_json_key(out, "verdict");
    append_json_string(out, verdicts[verdict & 7]);
    auto detail = r.string();
    if (!detail.empty()) {
      append_json_key(out, "detail");
      append_json_string(out, detail);
    }
    append_json_key(out, "estimated_usd");
    put_number(out, r.number());
    out.push_back('}');
  }
  out.push_back(']');
  out += ",\"also_eligible\":";
  put_integer(out, r.varint());
  if (flags & (trace_flag_token_budget | trace_flag_cost_budget)) {
    append_json_key(out, "budget");
    out.push_back('{');
    if (flags & trace_flag_token_budget) {
      out += "\"tokens_left\":";
      put_integer(out, r.varint());
    }
    if ((flags & trace_flag_token_budget) && (flags & trace_flag_cost_budget)) out.push_back(',');
    if (flags & trace_flag_cost_budget) {
      out += "\"usd_left\":";
      put_number(out, r.number());
    }
    out.push_back('}');
  }
  if (flags & trace_flag_resilience) {
    out += ",\"resilience\":";
    out += r.text();
  }
  out.push_back('}');
  return r.ok();
}

}  // namespace

void trace_writer::put_double(double x) {
  if (x == 0 && !std::signbit(x)) {
    *at_++ = 0;
    return;
  }
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  *at_++ = 1;
  for (int i = 0; i < 8; ++i) *at_++ = static_cast<char>((bits >> (8 * i)) & 0xff);
}

void trace_writer::put_string(std::string_view text) {
  if (text.empty()) {
    *at_++ = static_cast<char>(ref_empty);
    return;
  }
  for (size_t i = 0; i < seen_count_; ++i)
    if (seen_[i].size() == text.size() &&
        std::memcmp(seen_[i].data(), text.data(), text.size()) == 0)
      return put_varint(ref_seen + i);
  // The reader remembers at most max_strings; this writer fewer: later repeats are
  // simply written out again.
  if (seen_count_ < max_seen) seen_[seen_count_++] = text;
  *at_++ = static_cast<char>(ref_new);
  put_varint(text.size());
  std::memcpy(at_, text.data(), text.size());
  at_ += text.size();
}

void trace_writer::put_word(std::string_view text) {
  if (text.empty()) {
    *at_++ = static_cast<char>(ref_empty);
    return;
  }
  // Only the dictionary's words of the text's length are compared (at most four), first
  // letter first: a scan of the whole dictionary cost more than the rest of the word.
  if (text.size() < max_word_size + 1) {
    for (uint8_t i : words_of_size.index[text.size()]) {
      if (i == no_word) break;
      const auto& word = dictionary[i];
      if (word[0] == text[0] && std::memcmp(word.data(), text.data(), text.size()) == 0)
        return put_varint(ref_words + i);
    }
  }
  put_string(text);
}

bool append_trace_json(std::string_view bytes, size_t& pos, std::string& out, std::string& error) {
  trace_reader r{bytes, pos};
  uint8_t tag = r.byte();
  bool ok = false;
  if (!r.ok()) {
  } else if (tag == trace_tag_fields) {
    ok = render_fields(r, out);
  } else if (tag == trace_tag_json) {
    auto text = r.text();
    if (r.ok() && text.empty()) r.fail("empty JSON trace");
    out += text;
    ok = r.ok();
  } else {
    r.fail("unknown trace format");
  }
  if (!ok) {
    error = r.error();
    pos = bytes.size();
    return false;
  }
  pos = r.pos();
  return true;
}

std::string trace_json(std::string_view bytes) {
  std::string out, error;
  size_t pos = 0;
  if (bytes.empty()) return out;
  out.reserve(384);
  if (!append_trace_json(bytes, pos, out, error)) out.clear();
  return out;
}

std::string traces_json_array(std::string_view bytes, std::string* error) {
  std::string out, problem;
  if (bytes.empty()) return out;
  out.reserve(384);
  out.push_back('[');
  size_t pos = 0;
  while (pos < bytes.size()) {
    if (out.size() > 1) out.push_back(',');
    if (!append_trace_json(bytes, pos, out, problem)) {
      if (error) *error = problem;
      return {};
    }
  }
  out.push_back(']');
  return out;
}

std::string check_traces(std::string_view bytes) {
  std::string error;
  traces_json_array(bytes, &error);
  return error;
}

std::string json_trace(std::string_view json_text) {
  std::string out;
  out.push_back(static_cast<char>(trace_tag_json));
  append_varint(out, json_text.size());
  out.append(json_text);
  return out;
}

void add_resilience(std::string& trace, std::string_view resilience_json) {
  if (trace.size() >= 2 && static_cast<uint8_t>(trace[0]) == trace_tag_fields &&
      (static_cast<uint8_t>(trace[1]) & trace_flag_resilience) == 0) {
    trace[1] = static_cast<char>(static_cast<uint8_t>(trace[1]) | trace_flag_resilience);
    append_varint(trace, resilience_json.size());
    trace.append(resilience_json);
    return;
  }
  std::string text = trace_json(trace);
  std::string extra = "\"resilience\":";
  extra.append(resilience_json);
  if (text.size() >= 2 && text.back() == '}') {
    text.insert(text.size() - 1, (text.size() > 2 ? "," : "") + extra);
  } else {
    text = "{" + extra + "}";
  }
  trace = json_trace(text);
}

}  // namespace switchyard
