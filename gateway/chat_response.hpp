#pragma once
// The OpenAI chat completions response shapes: the whole `chat.completion` object and
// the `chat.completion.chunk` server-sent events of a streamed reply, built from the
// canonical model_response / stream_delta. Pure functions; thread-safe.
//
// Switchyard adds one field to the completion object (and to the last chunk of a
// stream), which OpenAI clients ignore:
//   "x_switchyard": {"model", "tier", "route", "downgraded", "cost_usd", "latency_ms",
//                    "decision" (only when the trace was asked for)}

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/messages.hpp"

namespace switchyard::gateway {

/// What a response says about the call: routing and cost (the x_switchyard field).
nlohmann::json switchyard_info(const model_usage& usage, bool with_trace);

/// The `chat.completion` object for a successful call.
nlohmann::json completion_json(const model_response& response, const std::string& id,
                               int64_t created, bool with_trace);

/// The same object as completion_json(...).dump(), written straight into a string
/// (the same bytes for valid UTF-8 text: keys in the same order, numbers formatted the
/// same way). A tree built and then dumped cost ~55,000 instructions a call, this
/// ~3,000; it is what the gateway sends on every non-streamed completion.
std::string completion_text(const model_response& response, const std::string& id,
                            int64_t created, bool with_trace);

/// Builds the `data: {...}\n\n` events of one streamed completion, in order.
class chunk_stream {
 public:
  chunk_stream(std::string id, int64_t created, std::string model);

  /// The first event: the assistant role with empty content.
  std::string role_event() const;
  /// A text or tool_call delta as an event; "" for usage/finish deltas (the final
  /// response carries both and finish_events() writes them).
  std::string delta_event(const stream_delta& delta);
  /// The closing events after the final response: when `response` never streamed
  /// (a provider that answers whole, like the sim), its text and tool calls first;
  /// then the finish_reason, the usage chunk when asked (with x_switchyard), and
  /// `data: [DONE]`.
  std::vector<std::string> finish_events(const model_response& response, bool include_usage,
                                         bool with_trace);
  /// An error inside the stream (the status line has gone out already): one event
  /// with OpenAI's error object, then `data: [DONE]`.
  static std::vector<std::string> error_events(const std::string& error_body_json);
  /// An SSE comment (": ...", ignored by clients) marking that the reply continues on
  /// another model after `kept_chars` characters; line breaks in the reason are flattened.
  static std::string switch_comment(const stream_switch& sw);

  bool streamed_anything() const { return streamed_; }

 private:
  std::string event(nlohmann::json delta, const nlohmann::json& finish_reason) const;
  std::string id_;
  int64_t created_;
  std::string model_;
  bool streamed_ = false;
};

/// `data: <json>\n\n`
std::string sse_event(const nlohmann::json& payload);

}  // namespace switchyard::gateway
