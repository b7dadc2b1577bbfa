#include "router/decision_trace.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <iterator>
#include <string_view>

#include "runtime/json_text.hpp"
#include "runtime/trace_codec.hpp"

namespace switchyard {

const char* to_string(candidate_filter x) {
  switch (x) {
    case candidate_filter::none:
      return "eligible";
    case candidate_filter::compliance:
      return "compliance";
    case candidate_filter::context_window:
      return "context_window";
    case candidate_filter::capability:
      return "capability";
    case candidate_filter::health:
      return "health";
    case candidate_filter::latency:
      return "latency";
    case candidate_filter::budget:
      return "budget";
  }
  return "eligible";
}

namespace {

void put_raw(std::string& out, std::string_view text) {
  out.append(text);
}

// Values go through the shared escaping writer, which skips plain runs eight bytes at
// a time (runtime/json_text).
void put_string(std::string& out, std::string_view text) {
  append_json_string(out, text);
}

void put_number(std::string& out, double x) {
  if (x == 0 && !std::signbit(x)) {
    out.push_back('0');  // what {:.6g} writes for 0, without the formatter
    return;
  }
  fmt::format_to(std::back_inserter(out), "{:.6g}", x);
}

void put_integer(std::string& out, uint64_t x) {
  char buf[24];
  auto end = std::to_chars(buf, buf + sizeof buf, x).ptr;
  out.append(buf, static_cast<size_t>(end - buf));
}

void put_bool(std::string& out, bool x) {
  put_raw(out, x ? "true" : "false");
}

}  // namespace

std::string to_json_text(const decision_trace& t) {
  std::string out;
  out.reserve(512);
  put_raw(out, "{\"outcome\":");
  put_string(out, t.outcome);
  if (!t.route.empty()) {
    append_json_key(out, "route");
    put_string(out, t.route);
  }
  append_json_key(out, "route_source");
  put_string(out, t.route_source);
  append_json_key(out, "target_tier");
  put_string(out, t.target_tier);
  append_json_key(out, "tier_source");
  put_string(out, t.tier_source);
  append_json_key(out, "model");
  put_string(out, t.chosen_model);
  append_json_key(out, "tier");
  put_string(out, t.chosen_tier);
  if (t.downgraded) {
    append_json_key(out, "downgraded");
    put_bool(out, true);
  }
  if (!t.note.empty()) {
    append_json_key(out, "note");
    put_string(out, t.note);
  }
  if (!t.rules_fired.empty()) {
    append_json_key(out, "rules_fired");
    out.push_back('[');
    for (size_t i = 0; i < t.rules_fired.size(); ++i) {
      if (i > 0) out.push_back(',');
      put_string(out, t.rules_fired[i]);
    }
    out.push_back(']');
  }
  if (t.classifier.used) {
    const auto& c = t.classifier;
    append_json_key(out, "classifier");
    put_raw(out, "{\"route\":");
    put_string(out, c.route);
    append_json_key(out, "confidence");
    put_number(out, c.confidence);
    append_json_key(out, "runner_up");
    put_string(out, c.runner_up);
    append_json_key(out, "runner_up_confidence");
    put_number(out, c.runner_up_confidence);
    append_json_key(out, "threshold");
    put_number(out, c.threshold);
    append_json_key(out, "top");
    out.push_back('[');
    for (size_t i = 0; i < c.top.size(); ++i) {
      if (i > 0) out.push_back(',');
      put_raw(out, "{\"route\":");
      put_string(out, c.top[i].first);
      append_json_key(out, "p");
      put_number(out, c.top[i].second);
      out.push_back('}');
    }
    out.push_back(']');
    if (!c.encoder.empty()) {
      append_json_key(out, "encoder");
      put_string(out, c.encoder);
    }
    out.push_back('}');
  }
  if (!t.data_class.empty()) {
    append_json_key(out, "data_class");
    put_raw(out, "{\"class\":");
    put_string(out, t.data_class);
    append_json_key(out, "source");
    put_string(out, t.data_class_source);
    out.push_back('}');
  }
  if (!t.latency_class.empty()) {
    append_json_key(out, "latency_class");
    put_string(out, t.latency_class);
  }
  // Complexity: the prompt size, and only the signals that held.
  const auto& x = t.complexity;
  put_raw(out, ",\"complexity\":{\"prompt_tokens\":");
  put_integer(out, x.prompt_tokens);
  if (x.long_prompt) put_raw(out, ",\"long_prompt\":true");
  if (x.has_code) put_raw(out, ",\"has_code\":true");
  if (x.multi_part) {
    put_raw(out, ",\"parts\":");
    put_integer(out, x.parts);
  }
  if (x.tier_steps > 0) {
    put_raw(out, ",\"tier_steps\":");
    put_integer(out, x.tier_steps);
  }
  out.push_back('}');
  append_json_key(out, "candidates");
  out.push_back('[');
  bool first = true;
  for (const auto& c : t.candidates) {
    bool chosen = c.model->id == t.chosen_model;
    if (!chosen && c.filtered_by == candidate_filter::none) continue;
    if (!first) out.push_back(',');
    first = false;
    put_raw(out, "{\"model\":");
    put_string(out, c.model->id);
    append_json_key(out, "tier");
    put_string(out, c.model->tier);
    append_json_key(out, "verdict");
    put_string(out, chosen ? "chosen" : to_string(c.filtered_by));
    if (!c.detail.empty()) {
      append_json_key(out, "detail");
      put_string(out, c.detail);
    }
    append_json_key(out, "estimated_usd");
    put_number(out, c.estimated_usd);
    out.push_back('}');
  }
  out.push_back(']');
  // Models that were allowed but not the best choice: counted, not listed, so the
  // trace stays small on large catalogs.
  size_t others = 0;
  for (const auto& c : t.candidates)
    if (c.model->id != t.chosen_model && c.filtered_by == candidate_filter::none) ++others;
  put_raw(out, ",\"also_eligible\":");
  put_integer(out, others);
  if (t.budget.tokens_limited || t.budget.usd_limited) {
    append_json_key(out, "budget");
    out.push_back('{');
    if (t.budget.tokens_limited) {
      put_raw(out, "\"tokens_left\":");
      put_integer(out, t.budget.tokens_left);
    }
    if (t.budget.tokens_limited && t.budget.usd_limited) out.push_back(',');
    if (t.budget.usd_limited) {
      put_raw(out, "\"usd_left\":");
      put_number(out, t.budget.usd_left);
    }
    out.push_back('}');
  }
  out.push_back('}');
  return out;
}

namespace {

// Most of a trace's strings are empty: one byte (reference 0, trace_codec.hpp) written
// here, without a call into the writer.
void put_text(trace_writer& w, std::string_view text) {
  if (text.empty())
    w.put_byte(0);
  else
    w.put_string(text);
}

void put_word(trace_writer& w, std::string_view text) {
  if (text.empty())
    w.put_byte(0);
  else
    w.put_word(text);
}

}  // namespace

// Field by field in the order runtime/trace_codec.hpp reads them; only the candidates
// the JSON lists (the chosen one and the filtered ones) are kept, the others counted.
std::string to_compact(const decision_trace& t) {
  // Bytes the trace may take at most: written into a stack buffer, then copied into a
  // string of its exact size (held while the call waits, then by the run).
  auto bound = [](std::string_view s) { return trace_writer::string_bound(s); };
  constexpr size_t num = trace_writer::double_bound;
  constexpr size_t var = trace_writer::varint_bound;
  size_t size = 2 + bound(t.outcome) + bound(t.route) + bound(t.route_source) +
                bound(t.target_tier) + bound(t.tier_source) + bound(t.chosen_model) +
                bound(t.chosen_tier) + bound(t.note) + var + bound(t.data_class) +
                bound(t.data_class_source) + bound(t.latency_class) + 4 * var + 1 + var + var +
                var + num;
  for (const auto& rule : t.rules_fired) size += bound(rule);
  if (t.classifier.used) {
    const auto& c = t.classifier;
    size += bound(c.route) + bound(c.runner_up) + bound(c.encoder) + 3 * num + var;
    for (const auto& [route, p] : c.top) size += bound(route) + num;
  }
  for (const auto& c : t.candidates)
    size += bound(c.model->id) + bound(c.model->tier) + 1 + bound(c.detail) + num;
  char stack[768];
  std::string heap;
  if (size > sizeof stack) heap.resize(size);
  char* buffer = size > sizeof stack ? heap.data() : stack;
  trace_writer w{buffer};
  uint8_t flags = 0;
  if (t.downgraded) flags |= trace_flag_downgraded;
  if (t.classifier.used) flags |= trace_flag_classifier;
  if (t.budget.tokens_limited) flags |= trace_flag_token_budget;
  if (t.budget.usd_limited) flags |= trace_flag_cost_budget;
  w.put_byte(trace_tag_fields);
  w.put_byte(flags);
  put_word(w, t.outcome);
  put_text(w, t.route);
  put_word(w, t.route_source);
  put_text(w, t.target_tier);
  put_word(w, t.tier_source);
  put_text(w, t.chosen_model);
  put_text(w, t.chosen_tier);
  put_text(w, t.note);
  w.put_varint(t.rules_fired.size());
  for (const auto& rule : t.rules_fired) put_text(w, rule);
  if (t.classifier.used) {
    const auto& c = t.classifier;
    put_text(w, c.route);
    w.put_double(c.confidence);
    put_text(w, c.runner_up);
    w.put_double(c.runner_up_confidence);
    w.put_double(c.threshold);
    w.put_varint(c.top.size());
    for (const auto& [route, p] : c.top) {
      put_text(w, route);
      w.put_double(p);
    }
    put_text(w, c.encoder);
  }
  put_word(w, t.data_class);
  put_word(w, t.data_class_source);
  put_word(w, t.latency_class);
  const auto& x = t.complexity;
  w.put_varint(x.prompt_tokens);
  w.put_byte(static_cast<uint8_t>((x.long_prompt ? 1 : 0) | (x.has_code ? 2 : 0) |
                                  (x.multi_part ? 4 : 0)));
  w.put_varint(x.parts);
  w.put_varint(x.tier_steps);
  size_t listed = 0;
  for (const auto& c : t.candidates)
    if (c.filtered_by != candidate_filter::none || c.model->id == t.chosen_model) ++listed;
  w.put_varint(listed);
  for (const auto& c : t.candidates) {
    bool chosen = c.model->id == t.chosen_model;
    if (!chosen && c.filtered_by == candidate_filter::none) continue;
    put_text(w, c.model->id);
    put_text(w, c.model->tier);
    w.put_byte(chosen ? trace_verdict_chosen : static_cast<uint8_t>(c.filtered_by));
    put_text(w, c.detail);
    w.put_double(c.estimated_usd);
  }
  w.put_varint(t.candidates.size() - listed);
  if (t.budget.tokens_limited) w.put_varint(t.budget.tokens_left);
  if (t.budget.usd_limited) w.put_double(t.budget.usd_left);
  return std::string(buffer, w.size());
}

nlohmann::json to_json(const decision_trace& t) {
  return nlohmann::json::parse(to_json_text(t));
}

}  // namespace switchyard
