#include "runtime/checkpoint_store.hpp"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string_view>
#include <type_traits>

#include "runtime/json_text.hpp"
#include "runtime/run_result_json.hpp"
#include "runtime/trace_codec.hpp"

namespace switchyard {

namespace {

using nlohmann::json;

const char* const cf_runs = "runs";
const char* const cf_steps = "steps";
const char* const cf_ledger = "ledger";
const char* const schema_key = "schema_version";

// Step keys sort by run, then by step number: run id, a NUL, the number big-endian.
std::string step_key(const std::string& run_id, uint32_t step) {
  const char tail[5] = {'\0', static_cast<char>(step >> 24), static_cast<char>(step >> 16),
                        static_cast<char>(step >> 8), static_cast<char>(step)};
  std::string key;
  key.reserve(run_id.size() + sizeof tail);
  key.append(run_id).append(tail, sizeof tail);
  return key;
}

std::string step_prefix(const std::string& run_id) {
  std::string key = run_id;
  key += '\0';
  return key;
}

std::string ledger_prefix(const std::string& run_id) {
  return run_id + "/";
}

step_kind parse_step_kind(const std::string& s, bool& ok) {
  ok = true;
  if (s == "node") return step_kind::node;
  if (s == "call") return step_kind::call;
  if (s == "escalation") return step_kind::escalation;
  ok = false;
  return step_kind::node;
}

std::string encode_ledger(const ledger_entry& e);

// -- a small JSON writer ------------------------------------------------------------
// State and step documents are written on every step; building an nlohmann::json
// tree for them cost more than the RocksDB write itself. These append straight into
// one string (runtime/json_text.hpp escapes strings).

template <size_t N>
void field(std::string& out, const char (&key)[N], std::string_view value) {
  append_json_key(out, key);
  append_json_string(out, value);
}

template <size_t N>
void field(std::string& out, const char (&key)[N], const std::string& value) {
  field(out, key, std::string_view{value});
}

template <size_t N>
void field(std::string& out, const char (&key)[N], const char* value) {
  field(out, key, std::string_view{value});
}

template <size_t N>
void field(std::string& out, const char (&key)[N], bool value) {
  append_json_key(out, key);
  out += value ? "true" : "false";
}

template <size_t N, class Int>
std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>> field(std::string& out,
                                                                              const char (&key)[N],
                                                                              Int value) {
  append_json_key(out, key);
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, r.ptr);
}

template <size_t N>
void field(std::string& out, const char (&key)[N], double value) {
  append_json_key(out, key);
  if (!std::isfinite(value)) value = 0;  // JSON has no NaN or infinity
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, r.ptr);
}

}  // namespace

namespace {

std::string encode_ledger(const ledger_entry& e) {
  std::string out = "{";
  field(out, "run_id", e.run_id);
  field(out, "thread_id", e.thread_id);
  field(out, "model", e.model);
  field(out, "tokens", e.tokens);
  field(out, "nano_usd", e.nano_usd);
  out += '}';
  return out;
}

// RocksDB counts every key comparison in a thread-local perf context by default (one
// TLS lookup per comparison: a tenth of a memtable insert). Nothing reads the counts.
void without_perf_counters() {
  thread_local bool off = false;
  if (off) return;
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  off = true;
}

}  // namespace

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool is_ended(run_status s) {
  return s == run_status::completed || s == run_status::escalated || s == run_status::failed;
}

std::optional<run_status> parse_run_status(const std::string& s) {
  for (auto st : {run_status::running, run_status::blocked, run_status::completed,
                  run_status::escalated, run_status::failed})
    if (to_string(st) == s) return st;
  return std::nullopt;
}

// -- value formats ------------------------------------------------------------------

// Where a run continues and what it has spent: the same fields in the state document
// and in a step record's continuation. `next.input` is left out when it equals
// `usual_input` (the run's input, or the step's output), which a reader fills in.
static void append_progress(std::string& out, const run_checkpoint& x,
                            const std::string& usual_input) {
  append_json_key(out, "next");
  out += '{';
  field(out, "node", x.next_node);
  field(out, "kind", to_string(x.next_kind));
  if (x.next_input != usual_input) field(out, "input", x.next_input);
  field(out, "step", x.next_step);
  field(out, "hops", x.next_hops);
  out += '}';
  if (x.hops != 0) field(out, "hops", x.hops);
  if (x.steps != 0) field(out, "steps", x.steps);
  if (x.input_tokens != 0) field(out, "input_tokens", x.input_tokens);
  if (x.output_tokens != 0) field(out, "output_tokens", x.output_tokens);
  if (x.spent_nano_usd != 0) field(out, "nano_usd", x.spent_nano_usd);
}

// What append_progress wrote, back into `x` (`usual_input` where `next.input` was left
// out). Returns what is wrong with it, or "" (a missing field throws, as json::at does).
static std::string read_progress(const json& j, const std::string& usual_input, run_checkpoint& x) {
  const auto& next = j.at("next");
  next.at("node").get_to(x.next_node);
  bool kind_ok = false;
  x.next_kind = parse_step_kind(next.at("kind").get<std::string>(), kind_ok);
  if (!kind_ok) return "unknown step kind '" + next.at("kind").get<std::string>() + "'";
  x.next_input = next.value("input", usual_input);
  next.at("step").get_to(x.next_step);
  next.at("hops").get_to(x.next_hops);
  x.hops = j.value("hops", uint32_t{0});
  x.steps = j.value("steps", uint32_t{0});
  x.input_tokens = j.value("input_tokens", uint64_t{0});
  x.output_tokens = j.value("output_tokens", uint64_t{0});
  x.spent_nano_usd = j.value("nano_usd", int64_t{0});
  x.escalating = j.value("escalating", false);
  return {};
}

// Fields at their default (false, 0, "") are left out, and `next.input` when it is the
// run's input (a run that has not moved yet): every byte is written at each step and
// held in the memtable by each blocked run. decode_checkpoint() restores them.
run_result stored_result(const run_checkpoint& c, std::vector<step_record> steps) {
  run_result r;
  r.run_id = c.run_id;
  r.thread_id = c.thread_id;
  r.workflow = c.workflow;
  r.status = c.status;
  r.reason = c.reason;
  r.detail = c.detail;
  r.output = c.output;
  r.hops = c.hops;
  for (const auto& s : steps) {
    r.input_tokens += s.input_tokens;
    r.output_tokens += s.output_tokens;
    r.cost_usd += s.cost_usd;
  }
  r.steps = std::move(steps);
  return r;
}

std::string encode_checkpoint_json(const run_checkpoint& x) {
  std::string out;
  out.reserve(256 + x.input.size() + x.next_input.size() + x.output.size() + x.detail.size());
  out += '{';
  field(out, "v", checkpoint_schema_version);
  field(out, "run_id", x.run_id);
  field(out, "workflow", x.workflow);
  field(out, "input", x.input);
  field(out, "thread_id", x.thread_id);
  if (x.own_thread) field(out, "own_thread", true);
  field(out, "status", to_string(x.status));
  if (!x.reason.empty()) field(out, "reason", x.reason);
  if (!x.detail.empty()) field(out, "detail", x.detail);
  if (!x.waits_for.empty()) field(out, "waits_for", x.waits_for);
  if (!x.output.empty()) field(out, "output", x.output);
  append_progress(out, x, x.input);
  if (x.escalating) field(out, "escalating", true);
  field(out, "created_ms", x.created_ms);
  field(out, "updated_ms", x.updated_ms);
  if (x.seq != 0) field(out, "seq", x.seq);
  out += '}';
  return out;
}

static std::optional<run_checkpoint> decode_checkpoint_json(std::string_view bytes,
                                                          std::string& error) {
  try {
    auto j = json::parse(bytes);
    if (!j.is_object()) {
      error = "state is not a JSON object";
      return std::nullopt;
    }
    auto version = j.at("v").get<int>();
    if (version != checkpoint_schema_version) {
      error = "state has schema version " + std::to_string(version) + ", this build reads " +
              std::to_string(checkpoint_schema_version);
      return std::nullopt;
    }
    run_checkpoint x;
    j.at("run_id").get_to(x.run_id);
    j.at("workflow").get_to(x.workflow);
    j.at("input").get_to(x.input);
    j.at("thread_id").get_to(x.thread_id);
    x.own_thread = j.value("own_thread", false);
    auto status = parse_run_status(j.at("status").get<std::string>());
    if (!status) {
      error = "unknown status '" + j.at("status").get<std::string>() + "'";
      return std::nullopt;
    }
    x.status = *status;
    x.reason = j.value("reason", "");
    x.detail = j.value("detail", "");
    x.waits_for = j.value("waits_for", "");
    x.output = j.value("output", "");
    if (auto problem = read_progress(j, x.input, x); !problem.empty()) {
      error = problem;
      return std::nullopt;
    }
    j.at("created_ms").get_to(x.created_ms);
    j.at("updated_ms").get_to(x.updated_ms);
    x.seq = j.value("seq", uint32_t{0});
    return x;
  } catch (const std::exception& e) {
    error = std::string{"state does not decode: "} + e.what();
    return std::nullopt;
  }
}

// A step record's routing traces, after its JSON document: a NUL (which JSON text
// never holds), this version byte, then the compact traces (runtime/trace_codec.hpp).
constexpr char step_traces_separator = '\0';
constexpr char step_traces_version = 1;

// -- layout 3: binary step records -----------------------------------------------------
// docs/durability.md, "Step records, layout 3". A record starts with its format byte
// (JSON records of layouts 1 and 2 start with '{'); integers are LEB128 varints
// (zigzag for signed ones), strings a varint length and the bytes, doubles 8 bytes
// little-endian IEEE 754. Decoding checks every length against what is left and names
// the field that does not fit.

namespace {

constexpr char step_record_binary = '\x03';  // this build's records
constexpr uint8_t step_flag_downgraded = 1;

// Appends to a string through a raw pointer: room for at most `bound` bytes is made
// once up front (so each field is a store, not a call into std::string), and what was
// not used is cut off when the writer goes. Callers bound each field: a varint takes at
// most 10 bytes, a string its size and 10 (max_varint + size).
class byte_writer {
 public:
  static constexpr size_t max_varint = 10;

  byte_writer(std::string& out, size_t bound) : out_(out) {
    auto at = out.size();
    out.resize(at + bound);
    p_ = out.data() + at;
    end_ = out.data() + out.size();
  }
  ~byte_writer() { out_.resize(static_cast<size_t>(p_ - out_.data())); }
  byte_writer(const byte_writer&) = delete;
  byte_writer& operator=(const byte_writer&) = delete;

  byte_writer& operator+=(char c) {
    assert(p_ < end_);
    *p_++ = c;
    return *this;
  }
  void append(const char* data, size_t n) {
    assert(n <= static_cast<size_t>(end_ - p_));
    if (n) std::memcpy(p_, data, n);
    p_ += n;
  }
  // Bytes of the string so far (where the next byte goes).
  size_t size() const { return static_cast<size_t>(p_ - out_.data()); }

 private:
  std::string& out_;
  char* p_ = nullptr;
  char* end_ = nullptr;
};

inline void put_varint(byte_writer& out, uint64_t v) {
  char buf[byte_writer::max_varint];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out.append(buf, n);
}

inline void put_signed(byte_writer& out, int64_t v) {
  put_varint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

inline void put_bytes(byte_writer& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s.data(), s.size());
}

inline void put_double(byte_writer& out, double v) {
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>((bits >> (8 * i)) & 0xff);
  out.append(buf, 8);
}

constexpr size_t bytes_bound(std::string_view s) {
  return byte_writer::max_varint + s.size();
}

uint8_t kind_code(step_kind k) {
  switch (k) {
    case step_kind::node:
      return 0;
    case step_kind::call:
      return 1;
    case step_kind::escalation:
      return 2;
  }
  return 0;
}

// Reads a binary record field by field; the first field that does not fit stops it,
// with what and where in problem().
class record_reader {
 public:
  explicit record_reader(std::string_view bytes) : data_(bytes) {}

  bool byte(const char* what, uint8_t& out) {
    if (at_ >= data_.size()) return fail(what, "the record ends before it");
    out = static_cast<uint8_t>(data_[at_++]);
    return true;
  }
  bool varint(const char* what, uint64_t& out) {
    out = 0;
    size_t start = at_;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ >= data_.size()) {
        at_ = start;
        return fail(what, "the record ends inside it");
      }
      auto b = static_cast<uint8_t>(data_[at_++]);
      out |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return true;
    }
    at_ = start;
    return fail(what, "a number longer than 64 bits");
  }
  bool u32(const char* what, uint32_t& out) {
    uint64_t v = 0;
    if (!varint(what, v)) return false;
    if (v > UINT32_MAX) return fail(what, "a number over 2^32");
    out = static_cast<uint32_t>(v);
    return true;
  }
  bool u64(const char* what, uint64_t& out) { return varint(what, out); }
  bool i64(const char* what, int64_t& out) {
    uint64_t v = 0;
    if (!varint(what, v)) return false;
    out = static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
    return true;
  }
  bool bytes(const char* what, std::string_view& out) {
    uint64_t n = 0;
    size_t start = at_;
    if (!varint(what, n)) return false;
    if (n > data_.size() - at_) {
      auto left = data_.size() - at_;
      at_ = start;
      return fail(what, ("length " + std::to_string(n) + " runs past the end (" +
                         std::to_string(left) + " bytes left)")
                            .c_str());
    }
    out = data_.substr(at_, n);
    at_ += n;
    return true;
  }
  bool f64(const char* what, double& out) {
    if (data_.size() - at_ < 8) return fail(what, "the record ends inside it");
    uint64_t bits = 0;
    for (int i = 7; i >= 0; --i) bits = (bits << 8) | static_cast<uint8_t>(data_[at_ + i]);
    std::memcpy(&out, &bits, sizeof out);
    at_ += 8;
    return true;
  }
  bool kind(const char* what, step_kind& out) {
    uint8_t k = 0;
    if (!byte(what, k)) return false;
    if (k > 2) return fail(what, ("unknown step kind " + std::to_string(k)).c_str());
    out = k == 0 ? step_kind::node : k == 1 ? step_kind::call : step_kind::escalation;
    return true;
  }
  size_t at() const { return at_; }
  const std::string& problem() const { return problem_; }

 private:
  bool fail(const char* what, const char* why) {
    problem_ = std::string{"field '"} + what + "' at byte " + std::to_string(at_) + ": " + why;
    return false;
  }

  std::string_view data_;
  size_t at_ = 0;
  std::string problem_;
};

// A paid call inside a binary record.
struct binary_call {
  uint32_t n = 0;
  std::string_view thread_id;
  std::string_view model;
  uint64_t tokens = 0;
  int64_t nano_usd = 0;
};

// A continuation inside a binary record (the fields of append_continuation).
struct binary_continuation {
  uint32_t seq = 0;
  std::string_view next_node;
  step_kind next_kind = step_kind::node;
  bool has_input = false;  // else the step's output
  std::string_view next_input;
  uint32_t next_step = 0, next_hops = 0, hops = 0, steps = 0;
  uint64_t input_tokens = 0, output_tokens = 0;
  int64_t nano_usd = 0;
  bool escalating = false;
  std::string_view reason, detail;
  int64_t updated_ms = 0;
};

// A binary record, its strings borrowed from the bytes.
struct binary_record {
  step_view step;
  std::vector<binary_call> calls;
  bool has_continuation = false;
  binary_continuation cont;
  std::string_view traces;  // the traces' version byte and the compact traces; empty for none
};

bool is_binary_record(std::string_view value) {
  return !value.empty() && value[0] == step_record_binary;
}

// The part of a binary record encoded when its step closes: everything but the calls,
// and the continuation (written with the step, prepare_encoded).
void append_binary_step(std::string& document, const step_view& x, uint32_t& output_at) {
  // 3 one-byte fields, 5 varints, 2 doubles, 9 strings (the traces with their version).
  byte_writer out{document, 3 + 5 * byte_writer::max_varint + 16 + bytes_bound(x.agent) +
                                bytes_bound(x.caller) + bytes_bound(x.output) +
                                bytes_bound(x.label) + bytes_bound(x.model) + bytes_bound(x.tier) +
                                bytes_bound(x.error) + bytes_bound(x.route) +
                                bytes_bound(x.decisions) + 1};
  out += step_record_binary;
  put_varint(out, x.step);
  out += static_cast<char>(kind_code(x.kind));
  put_bytes(out, x.agent);
  put_bytes(out, x.caller);
  put_varint(out, x.hops);
  put_varint(out, x.output.size());
  output_at = static_cast<uint32_t>(out.size());
  out.append(x.output.data(), x.output.size());
  put_bytes(out, x.label);
  put_bytes(out, x.model);
  put_bytes(out, x.tier);
  put_varint(out, x.model_calls);
  put_varint(out, x.input_tokens);
  put_varint(out, x.output_tokens);
  put_double(out, x.cost_usd);
  put_double(out, x.latency_ms);
  put_bytes(out, x.error);
  put_bytes(out, x.route);
  out += static_cast<char>(x.downgraded ? step_flag_downgraded : 0);
  if (x.decisions.empty()) {
    out += '\0';
  } else {
    put_varint(out, 1 + x.decisions.size());
    out += step_traces_version;
    out.append(x.decisions.data(), x.decisions.size());
  }
}

// A paid call that goes inside the record of a write's `step`-th step, as number `n`.
struct call_in_step {
  size_t step = 0;
  uint32_t n = 0;
  const ledger_entry* call = nullptr;
};

// The calls of `calls` that go inside the record of the write's `step`-th step.
void append_binary_calls(std::string& value, const std::vector<call_in_step>& calls, size_t step) {
  size_t count = 0;
  size_t bound = byte_writer::max_varint;
  for (const auto& c : calls) {
    if (c.step != step) continue;
    ++count;
    bound +=
        3 * byte_writer::max_varint + bytes_bound(c.call->thread_id) + bytes_bound(c.call->model);
  }
  byte_writer out{value, bound};
  put_varint(out, count);
  for (const auto& c : calls) {
    if (c.step != step) continue;
    put_varint(out, c.n);
    put_bytes(out, c.call->thread_id);
    put_bytes(out, c.call->model);
    put_varint(out, c.call->tokens);
    put_signed(out, c.call->nano_usd);
  }
}

// Where a run goes on and what it has spent, as both the continuation of a step record
// and the binary state write it. The next node's input is often `usual_input` (the
// step's output, or the run's input before it has moved): then one byte stands for it.
void put_position(byte_writer& out, const run_checkpoint& x, std::string_view usual_input) {
  put_bytes(out, x.next_node);
  out += static_cast<char>(kind_code(x.next_kind));
  if (x.next_input == usual_input) {
    out += '\0';
  } else {
    out += '\1';
    put_bytes(out, x.next_input);
  }
  put_varint(out, x.next_step);
  put_varint(out, x.next_hops);
  put_varint(out, x.hops);
  put_varint(out, x.steps);
  put_varint(out, x.input_tokens);
  put_varint(out, x.output_tokens);
  put_signed(out, x.spent_nano_usd);
}

// What put_position may write.
size_t position_bound(const run_checkpoint& x) {
  return 2 + 7 * byte_writer::max_varint + bytes_bound(x.next_node) + bytes_bound(x.next_input);
}

void append_binary_continuation(std::string& value, const run_checkpoint& x,
                                std::string_view output) {
  byte_writer out{value, 3 + 2 * byte_writer::max_varint + position_bound(x) +
                             bytes_bound(x.reason) + bytes_bound(x.detail)};
  out += '\1';
  put_varint(out, x.seq);
  put_position(out, x, output);
  if (x.escalating) {
    out += '\1';
    put_bytes(out, x.reason);
    put_bytes(out, x.detail);
  } else {
    out += '\0';
  }
  put_signed(out, x.updated_ms);
}

// Reads a whole binary record; returns what is wrong with it, or "".
std::string read_binary_record(std::string_view value, binary_record& r) {
  record_reader in{value};
  auto& s = r.step;
  uint8_t format = 0, flags = 0;
  in.byte("format", format);
  bool ok = in.u32("step", s.step) && in.kind("kind", s.kind) && in.bytes("agent", s.agent) &&
            in.bytes("caller", s.caller) && in.u32("hops", s.hops) &&
            in.bytes("output", s.output) && in.bytes("label", s.label) &&
            in.bytes("model", s.model) && in.bytes("tier", s.tier) &&
            in.u32("model_calls", s.model_calls) && in.u32("input_tokens", s.input_tokens) &&
            in.u32("output_tokens", s.output_tokens) && in.f64("cost_usd", s.cost_usd) &&
            in.f64("latency_ms", s.latency_ms) && in.bytes("error", s.error) &&
            in.bytes("route", s.route) && in.byte("flags", flags) && in.bytes("traces", r.traces);
  if (!ok) return in.problem();
  s.downgraded = flags & step_flag_downgraded;
  uint64_t count = 0;
  if (!in.u64("calls", count)) return in.problem();
  if (count > value.size()) return "field 'calls': " + std::to_string(count) + " calls cannot fit";
  r.calls.resize(count);
  for (auto& c : r.calls)
    if (!(in.u32("calls.n", c.n) && in.bytes("calls.thread_id", c.thread_id) &&
          in.bytes("calls.model", c.model) && in.u64("calls.tokens", c.tokens) &&
          in.i64("calls.nano_usd", c.nano_usd)))
      return in.problem();
  uint8_t has = 0;
  if (!in.byte("continuation", has)) return in.problem();
  if (has > 1) return "field 'continuation': marker " + std::to_string(has) + " is neither 0 nor 1";
  r.has_continuation = has == 1;
  if (r.has_continuation) {
    auto& c = r.cont;
    uint8_t given = 0, escalating = 0;
    ok = in.u32("cont.seq", c.seq) && in.bytes("cont.next.node", c.next_node) &&
         in.kind("cont.next.kind", c.next_kind) && in.byte("cont.next.input", given);
    if (ok && given) ok = in.bytes("cont.next.input", c.next_input);
    ok = ok && in.u32("cont.next.step", c.next_step) && in.u32("cont.next.hops", c.next_hops) &&
         in.u32("cont.hops", c.hops) && in.u32("cont.steps", c.steps) &&
         in.u64("cont.input_tokens", c.input_tokens) &&
         in.u64("cont.output_tokens", c.output_tokens) && in.i64("cont.nano_usd", c.nano_usd) &&
         in.byte("cont.escalating", escalating);
    if (ok && escalating)
      ok = in.bytes("cont.reason", c.reason) && in.bytes("cont.detail", c.detail);
    ok = ok && in.i64("cont.updated_ms", c.updated_ms);
    if (!ok) return in.problem();
    c.has_input = given != 0;
    c.escalating = escalating != 0;
  }
  if (in.at() != value.size())
    return std::to_string(value.size() - in.at()) + " bytes after the continuation, at byte " +
           std::to_string(in.at());
  return {};
}

}  // namespace

// -- layout 4: binary state documents ---------------------------------------------------
// docs/durability.md, "State document, layout 4": the fields of the JSON document in a
// fixed order, no names, no escaping, no number formatting, as the step records.

namespace {

constexpr char state_document_binary = '\x04';  // a state (JSON ones start with '{')
// Layout 5: an ended run's state followed by the records of the steps its last write
// closed (docs/durability.md, "State document, layout 5"): one key fewer per run.
constexpr char state_with_steps = '\x05';
constexpr uint8_t state_flag_own_thread = 1;
constexpr uint8_t state_flag_escalating = 2;

// Decodes a binary state (0x04, or 0x05 with step records after it). The records are
// checked for fitting only, and returned in `records` when given.
std::optional<run_checkpoint> decode_binary_checkpoint(
    std::string_view bytes, std::string& error, std::vector<std::string_view>* records = nullptr) {
  record_reader in{bytes};
  run_checkpoint x;
  std::string_view run_id, workflow, input, thread_id, reason, detail, waits_for, output,
      next_node, next_input;
  uint8_t format = 0, status = 0, flags = 0, given = 0;
  in.byte("format", format);
  bool ok = in.bytes("run_id", run_id) && in.bytes("workflow", workflow) &&
            in.bytes("input", input) && in.bytes("thread_id", thread_id) &&
            in.byte("status", status);
  if (ok && status > static_cast<uint8_t>(run_status::failed)) {
    error = "state: field 'status' at byte " + std::to_string(in.at() - 1) + ": unknown status " +
            std::to_string(status);
    return std::nullopt;
  }
  ok = ok && in.byte("flags", flags) && in.bytes("reason", reason) &&
       in.bytes("detail", detail) && in.bytes("waits_for", waits_for) &&
       in.bytes("output", output) && in.bytes("next.node", next_node) &&
       in.kind("next.kind", x.next_kind) && in.byte("next.input", given);
  if (ok && given) ok = in.bytes("next.input", next_input);
  ok = ok && in.u32("next.step", x.next_step) && in.u32("next.hops", x.next_hops) &&
       in.u32("hops", x.hops) && in.u32("steps", x.steps) &&
       in.u64("input_tokens", x.input_tokens) && in.u64("output_tokens", x.output_tokens) &&
       in.i64("nano_usd", x.spent_nano_usd) && in.i64("created_ms", x.created_ms) &&
       in.i64("updated_ms", x.updated_ms) && in.u32("seq", x.seq);
  if (ok && bytes[0] == state_with_steps) {
    uint64_t count = 0;
    ok = in.u64("step records", count);
    if (ok && count > bytes.size()) {
      error = "state: field 'step records': " + std::to_string(count) + " records cannot fit";
      return std::nullopt;
    }
    std::string_view record;
    for (uint64_t k = 0; ok && k < count; ++k) {
      ok = in.bytes("step record", record);
      if (ok && records) records->push_back(record);
    }
  }
  if (!ok) {
    error = "state: " + in.problem();
    return std::nullopt;
  }
  if (in.at() != bytes.size()) {
    error = "state: " + std::to_string(bytes.size() - in.at()) + " bytes after the last field, at byte " +
            std::to_string(in.at());
    return std::nullopt;
  }
  x.run_id = run_id;
  x.workflow = workflow;
  x.input = input;
  x.thread_id = thread_id;
  x.own_thread = flags & state_flag_own_thread;
  x.escalating = flags & state_flag_escalating;
  x.status = static_cast<run_status>(status);
  x.reason = reason;
  x.detail = detail;
  x.waits_for = waits_for;
  x.output = output;
  x.next_node = next_node;
  x.next_input = given ? next_input : input;
  return x;
}

std::optional<run_checkpoint> decode_checkpoint_view(
    std::string_view bytes, std::string& error, std::vector<std::string_view>* records = nullptr) {
  if (!bytes.empty() && (bytes[0] == state_document_binary || bytes[0] == state_with_steps))
    return decode_binary_checkpoint(bytes, error, records);
  if (!bytes.empty() && bytes[0] != '{') {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(bytes[0]));
    error = std::string{"state of an unknown format (first byte "} + hex + ")";
    return std::nullopt;
  }
  return decode_checkpoint_json(bytes, error);
}

}  // namespace

namespace {

// The fields of a binary state after its format byte.
void append_state_fields(byte_writer& out, const run_checkpoint& x) {
  put_bytes(out, x.run_id);
  put_bytes(out, x.workflow);
  put_bytes(out, x.input);
  put_bytes(out, x.thread_id);
  out += static_cast<char>(x.status);
  out += static_cast<char>((x.own_thread ? state_flag_own_thread : 0) |
                           (x.escalating ? state_flag_escalating : 0));
  put_bytes(out, x.reason);
  put_bytes(out, x.detail);
  put_bytes(out, x.waits_for);
  put_bytes(out, x.output);
  put_position(out, x, x.input);
  put_signed(out, x.created_ms);
  put_signed(out, x.updated_ms);
  put_varint(out, x.seq);
}

// What a binary state may take: its format byte, 2 one-byte fields, 8 strings, the
// position, 3 varints.
size_t state_bound(const run_checkpoint& x) {
  return 3 + bytes_bound(x.run_id) + bytes_bound(x.workflow) + bytes_bound(x.input) +
         bytes_bound(x.thread_id) + bytes_bound(x.reason) + bytes_bound(x.detail) +
         bytes_bound(x.waits_for) + bytes_bound(x.output) + position_bound(x) +
         3 * byte_writer::max_varint;
}

}  // namespace

std::string encode_checkpoint(const run_checkpoint& x) {
  std::string state;
  {
    byte_writer out{state, state_bound(x)};
    out += state_document_binary;
    append_state_fields(out, x);
  }
  return state;
}

std::string encode_checkpoint_with_steps(const run_checkpoint& x,
                                         const std::vector<std::string>& records) {
  size_t bound = state_bound(x) + byte_writer::max_varint;
  for (const auto& r : records) bound += bytes_bound(r);
  std::string state;
  {
    byte_writer out{state, bound};
    out += state_with_steps;
    append_state_fields(out, x);
    put_varint(out, records.size());
    for (const auto& r : records) put_bytes(out, r);
  }
  return state;
}

std::optional<run_checkpoint> decode_checkpoint(const std::string& bytes, std::string& error) {
  return decode_checkpoint_view(bytes, error);
}

namespace {

// A step record's JSON document without its closing brace: the same fields as
// to_json(step_record) in runtime/run_result_json.cpp.
void append_step_document(std::string& out, const step_view& x) {
  out += '{';
  field(out, "step", x.step);
  field(out, "kind", to_string(x.kind));
  field(out, "agent", x.agent);
  if (!x.caller.empty()) field(out, "caller", x.caller);
  field(out, "hops", x.hops);
  field(out, "output", x.output);
  if (!x.label.empty()) field(out, "label", x.label);
  field(out, "model", x.model);
  field(out, "tier", x.tier);
  field(out, "model_calls", x.model_calls);
  field(out, "input_tokens", x.input_tokens);
  field(out, "output_tokens", x.output_tokens);
  field(out, "cost_usd", x.cost_usd);
  field(out, "latency_ms", x.latency_ms);
  if (!x.error.empty()) field(out, "error", x.error);
  if (!x.route.empty()) field(out, "route", x.route);
  if (x.downgraded) field(out, "downgraded", true);
}

step_view view_of(const step_record& x) {
  step_view v;
  v.step = x.step;
  v.kind = x.kind;
  v.agent = x.agent;
  v.caller = x.caller;
  v.hops = x.hops;
  v.output = x.output;
  v.label = x.label;
  v.model = x.model;
  v.tier = x.tier;
  v.model_calls = x.model_calls;
  v.input_tokens = x.input_tokens;
  v.output_tokens = x.output_tokens;
  v.cost_usd = x.cost_usd;
  v.latency_ms = x.latency_ms;
  v.error = x.error;
  v.route = x.route;
  v.downgraded = x.downgraded;
  v.decisions = x.decisions.bytes;
  return v;
}

// Closes a JSON step document (layouts 1 and 2) and appends its decision traces, in
// their compact form, after it.
void close_step_document(std::string& out, std::string_view decisions) {
  out += '}';
  if (decisions.empty()) return;
  out += step_traces_separator;
  out += step_traces_version;
  out += decisions;
}

}  // namespace

// Layouts 1 and 2: the JSON document, then the decision traces in their compact form
// after it.
std::string encode_step_json(const step_record& x) {
  std::string out;
  out.reserve(192 + x.output.size() + x.error.size() + x.decisions.size());
  append_step_document(out, view_of(x));
  close_step_document(out, x.decisions.bytes);
  return out;
}

// Layout 3: a binary record without calls or continuation.
std::string encode_step(const step_record& x) {
  auto e = encode_step_parts(view_of(x));
  e.document += '\0';  // no calls
  e.document += '\0';  // no continuation
  return std::move(e.document);
}

encoded_step encode_step_parts(const step_view& x) {
  encoded_step e;
  e.step = x.step;
  append_binary_step(e.document, x, e.output_at);
  e.output_size = static_cast<uint32_t>(x.output.size());
  return e;
}

// A step record's JSON document: what comes before its compact decision traces.
std::string_view step_document(std::string_view record) {
  return record.substr(0, record.find(step_traces_separator));
}

namespace {

// A binary record's traces (their version byte, then the compact traces), checked.
std::string check_record_traces(std::string_view traces) {
  if (traces.empty()) return {};
  if (traces[0] != step_traces_version) return "decision traces of an unknown version";
  traces.remove_prefix(1);
  if (traces.empty()) return "decision traces do not decode: none after the version byte";
  auto problem = check_traces(traces);
  return problem.empty() ? problem : "decision traces do not decode: " + problem;
}

std::optional<step_record> decode_binary_step(std::string_view bytes, std::string& error) {
  binary_record r;
  auto problem = read_binary_record(bytes, r);
  if (problem.empty()) problem = check_record_traces(r.traces);
  if (!problem.empty()) {
    // The step number is the record's first field: known unless it is what is wrong.
    bool step_known = problem.rfind("field 'step'", 0) != 0;
    error =
        (step_known ? "step record " + std::to_string(r.step.step) : std::string{"step record"}) +
        ": " + problem;
    return std::nullopt;
  }
  const auto& v = r.step;
  step_record x;
  x.step = v.step;
  x.kind = v.kind;
  x.agent = v.agent;
  x.caller = v.caller;
  x.hops = v.hops;
  x.output = v.output;
  x.label = v.label;
  x.model = v.model;
  x.tier = v.tier;
  x.model_calls = v.model_calls;
  x.input_tokens = v.input_tokens;
  x.output_tokens = v.output_tokens;
  x.cost_usd = v.cost_usd;
  x.latency_ms = v.latency_ms;
  x.error = v.error;
  x.route = v.route;
  x.downgraded = v.downgraded;
  if (!r.traces.empty()) x.decisions.bytes = r.traces.substr(1);
  return x;
}

}  // namespace

std::optional<step_record> decode_step(const std::string& bytes, std::string& error) {
  if (is_binary_record(bytes)) return decode_binary_step(bytes, error);
  if (bytes.empty() || bytes[0] != '{') {
    char first[8];
    std::snprintf(first, sizeof first, "0x%02x", bytes.empty() ? 0u : uint8_t(bytes[0]));
    error = bytes.empty()
                ? std::string{"step record is empty"}
                : std::string{"step record of an unknown format (first byte "} + first + ")";
    return std::nullopt;
  }
  std::string_view document = bytes;
  std::string_view traces;
  if (auto nul = document.find(step_traces_separator); nul != std::string_view::npos) {
    traces = document.substr(nul + 1);
    document = document.substr(0, nul);
    if (traces.empty() || traces[0] != step_traces_version) {
      error = "step record: decision traces of an unknown version";
      return std::nullopt;
    }
    traces.remove_prefix(1);
  }
  try {
    auto j = json::parse(document);
    step_record x;
    j.at("step").get_to(x.step);
    bool kind_ok = false;
    x.kind = parse_step_kind(j.at("kind").get<std::string>(), kind_ok);
    if (!kind_ok) {
      error = "unknown step kind";
      return std::nullopt;
    }
    j.at("agent").get_to(x.agent);
    x.caller = j.value("caller", "");
    j.at("hops").get_to(x.hops);
    j.at("output").get_to(x.output);
    x.label = j.value("label", "");
    j.at("model").get_to(x.model);
    j.at("tier").get_to(x.tier);
    j.at("model_calls").get_to(x.model_calls);
    j.at("input_tokens").get_to(x.input_tokens);
    j.at("output_tokens").get_to(x.output_tokens);
    j.at("cost_usd").get_to(x.cost_usd);
    j.at("latency_ms").get_to(x.latency_ms);
    x.error = j.value("error", "");
    x.route = j.value("route", "");
    x.downgraded = j.value("downgraded", false);
    if (!traces.empty() || document.size() < bytes.size()) {
      auto problem = traces.empty() ? std::string{"none after the version byte"}
                                    : check_traces(traces);
      if (!problem.empty()) {
        error = "step record " + std::to_string(x.step) +
                ": decision traces do not decode: " + problem;
        return std::nullopt;
      }
    }
    x.decisions.bytes = traces;
    // Records of older builds hold the traces as a JSON array: kept as JSON traces.
    if (auto d = j.find("decisions"); d != j.end() && traces.empty()) {
      if (!d->is_array()) {
        error = "step record: decisions is not an array";
        return std::nullopt;
      }
      for (const auto& trace : *d)
        x.decisions.bytes += json_trace(trace.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    return x;
  } catch (const std::exception& e) {
    error = std::string{"step record does not decode: "} + e.what();
    return std::nullopt;
  }
}

// -- layout 2: a step record carries its paid calls and where the run continues ------

namespace {

// "<run id>/<step>.<n>" -> its parts; false for an id of another shape.
bool split_call_id(std::string_view id, std::string_view& run, uint32_t& step, uint32_t& n) {
  auto slash = id.rfind('/');
  if (slash == std::string_view::npos) return false;
  auto rest = id.substr(slash + 1);
  auto dot = rest.find('.');
  if (dot == std::string_view::npos) return false;
  auto parse = [](std::string_view text, uint32_t& out) {
    auto r = std::from_chars(text.data(), text.data() + text.size(), out);
    return !text.empty() && r.ec == std::errc{} && r.ptr == text.data() + text.size();
  };
  run = id.substr(0, slash);
  return parse(rest.substr(0, dot), step) && parse(rest.substr(dot + 1), n);
}

std::string call_id_of(const std::string& run_id, uint32_t step, uint32_t n) {
  return run_id + "/" + std::to_string(step) + "." + std::to_string(n);
}

// `,"calls":[{"n":0,"thread_id":...,"model":...,"tokens":...,"nano_usd":...},...]`
void append_calls(std::string& out, const std::vector<const ledger_entry*>& calls,
                  const std::vector<uint32_t>& ns) {
  append_json_key(out, "calls");
  out += '[';
  for (size_t i = 0; i < calls.size(); ++i) {
    if (i) out += ',';
    out += '{';
    field(out, "n", ns[i]);
    field(out, "thread_id", calls[i]->thread_id);
    field(out, "model", calls[i]->model);
    field(out, "tokens", calls[i]->tokens);
    field(out, "nano_usd", calls[i]->nano_usd);
    out += '}';
  }
  out += ']';
}

// `,"cont":{...}`: the part of a running state that moves (docs/durability.md); the
// rest (workflow, input, thread) is in `runs` from the run's start. `next.input` is
// left out when it is this step's output (a node handing its output to the next).
void append_continuation(std::string& out, const run_checkpoint& x, const std::string& output) {
  append_json_key(out, "cont");
  out += '{';
  field(out, "seq", x.seq);
  append_progress(out, x, output);
  if (x.escalating) {
    field(out, "escalating", true);
    field(out, "reason", x.reason);
    field(out, "detail", x.detail);
  }
  field(out, "updated_ms", x.updated_ms);
  out += '}';
}

}  // namespace

std::string encode_step_layout2(const step_record& x, const std::vector<ledger_entry>& calls,
                                const run_checkpoint* state) {
  std::string out;
  append_step_document(out, view_of(x));
  std::vector<const ledger_entry*> inside;
  std::vector<uint32_t> ns;
  for (const auto& c : calls) {
    std::string_view run;
    uint32_t step = 0, n = 0;
    if (!split_call_id(c.call_id, run, step, n)) continue;
    inside.push_back(&c);
    ns.push_back(n);
  }
  if (!inside.empty()) append_calls(out, inside, ns);
  if (state) append_continuation(out, *state, x.output);
  close_step_document(out, x.decisions.bytes);
  return out;
}

namespace {

// Applies a step record's continuation to the state stored at the run's start.
void apply_continuation(const json& c, const std::string& output, run_checkpoint& x) {
  x.seq = c.at("seq").get<uint32_t>();
  x.status = run_status::running;
  x.waits_for.clear();
  x.output.clear();
  if (auto problem = read_progress(c, output, x); !problem.empty())
    throw std::runtime_error{problem + " in a continuation"};
  x.reason = c.value("reason", "");
  x.detail = c.value("detail", "");
  c.at("updated_ms").get_to(x.updated_ms);
}

// The paid calls inside a step record (layout 2); none for a layout-1 record.
void calls_in_record(const json& j, const std::string& run_id, uint32_t step,
                     std::vector<ledger_entry>& out) {
  auto calls = j.find("calls");
  if (calls == j.end()) return;
  for (const auto& c : *calls) {
    ledger_entry e;
    e.call_id = call_id_of(run_id, step, c.at("n").get<uint32_t>());
    e.run_id = run_id;
    c.at("thread_id").get_to(e.thread_id);
    c.at("model").get_to(e.model);
    c.at("tokens").get_to(e.tokens);
    c.at("nano_usd").get_to(e.nano_usd);
    out.push_back(std::move(e));
  }
}

// The paid calls inside a step record of any layout; throws when it does not decode.
void calls_in_value(std::string_view value, const std::string& run_id, uint32_t step,
                    std::vector<ledger_entry>& out) {
  if (!is_binary_record(value)) {
    calls_in_record(json::parse(step_document(value)), run_id, step, out);
    return;
  }
  binary_record r;
  if (auto problem = read_binary_record(value, r); !problem.empty())
    throw std::runtime_error{problem};
  for (const auto& c : r.calls) {
    ledger_entry e;
    e.call_id = call_id_of(run_id, step, c.n);
    e.run_id = run_id;
    e.thread_id = c.thread_id;
    e.model = c.model;
    e.tokens = c.tokens;
    e.nano_usd = c.nano_usd;
    out.push_back(std::move(e));
  }
}

// Applies a binary record's continuation to the state stored at the run's start.
void apply_continuation(const binary_continuation& c, std::string_view output, run_checkpoint& x) {
  x.seq = c.seq;
  x.status = run_status::running;
  x.waits_for.clear();
  x.output.clear();
  x.next_node = c.next_node;
  x.next_kind = c.next_kind;
  x.next_input = c.has_input ? c.next_input : output;
  x.next_step = c.next_step;
  x.next_hops = c.next_hops;
  x.hops = c.hops;
  x.steps = c.steps;
  x.input_tokens = c.input_tokens;
  x.output_tokens = c.output_tokens;
  x.spent_nano_usd = c.nano_usd;
  x.escalating = c.escalating;
  x.reason = c.reason;
  x.detail = c.detail;
  x.updated_ms = c.updated_ms;
}

// A binary record's step number (its first field); 0 when it does not decode.
uint32_t step_of_record(std::string_view record) {
  record_reader in{record};
  uint8_t format = 0;
  uint32_t step = 0;
  return in.byte("format", format) && in.u32("step", step) ? step : 0;
}

uint32_t step_of_key(const rocksdb::Slice& key) {
  uint32_t step = 0;
  if (key.size() < 4) return 0;
  for (size_t i = key.size() - 4; i < key.size(); ++i)
    step = (step << 8) | static_cast<unsigned char>(key[i]);
  return step;
}

}  // namespace

// -- the store ------------------------------------------------------------------------

namespace {

// Memtable insert hints for the `steps` and `runs` families: ONE hint per family (an
// empty prefix), so the skip list starts each insert where the family's last one went.
// The writes of a group are mostly neighbours in key order (run ids grow, and the runs
// of a wave write their records in about the order they started), so that is a short
// way; a hint per run (the layout-3 builds) was stale by the run's next record (every
// other run of the wave wrote one in between) and cost more than no hint
// (docs/durability.md, session 9). RocksDB 7.8.3 shares those hints between a
// memtable's records and its range tombstones (fixed upstream: hints are for point
// keys only) and then aborts in InlineSkipList::Insert; so this store writes no range
// deletes (delete_steps), and the hints are armed only once the database is open:
// replaying an older build's WAL, whose range deletes would share the hint, goes without.
class one_hint_per_family final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "switchyard.one_hint_per_family"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice{key.data(), 0};
  }
  bool InDomain(const rocksdb::Slice&) const override {
    return armed.load(std::memory_order_relaxed);
  }
  mutable std::atomic<bool> armed{false};
};

}  // namespace

struct checkpoint_store::impl {
  std::string path;
  bool sync = false;
  bool read_only = false;
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::ColumnFamilyHandle* runs = nullptr;
  rocksdb::ColumnFamilyHandle* steps = nullptr;
  rocksdb::ColumnFamilyHandle* ledger = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::mutex fault_mutex;
  std::function<std::string(size_t)> hook;
  std::atomic<uint64_t> batches{0};

  // The paid calls inside the run's step records numbered [from, to).
  std::vector<ledger_entry> calls_in_steps(const std::string& run_id, uint32_t from,
                                           uint32_t to) const {
    std::vector<ledger_entry> out;
    auto end = step_key(run_id, to);
    std::unique_ptr<rocksdb::Iterator> it{db->NewIterator(rocksdb::ReadOptions{}, steps)};
    for (it->Seek(step_key(run_id, from)); it->Valid() && it->key().compare(end) < 0; it->Next()) {
      try {
        calls_in_value(it->value().ToStringView(), run_id, step_of_key(it->key()), out);
      } catch (const std::exception&) {
        // An undecodable record: its run fails at resume (bad_checkpoint).
      }
    }
    return out;
  }

  // A running run's state is in `runs` as of its start (or its last resume) and moves
  // on in its step records' continuations: the one with the highest seq counts.
  // Returns why the newest continuation does not apply, or "".
  std::string bring_up_to_date(run_checkpoint& x, rocksdb::Iterator& steps_it) const {
    if (is_ended(x.status)) return {};
    auto prefix = step_prefix(x.run_id);
    // Records of layout 2 (JSON) and 3 (binary) may both be there: an upgraded store.
    std::optional<json> newest;
    std::string newest_output;
    std::string newest_binary;  // the record, when the newest continuation is in one
    uint32_t newest_seq = 0;
    for (steps_it.Seek(prefix); steps_it.Valid() && steps_it.key().starts_with(prefix);
         steps_it.Next()) {
      auto value = steps_it.value().ToStringView();
      if (is_binary_record(value)) {
        binary_record r;
        if (!read_binary_record(value, r).empty() || !r.has_continuation) continue;
        if (r.cont.seq <= x.seq || (newest_seq && r.cont.seq <= newest_seq)) continue;
        newest_seq = r.cont.seq;
        newest.reset();
        newest_binary.assign(value);
        continue;
      }
      if (value.find("\"cont\":") == std::string_view::npos) continue;
      try {
        auto j = json::parse(step_document(value));
        auto c = j.find("cont");
        if (c == j.end()) continue;
        auto seq = c->at("seq").get<uint32_t>();
        if (seq <= x.seq || (newest_seq && seq <= newest_seq)) continue;
        newest_seq = seq;
        newest_binary.clear();
        newest_output = j.value("output", "");
        newest = std::move(*c);
      } catch (const std::exception&) {
        // An undecodable record: its run fails at resume (bad_checkpoint).
      }
    }
    if (!newest_binary.empty()) {
      binary_record r;
      read_binary_record(newest_binary, r);
      apply_continuation(r.cont, r.step.output, x);
      return {};
    }
    if (!newest) return {};
    try {
      apply_continuation(*newest, newest_output, x);
    } catch (const std::exception& e) {
      return std::string{"the continuation in a step record does not decode: "} + e.what();
    }
    return {};
  }

  // Deletes the run's step records numbered from `from` on, one key at a time: a
  // range delete in `steps` would share the memtable's insert hints with the point
  // records, which RocksDB 7.8 gets wrong (see one_hint_per_family).
  void delete_steps(rocksdb::WriteBatch& batch, const std::string& run_id, uint32_t from) const {
    auto end = step_key(run_id, UINT32_MAX);
    std::unique_ptr<rocksdb::Iterator> it{db->NewIterator(rocksdb::ReadOptions{}, steps)};
    for (it->Seek(step_key(run_id, from)); it->Valid() && it->key().compare(end) <= 0; it->Next())
      batch.Delete(steps, it->key());
  }

  // Layout 5: the step records inside an ended run's state (none for other states);
  // `state` keeps the bytes they point into.
  std::vector<std::string_view> records_in_state(const std::string& run_id,
                                                 std::string& state) const {
    std::vector<std::string_view> records;
    if (!db->Get(rocksdb::ReadOptions{}, runs, run_id, &state).ok()) return records;
    if (state.empty() || state[0] != state_with_steps) return records;
    std::string error;
    decode_binary_checkpoint(state, error, &records);
    return records;
  }

  std::string injected_fault(size_t bytes) {
    std::lock_guard<std::mutex> guard{fault_mutex};
    return hook ? hook(bytes) : std::string{};
  }

  write_outcome commit(rocksdb::WriteBatch& batch, size_t ledger_added) {
    write_outcome out;
    out.bytes = batch.GetDataSize();
    out.ledger_added = ledger_added;
    if (auto problem = injected_fault(out.bytes); !problem.empty()) {
      out.error = "checkpoint store '" + path + "': write failed: " + problem;
      return out;
    }
    without_perf_counters();
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    batches.fetch_add(1, std::memory_order_relaxed);
    auto s = db->Write(wo, &batch);
    if (!s.ok()) out.error = "checkpoint store '" + path + "': write failed: " + s.ToString();
    return out;
  }
};

checkpoint_store::checkpoint_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

checkpoint_store::~checkpoint_store() {
  if (!impl_ || !impl_->db) return;
  for (auto* h : impl_->handles) impl_->db->DestroyColumnFamilyHandle(h);
  impl_->db->Close();
}

checkpoint_store::open_result checkpoint_store::open(const store_options& opts) {
  open_result result;
  if (opts.path.empty()) {
    result.error = "checkpoint store: no path given";
    return result;
  }
  auto p = std::make_unique<impl>();
  p->path = opts.path;
  p->sync = opts.sync;
  p->read_only = opts.read_only;
  std::error_code ec;
  if (!opts.read_only) {
    std::filesystem::create_directories(opts.path, ec);
    if (ec) {
      result.error =
          "checkpoint store '" + opts.path + "': cannot create the directory: " + ec.message();
      return result;
    }
  } else if (!std::filesystem::exists(std::filesystem::path{opts.path} / "CURRENT", ec)) {
    result.error = "checkpoint store '" + opts.path + "': no database there";
    return result;
  }
  rocksdb::DBOptions db_opts;
  db_opts.create_if_missing = true;
  db_opts.create_missing_column_families = true;
  db_opts.keep_log_file_num = 4;
  db_opts.max_total_wal_size = 64 << 20;
  // Every step's batch goes through one writer thread (group commit): RocksDB's
  // concurrent memtable inserts buy nothing.
  db_opts.allow_concurrent_memtable_write = false;
  // Obsolete files are deleted by a background job, not by the writer thread that
  // installs a flush: a step's write never waits on unlink().
  db_opts.avoid_unnecessary_blocking_io = true;
  rocksdb::ColumnFamilyOptions cf_opts;
  cf_opts.write_buffer_size = 16 << 20;  // small rows; 4 families share the RAM
  // L0 and L1 hold what was written in the last minutes, are rewritten by compaction
  // soon, and are read by recovery: compressing them cost the flush about a third of
  // its CPU. Older levels keep the default compression.
  cf_opts.compression_per_level = {rocksdb::kNoCompression, rocksdb::kNoCompression,
                                   cf_opts.compression};
  auto steps_opts = cf_opts;
  auto runs_opts = cf_opts;
  std::shared_ptr<one_hint_per_family> hints;
  if (!opts.read_only) {
    hints = std::make_shared<one_hint_per_family>();
    steps_opts.memtable_insert_with_hint_prefix_extractor = hints;
    runs_opts.memtable_insert_with_hint_prefix_extractor = hints;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> families{
      {rocksdb::kDefaultColumnFamilyName, cf_opts},
      {cf_runs, runs_opts},
      {cf_steps, steps_opts},
      {cf_ledger, cf_opts}};
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      opts.read_only ? rocksdb::DB::OpenForReadOnly(db_opts, opts.path, families, &p->handles, &raw)
                     : rocksdb::DB::Open(db_opts, opts.path, families, &p->handles, &raw);
  if (!s.ok()) {
    auto text = s.ToString();
    if (text.find("LOCK") != std::string::npos || text.find("lock") != std::string::npos) {
      result.locked = true;
      result.error = "checkpoint store '" + opts.path +
                     "' is locked by another process (is another switchyard using it?): " + text;
    } else {
      result.error = "checkpoint store '" + opts.path + "': cannot open: " + text;
    }
    return result;
  }
  p->db.reset(raw);
  if (hints) hints->armed = true;  // the WAL is replayed: from here on, only this build's writes
  p->runs = p->handles[1];
  p->steps = p->handles[2];
  p->ledger = p->handles[3];
  std::string version;
  auto got = p->db->Get(rocksdb::ReadOptions{}, p->handles[0], schema_key, &version);
  // Layouts 1 (a state and a ledger entry per step), 2 (JSON step records), 3 (JSON
  // states) and 4 (no records inside states) read as layout 5 does; once this build has
  // written to it, an older build would miss continuations, not read the binary records
  // and states, or miss an ended run's last records, so the version moves to 5 at open.
  auto layout = std::to_string(store_layout_version);
  bool older = got.ok() && (version == "1" || version == "2" || version == "3" || version == "4");
  if ((got.IsNotFound() || older) && !opts.read_only) {
    auto put = p->db->Put(rocksdb::WriteOptions{}, p->handles[0], schema_key, layout);
    if (!put.ok()) {
      result.error = "checkpoint store '" + opts.path +
                     "': cannot write the layout version: " + put.ToString();
      for (auto* h : p->handles) p->db->DestroyColumnFamilyHandle(h);
      return result;
    }
  } else if (got.ok() && version != layout && !older) {
    result.error = "checkpoint store '" + opts.path + "' has schema version " + version +
                   "; this build reads versions 1 to " + layout;
    for (auto* h : p->handles) p->db->DestroyColumnFamilyHandle(h);
    return result;
  }
  result.store.reset(new checkpoint_store(std::move(p)));
  return result;
}

const std::string& checkpoint_store::path() const {
  return impl_->path;
}

write_outcome checkpoint_store::write_step(const run_checkpoint& state,
                                           const std::vector<step_record>& steps,
                                           const std::vector<ledger_entry>& calls,
                                           std::optional<uint32_t> drop_steps_from,
                                           bool calls_may_repeat) {
  return write_group({prepare_step(state, steps, calls, drop_steps_from, calls_may_repeat)})
      .front();
}

// Layout 2 (docs/durability.md): a running state with closed steps goes into the last
// step record as its continuation instead of `runs`, and each step's paid calls into
// its record: one key per step instead of three. Calls that may repeat an earlier
// attempt's go to the `ledger` family, where the writer checks them once-only.
prepared_write checkpoint_store::prepare_step(const run_checkpoint& state,
                                              const std::vector<step_record>& steps,
                                              const std::vector<ledger_entry>& calls,
                                              std::optional<uint32_t> drop_steps_from,
                                              bool calls_may_repeat) {
  std::vector<encoded_step> encoded;
  encoded.reserve(steps.size());
  for (const auto& rec : steps) encoded.push_back(encode_step_parts(view_of(rec)));
  return prepare_encoded(state, encoded, calls, drop_steps_from, calls_may_repeat);
}

prepared_write checkpoint_store::prepare_encoded(const run_checkpoint& state,
                                                 const std::vector<encoded_step>& steps,
                                                 const std::vector<ledger_entry>& calls,
                                                 std::optional<uint32_t> drop_steps_from,
                                                 bool calls_may_repeat) {
  prepared_write w;
  w.run_id = state.run_id;
  bool carried = state.status == run_status::running && !steps.empty();
  // Layout 5: an ended run's last records go inside its state, one key instead of two.
  bool inside_state = is_ended(state.status) && !steps.empty();
  if (!carried && !inside_state) w.state = encode_checkpoint(state);
  size_t bytes = w.state.empty() ? 0 : w.run_id.size() + w.state.size();
  if (drop_steps_from) {
    w.drops_steps = true;
    w.drop_steps_from = *drop_steps_from;
  }
  // Which calls go inside which step's record.
  std::vector<call_in_step> inside;
  inside.reserve(calls.size());
  if (!calls_may_repeat) w.step_call_ids.reserve(calls.size());
  for (const auto& call : calls) {
    std::string_view run;
    uint32_t step = 0, n = 0;
    size_t at = steps.size();
    if (!calls_may_repeat && split_call_id(call.call_id, run, step, n) && run == state.run_id &&
        call.run_id == state.run_id) {
      for (size_t k = 0; k < steps.size(); ++k)
        if (steps[k].step == step) at = k;
    }
    if (at < steps.size()) {
      inside.push_back({at, n, &call});
      w.step_call_ids.push_back(call.call_id);
      continue;
    }
    w.call_ids.push_back(call.call_id);
    w.call_values.push_back(encode_ledger(call));
    bytes += w.call_ids.back().size() + w.call_values.back().size();
  }
  if (!inside_state) w.step_keys.reserve(steps.size());
  w.step_values.reserve(steps.size());
  for (size_t k = 0; k < steps.size(); ++k) {
    // The binary record (layout 3): the step as it closed, its calls, the continuation.
    bool continues = carried && k + 1 == steps.size();
    std::string value;
    value.reserve(steps[k].document.size() + 1 + 48 * inside.size() +
                  (continues ? 48 + state.next_node.size() + state.next_input.size() : 1));
    value += steps[k].document;
    append_binary_calls(value, inside, k);
    if (continues)
      append_binary_continuation(value, state, steps[k].output());
    else
      value += '\0';
    w.step_values.push_back(std::move(value));
    if (inside_state) continue;
    w.step_keys.push_back(step_key(state.run_id, steps[k].step));
    bytes += w.step_keys.back().size() + w.step_values.back().size();
  }
  if (inside_state) {
    w.state = encode_checkpoint_with_steps(state, w.step_values);
    bytes += w.run_id.size() + w.state.size();
    w.state_steps.reserve(steps.size());
    for (const auto& e : steps) w.state_steps.push_back(e.step);
    w.step_values.clear();
  }
  w.calls_may_repeat = calls_may_repeat;
  w.bytes = static_cast<uint32_t>(bytes);
  return w;
}

std::vector<write_outcome> checkpoint_store::write_group(
    const std::vector<prepared_write>& writes) {
  without_perf_counters();
  std::vector<write_outcome> out(writes.size());
  rocksdb::WriteBatch batch;
  std::vector<size_t> in_batch;
  in_batch.reserve(writes.size());
  std::vector<const std::string*> counted;  // call ids put by this group so far
  std::deque<std::string> kept;             // ids of earlier attempts' calls kept below
  bool repeats = std::any_of(writes.begin(), writes.end(),
                             [](const prepared_write& w) { return w.calls_may_repeat; });
  for (size_t i = 0; i < writes.size(); ++i) {
    const auto& w = writes[i];
    out[i].bytes = w.bytes;
    if (auto problem = impl_->injected_fault(w.bytes); !problem.empty()) {
      out[i].error = "checkpoint store '" + impl_->path + "': write failed: " + problem;
      continue;
    }
    if (!w.state.empty()) batch.Put(impl_->runs, w.run_id, w.state);
    // Records about to be replaced or dropped may hold calls an earlier attempt paid:
    // those stay counted, in the `ledger` family (only resumed runs get here).
    if (w.drops_steps) {
      for (auto& e : impl_->calls_in_steps(w.run_id, w.drop_steps_from, UINT32_MAX)) {
        batch.Put(impl_->ledger, e.call_id, encode_ledger(e));
        counted.push_back(&kept.emplace_back(std::move(e.call_id)));
      }
      impl_->delete_steps(batch, w.run_id, w.drop_steps_from);
    }
    if (w.calls_may_repeat) {
      auto keep_calls_of = [&](uint32_t step) {
        for (auto& e : impl_->calls_in_steps(w.run_id, step, step + 1)) {
          batch.Put(impl_->ledger, e.call_id, encode_ledger(e));
          counted.push_back(&kept.emplace_back(std::move(e.call_id)));
        }
      };
      for (const auto& key : w.step_keys) keep_calls_of(step_of_key(key));
      // A record now inside the state replaces the one an earlier attempt left in
      // `steps` (readers would prefer it anyway): its calls stay counted, it goes.
      for (auto step : w.state_steps) {
        keep_calls_of(step);
        batch.Delete(impl_->steps, step_key(w.run_id, step));
      }
    }
    for (size_t k = 0; k < w.step_keys.size(); ++k)
      batch.Put(impl_->steps, w.step_keys[k], w.step_values[k]);
    for (const auto& id : w.step_call_ids) {
      if (repeats) counted.push_back(&id);
      ++out[i].ledger_added;
    }
    for (size_t k = 0; k < w.call_ids.size(); ++k) {
      const auto& id = w.call_ids[k];
      // A call already counted, on disk or earlier in this group, is never counted twice.
      if (w.calls_may_repeat && (has_call(id) || std::any_of(counted.begin(), counted.end(),
                                                             [&](auto* c) { return *c == id; })))
        continue;
      counted.push_back(&id);
      batch.Put(impl_->ledger, id, w.call_values[k]);
      ++out[i].ledger_added;
    }
    in_batch.push_back(i);
  }
  if (in_batch.empty()) return out;
  rocksdb::WriteOptions wo;
  wo.sync = impl_->sync;
  impl_->batches.fetch_add(1, std::memory_order_relaxed);
  auto s = impl_->db->Write(wo, &batch);
  if (!s.ok()) {
    auto error = "checkpoint store '" + impl_->path + "': write failed: " + s.ToString();
    for (auto i : in_batch) {
      out[i].error = error;
      out[i].ledger_added = 0;
    }
  }
  return out;
}

write_outcome checkpoint_store::write_states(const std::vector<run_checkpoint>& states) {
  rocksdb::WriteBatch batch;
  for (const auto& s : states) batch.Put(impl_->runs, s.run_id, encode_checkpoint(s));
  return impl_->commit(batch, 0);
}

std::optional<loaded_run> checkpoint_store::load(const std::string& run_id) const {
  std::string bytes;
  auto s = impl_->db->Get(rocksdb::ReadOptions{}, impl_->runs, run_id, &bytes);
  if (s.IsNotFound()) return std::nullopt;
  loaded_run out;
  out.run_id = run_id;
  if (!s.ok()) {
    out.error = "cannot read the state: " + s.ToString();
    return out;
  }
  out.state = decode_checkpoint(bytes, out.error);
  if (out.state && out.state->run_id != run_id) {
    out.error = "state names run '" + out.state->run_id + "' but is stored under '" + run_id + "'";
    out.state.reset();
  }
  if (out.state) {
    std::unique_ptr<rocksdb::Iterator> it{
        impl_->db->NewIterator(rocksdb::ReadOptions{}, impl_->steps)};
    out.error = impl_->bring_up_to_date(*out.state, *it);
    if (!out.error.empty()) out.state.reset();
  }
  return out;
}

std::vector<loaded_run> checkpoint_store::list() const {
  std::vector<loaded_run> out;
  std::unique_ptr<rocksdb::Iterator> it{
      impl_->db->NewIterator(rocksdb::ReadOptions{}, impl_->runs)};
  std::unique_ptr<rocksdb::Iterator> steps_it{
      impl_->db->NewIterator(rocksdb::ReadOptions{}, impl_->steps)};
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    loaded_run r;
    r.run_id = it->key().ToString();
    r.state = decode_checkpoint_view(it->value().ToStringView(), r.error);
    if (r.state) {
      r.error = impl_->bring_up_to_date(*r.state, *steps_it);
      if (!r.error.empty()) r.state.reset();
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<step_record> checkpoint_store::steps(const std::string& run_id,
                                                 std::vector<std::string>* errors) const {
  std::vector<step_record> out;
  auto prefix = step_prefix(run_id);
  std::unique_ptr<rocksdb::Iterator> it{
      impl_->db->NewIterator(rocksdb::ReadOptions{}, impl_->steps)};
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string error;
    if (auto rec = decode_step(it->value().ToString(), error))
      out.push_back(std::move(*rec));
    else if (errors)
      errors->push_back(error + " (run '" + run_id + "', `steps` key of step " +
                        std::to_string(step_of_key(it->key())) + ")");
  }
  // An ended run's last records are inside its state (layout 5); one of them replaces
  // a record of the same step under its own key (an earlier attempt's).
  std::string state;
  auto inside = impl_->records_in_state(run_id, state);
  for (size_t k = 0; k < inside.size(); ++k) {
    std::string error;
    auto rec = decode_binary_step(inside[k], error);
    if (!rec) {
      if (errors)
        errors->push_back(error + " (run '" + run_id + "', record " + std::to_string(k) +
                          " inside its state)");
      continue;
    }
    auto at = std::lower_bound(out.begin(), out.end(), rec->step,
                               [](const step_record& r, uint32_t step) { return r.step < step; });
    if (at != out.end() && at->step == rec->step)
      *at = std::move(*rec);
    else
      out.insert(at, std::move(*rec));
  }
  return out;
}

namespace {

// The run's entries in the `ledger` family (layout 1, and calls that may repeat).
std::vector<ledger_entry> ledger_family_entries(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf,
                                                const std::string& run_id) {
  std::vector<ledger_entry> out;
  auto prefix = ledger_prefix(run_id);
  std::unique_ptr<rocksdb::Iterator> it{db.NewIterator(rocksdb::ReadOptions{}, cf)};
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    try {
      auto j = json::parse(it->value().ToString());
      ledger_entry e;
      e.call_id = it->key().ToString();
      j.at("run_id").get_to(e.run_id);
      if (e.run_id != run_id) continue;  // another run whose id starts with "<run_id>/"
      j.at("thread_id").get_to(e.thread_id);
      j.at("model").get_to(e.model);
      j.at("tokens").get_to(e.tokens);
      j.at("nano_usd").get_to(e.nano_usd);
      out.push_back(std::move(e));
    } catch (const std::exception&) {
      // An undecodable ledger entry still occupies its call id; it is not listed.
    }
  }
  return out;
}

}  // namespace

std::vector<ledger_entry> checkpoint_store::ledger(const std::string& run_id) const {
  auto out = ledger_family_entries(*impl_->db, impl_->ledger, run_id);
  // Calls inside the step records; an id also in the `ledger` family counts there.
  auto inside = impl_->calls_in_steps(run_id, 0, UINT32_MAX);
  std::string state;
  for (auto record : impl_->records_in_state(run_id, state)) {
    try {
      calls_in_value(record, run_id, step_of_record(record), inside);
    } catch (const std::exception&) {
      // An undecodable record: `runs show` names it (steps()).
    }
  }
  for (auto& e : inside)
    if (std::none_of(out.begin(), out.end(), [&](const auto& o) { return o.call_id == e.call_id; }))
      out.push_back(std::move(e));
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.call_id < b.call_id; });
  return out;
}

bool checkpoint_store::has_call(const std::string& call_id) const {
  std::string value;
  if (impl_->db->Get(rocksdb::ReadOptions{}, impl_->ledger, call_id, &value).ok()) return true;
  std::string_view run;
  uint32_t step = 0, n = 0;
  if (!split_call_id(call_id, run, step, n)) return false;
  std::string run_id{run};
  auto holds_call = [&](std::string_view record) {
    try {
      std::vector<ledger_entry> calls;
      calls_in_value(record, run_id, step, calls);
      return std::any_of(calls.begin(), calls.end(),
                         [&](const auto& e) { return e.call_id == call_id; });
    } catch (const std::exception&) {
      return false;
    }
  };
  if (impl_->db->Get(rocksdb::ReadOptions{}, impl_->steps, step_key(run_id, step), &value).ok() &&
      holds_call(value))
    return true;
  // Layout 5: an ended run's last records are inside its state.
  std::string state;
  for (auto record : impl_->records_in_state(run_id, state))
    if (step_of_record(record) == step && holds_call(record)) return true;
  return false;
}

std::string checkpoint_store::erase(const std::string& run_id) {
  rocksdb::WriteBatch batch;
  batch.Delete(impl_->runs, run_id);
  impl_->delete_steps(batch, run_id, 0);
  for (const auto& e : ledger_family_entries(*impl_->db, impl_->ledger, run_id))
    batch.Delete(impl_->ledger, e.call_id);
  return impl_->commit(batch, 0).error;
}

size_t checkpoint_store::erase_ended_before(int64_t cutoff_ms, std::string* error) {
  size_t erased = 0;
  for (const auto& r : list()) {
    if (!r.state || !is_ended(r.state->status) || r.state->updated_ms >= cutoff_ms) continue;
    auto problem = erase(r.run_id);
    if (!problem.empty()) {
      if (error) *error = problem;
      break;
    }
    ++erased;
  }
  return erased;
}

uint64_t checkpoint_store::batches_written() const {
  return impl_->batches.load(std::memory_order_relaxed);
}

uint64_t checkpoint_store::disk_bytes() const {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator{impl_->path, ec}) {
    auto name = entry.path().filename().string();
    auto ext = entry.path().extension().string();
    if (ext == ".sst" || ext == ".log") total += entry.file_size(ec);
  }
  return total;
}

void checkpoint_store::set_write_hook(std::function<std::string(size_t)> hook) {
  std::lock_guard<std::mutex> guard{impl_->fault_mutex};
  impl_->hook = std::move(hook);
}

std::string checkpoint_store::put_raw_state(const std::string& run_id, const std::string& bytes) {
  rocksdb::WriteBatch batch;
  batch.Put(impl_->runs, run_id, bytes);
  return impl_->commit(batch, 0).error;
}

}  // namespace switchyard
