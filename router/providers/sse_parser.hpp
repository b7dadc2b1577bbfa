#pragma once
// Incremental parser for server-sent events (the text/event-stream format of the
// WHATWG HTML standard, as OpenAI and Anthropic stream with it).
//
// Feed it the body bytes as they arrive, split anywhere; it returns each event once
// its terminating blank line has arrived. Lines end in "\n", "\r\n" or "\r" (also when
// "\r" and "\n" arrive in different chunks); "data" lines of one event are joined with
// "\n"; lines starting with ':' are comments; one space after the colon is dropped; a
// leading UTF-8 BOM is ignored; an event with no data line is not dispatched (as the
// standard says). Not thread-safe (one owner per stream).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

struct sse_event {
  std::string event;  // the "event" field; empty when the server sent none ("message")
  std::string data;
  std::string id;  // the last event id seen so far in the stream
};

class sse_parser {
 public:
  /// Events larger than `max_event_bytes` (data and field lines of one event, or one
  /// line) make the parser fail: a peer must not make us buffer without bound.
  explicit sse_parser(size_t max_event_bytes = 8u << 20);

  /// Parses `chunk` and returns the events it completed, in order. After a failure
  /// returns nothing more.
  std::vector<sse_event> feed(std::string_view chunk);

  /// True when bytes of an unfinished event (or line) are buffered: at the end of the
  /// body this means the stream was cut inside an event.
  bool has_partial_event() const;

  bool failed() const { return !error_.empty(); }
  /// Why the parser failed; empty while it has not.
  const std::string& error() const { return error_; }

 private:
  void process_line(std::string_view line, std::vector<sse_event>& out);

  size_t max_event_bytes_;
  std::string line_;      // the unfinished current line
  bool skip_lf_ = false;  // the previous chunk ended in '\r': a leading '\n' belongs to it
  bool bom_checked_ = false;
  std::string bom_prefix_;  // the first bytes, until we know whether they are a BOM
  std::string event_;
  std::string data_;
  bool has_data_ = false;
  bool has_fields_ = false;  // any field line since the last dispatch
  size_t event_bytes_ = 0;
  std::string last_id_;
  std::string error_;
};

}  // namespace switchyard
