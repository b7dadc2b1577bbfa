#include "router/providers/sse_parser.hpp"

#include <catch2/catch.hpp>

using namespace switchyard;

namespace {

std::vector<sse_event> parse_in_pieces(const std::string& text, std::vector<size_t> cuts) {
  sse_parser parser;
  std::vector<sse_event> out;
  size_t from = 0;
  cuts.push_back(text.size());
  for (size_t cut : cuts) {
    auto events = parser.feed(std::string_view(text).substr(from, cut - from));
    out.insert(out.end(), events.begin(), events.end());
    from = cut;
  }
  REQUIRE_FALSE(parser.failed());
  return out;
}

bool same(const std::vector<sse_event>& a, const std::vector<sse_event>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].event != b[i].event || a[i].data != b[i].data || a[i].id != b[i].id) return false;
  }
  return true;
}

// Every field rule in one stream: CRLF, CR and LF line ends, a comment, multi-line
// data, a field without a space after the colon, a field with no colon, an id, an
// event without data (not dispatched) and a trailing partial event.
const std::string mixed_stream =
    "\xEF\xBB\xBF: keep-alive\r\n"
    "event: message_start\r\n"
    "data: {\"a\":1}\r\n"
    "\r\n"
    "data: line one\n"
    "data:line two\n"
    "data\n"
    "id: 7\n"
    "\n"
    "event: lonely\r"
    "\r"
    "retry: 10\r"
    "event: ping\r"
    "data: {}\r"
    "\r"
    "data: cut";

}  // namespace

TEST_CASE("sse parser: fields, comments, multi-line data and all three line ends",
          "[providers][sse]") {
  auto events = parse_in_pieces(mixed_stream, {});
  REQUIRE(events.size() == 3);
  CHECK(events[0].event == "message_start");
  CHECK(events[0].data == "{\"a\":1}");
  CHECK(events[0].id.empty());
  CHECK(events[1].event.empty());
  CHECK(events[1].data == "line one\nline two\n");
  CHECK(events[1].id == "7");
  CHECK(events[2].event == "ping");
  CHECK(events[2].data == "{}");
  CHECK(events[2].id == "7");  // the last id persists
}

TEST_CASE("sse parser: a stream split at every byte position, and byte by byte, parses the same",
          "[providers][sse]") {
  auto whole = parse_in_pieces(mixed_stream, {});
  for (size_t cut = 0; cut <= mixed_stream.size(); ++cut) {
    INFO("cut at " << cut);
    CHECK(same(parse_in_pieces(mixed_stream, {cut}), whole));
  }
  for (size_t a = 0; a <= mixed_stream.size(); a += 3) {
    for (size_t b = a; b <= mixed_stream.size(); b += 5) {
      INFO("cuts at " << a << ", " << b);
      CHECK(same(parse_in_pieces(mixed_stream, {a, b}), whole));
    }
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < mixed_stream.size(); ++i) every.push_back(i);
  CHECK(same(parse_in_pieces(mixed_stream, every), whole));
}

TEST_CASE(
    "sse parser: a CR at the end of one chunk and LF at the start of the next is one line end",
    "[providers][sse]") {
  sse_parser parser;
  CHECK(parser.feed("data: a\r").empty());
  CHECK(parser.feed("\n").empty());  // the LF completes "data: a", not a blank line
  auto events = parser.feed("\r\n");
  REQUIRE(events.size() == 1);
  CHECK(events[0].data == "a");
}

TEST_CASE("sse parser: a partial event at the end is reported, a complete stream is not",
          "[providers][sse]") {
  sse_parser parser;
  parser.feed("data: x\n\n");
  CHECK_FALSE(parser.has_partial_event());
  parser.feed("data: y\n");
  CHECK(parser.has_partial_event());
  sse_parser half_line;
  half_line.feed("da");
  CHECK(half_line.has_partial_event());
}

TEST_CASE("sse parser: an event larger than the limit fails the parser", "[providers][sse]") {
  sse_parser parser(64);
  parser.feed("data: " + std::string(100, 'x'));
  CHECK(parser.failed());
  CHECK(parser.error().find("longer than 64 bytes") != std::string::npos);
  CHECK(parser.feed("\n\n").empty());
  sse_parser many_lines(64);
  for (int i = 0; i < 20; ++i) many_lines.feed("data: 0123456789\n");
  CHECK(many_lines.failed());
}
