#include "router/providers/sse_parser.hpp"

namespace switchyard {

namespace {
constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";
}

sse_parser::sse_parser(size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

bool sse_parser::has_partial_event() const {
  return !line_.empty() || has_fields_ || (!bom_checked_ && !bom_prefix_.empty());
}

std::vector<sse_event> sse_parser::feed(std::string_view chunk) {
  std::vector<sse_event> out;
  if (failed()) return out;
  std::string joined;  // only used while the BOM question is open
  if (!bom_checked_) {
    bom_prefix_.append(chunk.data(), chunk.size());
    if (bom_prefix_.size() < utf8_bom.size() &&
        utf8_bom.substr(0, bom_prefix_.size()) == bom_prefix_) {
      return out;  // could still be a BOM
    }
    bom_checked_ = true;
    joined.swap(bom_prefix_);
    std::string_view rest = joined;
    if (rest.substr(0, utf8_bom.size()) == utf8_bom) rest.remove_prefix(utf8_bom.size());
    chunk = rest;
  }
  size_t i = 0;
  if (skip_lf_ && !chunk.empty()) {
    if (chunk[0] == '\n') i = 1;
    skip_lf_ = false;
  }
  while (i < chunk.size()) {
    size_t end = chunk.find_first_of("\r\n", i);
    if (end == std::string_view::npos) {
      line_.append(chunk.data() + i, chunk.size() - i);
      if (line_.size() > max_event_bytes_) {
        error_ =
            "server-sent event line longer than " + std::to_string(max_event_bytes_) + " bytes";
        return out;
      }
      break;
    }
    std::string_view piece = chunk.substr(i, end - i);
    if (line_.empty()) {
      process_line(piece, out);
    } else {
      line_.append(piece.data(), piece.size());
      std::string line;
      line.swap(line_);
      process_line(line, out);
    }
    if (failed()) return out;
    if (chunk[end] == '\r') {
      if (end + 1 < chunk.size()) {
        i = chunk[end + 1] == '\n' ? end + 2 : end + 1;
      } else {
        skip_lf_ = true;
        i = end + 1;
      }
    } else {
      i = end + 1;
    }
  }
  return out;
}

void sse_parser::process_line(std::string_view line, std::vector<sse_event>& out) {
  if (line.empty()) {
    if (has_data_) {
      sse_event e;
      e.event = std::move(event_);
      e.data = std::move(data_);
      if (!e.data.empty() && e.data.back() == '\n') e.data.pop_back();
      e.id = last_id_;
      out.push_back(std::move(e));
    }
    event_.clear();
    data_.clear();
    has_data_ = false;
    has_fields_ = false;
    event_bytes_ = 0;
    return;
  }
  if (line.size() > max_event_bytes_) {
    error_ = "server-sent event line longer than " + std::to_string(max_event_bytes_) + " bytes";
    return;
  }
  if (line[0] == ':') return;  // comment (keep-alive pings)
  event_bytes_ += line.size() + 1;
  if (event_bytes_ > max_event_bytes_) {
    error_ = "server-sent event larger than " + std::to_string(max_event_bytes_) + " bytes";
    return;
  }
  has_fields_ = true;
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    data_.append(value.data(), value.size());
    data_ += '\n';
    has_data_ = true;
  } else if (field == "event") {
    event_.assign(value.data(), value.size());
  } else if (field == "id") {
    // The standard ignores ids containing NUL.
    if (value.find('\0') == std::string_view::npos) last_id_.assign(value.data(), value.size());
  }
  // "retry" and unknown fields are ignored: reconnecting is the transport's call.
}

}  // namespace switchyard
