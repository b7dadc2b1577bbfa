#include "agents/context_fitter.hpp"

#include <re2/re2.h>

#include "router/token_estimate.hpp"

namespace switchyard {

namespace {

constexpr uint32_t kMessageFraming = 4;  // per-message tokens, as estimate_prompt_tokens

uint32_t message_tokens(const chat_message& m) {
  return kMessageFraming + estimate_tokens(m.content);
}

// Byte offset just past the first `code_points` code points of `text`, counting code
// points exactly as count_code_points does (bytes that are not continuation bytes).
size_t prefix_bytes(std::string_view text, uint64_t code_points) {
  uint64_t seen = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    bool continuation = (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80;
    if (!continuation) {
      if (seen == code_points) return i;
      ++seen;
    }
  }
  return text.size();
}

}  // namespace

std::string strip_internal_metadata(std::string_view content, size_t& stripped) {
  static const re2::RE2 metadata(
      R"((?i)^[ \t]*(?:\[internal|tags:|trace:|decision_trace:|x-[a-z0-9-]+:))");
  std::string out;
  out.reserve(content.size());
  size_t pos = 0;
  bool first = true;
  while (pos <= content.size()) {
    size_t end = content.find('\n', pos);
    if (end == std::string_view::npos) end = content.size();
    std::string_view line = content.substr(pos, end - pos);
    if (re2::RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), metadata)) {
      ++stripped;
    } else {
      if (!first) out += '\n';
      out.append(line);
      first = false;
    }
    if (end == content.size()) break;
    pos = end + 1;
  }
  return out;
}

std::string truncate_to_tokens(std::string_view text, uint32_t max_tokens) {
  const uint64_t total = count_code_points(text);
  const uint64_t max_code_points = static_cast<uint64_t>(max_tokens) * 4;
  if (total <= max_code_points) return std::string(text);
  auto marker_for = [&](uint64_t kept) {
    return "\n[truncated: kept " + std::to_string(kept) + " of " + std::to_string(total) +
           " characters]";
  };
  // The marker's length depends on the kept count; one refinement settles it because
  // fewer kept characters never make the marker longer.
  uint64_t marker_points = count_code_points(marker_for(max_code_points));
  if (marker_points > max_code_points) {
    std::string marker = "[truncated]";
    return marker.substr(0, static_cast<size_t>(max_code_points));
  }
  uint64_t kept = max_code_points - marker_points;
  std::string out(text.substr(0, prefix_bytes(text, kept)));
  out += marker_for(kept);
  return out;
}

context_fit_result fit_context(const std::vector<chat_message>& history,
                               const context_fit_options& options,
                               const context_summariser& summarise) {
  context_fit_result result;
  if (history.empty()) {
    result.error = "context: the history has no messages";
    return result;
  }
  if (options.reserved_output_tokens >= options.context_window) {
    result.error = "context: the window (" + std::to_string(options.context_window) +
                   " tokens) must be larger than the reserved output (" +
                   std::to_string(options.reserved_output_tokens) + " tokens)";
    return result;
  }
  const uint32_t budget = options.context_window - options.reserved_output_tokens;

  size_t system_end = 0;
  while (system_end < history.size() && history[system_end].role == "system") ++system_end;
  size_t latest = history.size() - 1;
  for (size_t i = history.size(); i-- > system_end;) {
    if (history[i].role == "user") {
      latest = i;
      break;
    }
  }
  if (latest < system_end) latest = history.size() - 1;  // only system messages

  std::vector<chat_message> messages;
  messages.reserve(history.size());
  for (size_t i = 0; i < history.size(); ++i) {
    if (i < system_end) {
      messages.push_back(history[i]);
    } else {
      messages.push_back(chat_message{
          history[i].role, strip_internal_metadata(history[i].content, result.stripped_lines)});
    }
  }

  uint32_t system_tokens = 0;
  for (size_t i = 0; i < system_end; ++i) system_tokens += message_tokens(messages[i]);
  uint32_t tail_tokens = 0;
  for (size_t i = std::max(latest, system_end); i < messages.size(); ++i)
    tail_tokens += message_tokens(messages[i]);

  if (estimate_prompt_tokens(messages) <= budget) {
    result.messages = std::move(messages);
    result.prompt_tokens = estimate_prompt_tokens(result.messages);
    return result;
  }

  // The fixed part is what may never be dropped; latest_cost is what the latest turn
  // costs with empty content.
  const uint32_t other_tail =
      latest >= system_end ? tail_tokens - message_tokens(messages[latest]) : 0;
  const uint32_t fixed_minimum =
      system_tokens + other_tail + (latest >= system_end ? kMessageFraming : 0);
  if (fixed_minimum > budget) {
    result.error = "context: the system prompt (" + std::to_string(system_tokens) +
                   " tokens) and the latest turn's framing do not fit the window of " +
                   std::to_string(options.context_window) + " tokens minus " +
                   std::to_string(options.reserved_output_tokens) + " reserved for output";
    return result;
  }

  std::vector<chat_message> fitted(messages.begin(), messages.begin() + system_end);
  const size_t middle_begin = system_end;
  const size_t middle_end = std::max(latest, system_end);  // turns before the latest

  if (system_tokens + tail_tokens > budget) {
    // Even alone, the latest turn is too long: cut it, leave all older turns out.
    uint32_t room = budget - fixed_minimum;
    chat_message cut = messages[latest];
    cut.content = truncate_to_tokens(cut.content, room);
    result.latest_truncated = true;
    result.dropped_turns = middle_end - middle_begin;
    fitted.push_back(std::move(cut));
    for (size_t i = latest + 1; i < messages.size(); ++i) fitted.push_back(messages[i]);
    result.messages = std::move(fitted);
    result.prompt_tokens = estimate_prompt_tokens(result.messages);
    return result;
  }

  // Keep the most recent turns that fit next to a summary slot, summarise the rest.
  const uint32_t room = budget - system_tokens - tail_tokens;
  const uint32_t summary_slot = std::min(room, options.summary_max_tokens + kMessageFraming);
  uint32_t kept_tokens = 0;
  size_t keep_from = middle_end;
  while (keep_from > middle_begin) {
    uint32_t cost = message_tokens(messages[keep_from - 1]);
    if (kept_tokens + cost > room - summary_slot) break;
    kept_tokens += cost;
    --keep_from;
  }
  const size_t older = keep_from - middle_begin;
  const uint32_t summary_room = room - kept_tokens;
  if (older > 0 && summary_room > kMessageFraming && summarise) {
    std::vector<chat_message> older_turns(messages.begin() + middle_begin,
                                          messages.begin() + keep_from);
    const uint32_t limit = std::min(summary_room - kMessageFraming, options.summary_max_tokens);
    std::string summary = "Summary of the " + std::to_string(older) +
                          " earlier turns of this conversation: " + summarise(older_turns, limit);
    fitted.push_back(chat_message{"system", truncate_to_tokens(summary, limit)});
    result.summarised_turns = older;
  } else {
    result.dropped_turns = older;
  }
  for (size_t i = keep_from; i < messages.size(); ++i) fitted.push_back(messages[i]);
  result.messages = std::move(fitted);
  result.prompt_tokens = estimate_prompt_tokens(result.messages);
  return result;
}

}  // namespace switchyard
