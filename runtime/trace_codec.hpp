#pragma once
// The compact form of routing decision traces (router/decision_trace.hpp) and their
// JSON rendering. A trace is written once per model call and read rarely (`runs show`,
// --json, the gateway's trace header, the audit log), so it travels and is stored as a
// few dozen bytes of fields, and becomes JSON text only where a reader asks for it.
//
// One trace, format 1 (all integers LEB128 varints, doubles one byte 0 for +0.0 or
// one byte 1 and 8 bytes little-endian IEEE 754):
//
//   tag 0x01, flags (1 downgraded, 2 classifier used, 4 token budget, 8 cost budget,
//   16 resilience appended)
//   strings: outcome, route, route_source, target_tier, tier_source, model, tier, note
//   rules fired: count, strings
//   [classifier] route, confidence, runner_up, runner_up_confidence, threshold,
//                top: count, (route, p) pairs, encoder
//   data_class, data_class_source, latency_class
//   complexity: prompt_tokens, bits (1 long_prompt, 2 has_code, 4 multi_part), parts,
//               tier_steps
//   listed candidates (the chosen one and the filtered ones): count, then each model,
//               tier, verdict (0..6 candidate_filter, 7 chosen), detail, estimated_usd
//   also_eligible, [token budget] tokens_left, [cost budget] usd_left
//   [resilience] length, JSON text of the "resilience" object
//
// A string is a varint reference: 0 the empty string, 1 a new string (length, bytes)
// that later references may repeat, 2 + i the i-th word of a fixed dictionary (below,
// part of the format), 2 + dictionary size + i the i-th new string of this trace.
//
//   tag 0x02: length, JSON text, rendered as is. Traces that are not a plain decision
//   (a cache hit's, re-written by the model service) and traces of records written by
//   older builds (JSON) take this form.
//
// A step's traces are its calls' traces one after another.

#include <cstdint>
#include <string>
#include <string_view>

namespace switchyard {

constexpr uint8_t trace_tag_fields = 0x01;
constexpr uint8_t trace_tag_json = 0x02;

constexpr uint8_t trace_flag_downgraded = 1;
constexpr uint8_t trace_flag_classifier = 2;
constexpr uint8_t trace_flag_token_budget = 4;
constexpr uint8_t trace_flag_cost_budget = 8;
constexpr uint8_t trace_flag_resilience = 16;

constexpr uint8_t trace_verdict_chosen = 7;

/// Writes the fields of one trace (router/decision_trace.cpp drives it in the order
/// above) into a buffer the caller sized with the bounds below: it runs once per model
/// call, and a std::string append per field cost more than the trace is worth.
/// Remembers the strings it wrote so that a repeated one costs a byte; they must
/// outlive the writer.
class trace_writer {
 public:
  /// Bytes a string, a varint or a double may take at most.
  static constexpr size_t string_bound(std::string_view text) { return text.size() + 11; }
  static constexpr size_t varint_bound = 10;
  static constexpr size_t double_bound = 9;

  explicit trace_writer(char* buffer) : start_(buffer), at_(buffer) {}

  size_t size() const { return static_cast<size_t>(at_ - start_); }

  void put_byte(uint8_t x) { *at_++ = static_cast<char>(x); }
  void put_varint(uint64_t x) {
    while (x >= 0x80) {
      *at_++ = static_cast<char>((x & 0x7f) | 0x80);
      x >>= 7;
    }
    *at_++ = static_cast<char>(x);
  }
  void put_double(double x);
  /// A string likely repeated within the trace (model ids, tiers, routes).
  void put_string(std::string_view text);
  /// A string from a small vocabulary (outcomes, sources, classes): looked up in the
  /// dictionary first.
  void put_word(std::string_view text);

 private:
  static constexpr size_t max_seen = 16;
  char* start_;
  char* at_;
  std::string_view seen_[max_seen];
  size_t seen_count_ = 0;
};

/// The JSON text of the trace starting at `pos` in `bytes`, appended to `out`; `pos`
/// moves past the trace. False, with `error` naming what is wrong, when the bytes do
/// not decode.
bool append_trace_json(std::string_view bytes, size_t& pos, std::string& out, std::string& error);

/// One trace as JSON text; "" for no trace (empty bytes) or bytes that do not decode.
std::string trace_json(std::string_view bytes);

/// A step's traces as a JSON array text, "[...]"; "" for no traces. Bytes that do not
/// decode give "" and the reason in `error` (when given).
std::string traces_json_array(std::string_view bytes, std::string* error = nullptr);

/// Empty when `bytes` is a well-formed sequence of traces, else what is wrong.
std::string check_traces(std::string_view bytes);

/// A trace held as its JSON text (tag 0x02).
std::string json_trace(std::string_view json_text);

/// `trace` (one trace) with `"resilience":<resilience_json>` added as its last key.
/// A fields trace takes it as its tail; a JSON one gets it inserted before its final
/// brace; an empty one becomes {"resilience":...}.
void add_resilience(std::string& trace, std::string_view resilience_json);

}  // namespace switchyard
