#pragma once
// The context orchestrator's core: fits a conversation to the target model's context
// window before each model call. Kept: the system prompt (verbatim) and the latest user
// turn, then as many of the most recent turns as fit; the older turns are replaced by
// one summary written by an injected summariser (the actor calls the local tier; tests
// pass a deterministic function). Token counts use router/token_estimate.hpp, the same
// estimate the router reserves budget with.
//
// Internal metadata is stripped from every message except the system prompt: lines
// whose first non-blank text is "[internal" (agent notes), "tags:" (gatekeeper tags),
// "trace:" or "decision_trace:" (routing traces), or an "X-Header: value" line. The
// target model does not need them and they cost tokens.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/messages.hpp"

namespace switchyard {

/// Writes a summary of `turns` (in conversation order) in at most `max_tokens` tokens.
/// A longer answer is truncated by the fitter, so a summariser cannot break the window.
using context_summariser =
    std::function<std::string(const std::vector<chat_message>& turns, uint32_t max_tokens)>;

struct context_fit_options {
  uint32_t context_window = 0;          // the target model's window, in tokens
  uint32_t reserved_output_tokens = 0;  // the call's max_tokens: room left for the answer
  uint32_t summary_max_tokens = 256;    // upper bound for the summary's content
};

struct context_fit_result {
  std::vector<chat_message> messages;
  uint32_t prompt_tokens = 0;     // estimate_prompt_tokens(messages)
  size_t summarised_turns = 0;    // older turns replaced by the summary message
  size_t dropped_turns = 0;       // older turns left out with no summary (no room for one)
  size_t stripped_lines = 0;      // metadata lines removed
  bool latest_truncated = false;  // the latest user turn alone did not fit and was cut
  std::string error;              // why the history cannot fit at all, else ""
  bool ok() const { return error.empty(); }
};

/// Fits `history` so that prompt_tokens + reserved_output_tokens <= context_window.
/// The summary, when there is one, is a "system" message right after the system prompt,
/// starting "Summary of the N earlier turns of this conversation: ".
/// The leading "system" messages are the system prompt; the latest turn is the last
/// "user" message (with anything after it). Never drops either: when they alone do not
/// fit, the latest user turn is cut and ends with "[truncated: kept X of Y characters]".
/// Fails (error set, no messages) only when the system prompt itself does not fit, the
/// history is empty, or the window is not larger than the reserved output. The
/// summariser is called at most once, and only when turns must be left out.
context_fit_result fit_context(const std::vector<chat_message>& history,
                               const context_fit_options& options,
                               const context_summariser& summarise);

/// `content` without internal metadata lines; adds the number removed to `stripped`.
std::string strip_internal_metadata(std::string_view content, size_t& stripped);

/// `text` cut to at most `max_tokens` tokens (whole UTF-8 code points), ending with a
/// "[truncated: kept X of Y characters]" marker when it was cut.
std::string truncate_to_tokens(std::string_view text, uint32_t max_tokens);

}  // namespace switchyard
