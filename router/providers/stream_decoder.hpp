#pragma once
// Decoders for streamed replies: the OpenAI chat-completions chunk stream, the
// Anthropic Messages event stream and Gemini's streamGenerateContent (alt=sse), all
// carried as server-sent events.
//
// Feed body bytes as they arrive; each feed returns the deltas they completed, in
// order (text fragments, tool-call fragments with their index / id / name / argument
// text, usage, finish). finish() at the end of the body returns the assembled
// model_response. A stream that ends without its terminator ("[DONE]",
// "message_stop"), a malformed event, or an error event inside the 200 stream is an
// error (bad_response, or the error's own kind), never a shortened success; once
// failed, feed returns nothing more and failed() is true, so the transport can stop
// reading early. Not thread-safe (one owner per stream).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "router/providers/sse_parser.hpp"
#include "runtime/config.hpp"
#include "runtime/messages.hpp"

namespace switchyard {

class stream_decoder {
 public:
  /// `call_id` is stamped on every delta and the response; `model` prices the usage;
  /// `api_key` (may be empty) is redacted from error messages.
  stream_decoder(std::string call_id, const model_config& model, std::string api_key);
  virtual ~stream_decoder() = default;
  stream_decoder(const stream_decoder&) = delete;
  stream_decoder& operator=(const stream_decoder&) = delete;

  std::vector<stream_delta> feed(std::string_view chunk);

  /// The whole reply, or the error that ended the stream. Call once, at the end of
  /// the body. Latency is left for the caller to set.
  model_response finish();

  bool failed() const { return !error_.ok(); }
  const model_error& error() const { return error_; }
  /// True once the terminator has arrived; bytes after it are ignored.
  bool done() const { return done_; }

 protected:
  struct partial_call {
    std::string id;
    std::string name;
    std::string arguments;
  };

  virtual void on_event(const sse_event& event, std::vector<stream_delta>& out) = 0;
  /// What the missing terminator is called, for the error message.
  virtual const char* terminator() const = 0;
  virtual const char* format_name() const = 0;
  /// Whether the stream reached its proper end. Default: the terminator arrived.
  virtual bool complete() const { return done_; }

  void fail(const std::string& kind, const std::string& message, uint32_t retry_after_ms = 0);
  stream_delta delta(stream_delta_kind kind) const;
  void emit_text(const std::string& text, std::vector<stream_delta>& out);
  void emit_usage(std::vector<stream_delta>& out);
  void emit_finish(const std::string& reason, std::vector<stream_delta>& out);

  std::string call_id_;
  model_config model_;
  std::string api_key_;
  sse_parser parser_;
  model_error error_;
  bool done_ = false;
  std::string text_;
  std::map<uint32_t, partial_call> calls_;  // by canonical index
  std::string finish_reason_;
  uint64_t input_tokens_ = 0;
  uint64_t output_tokens_ = 0;
  std::vector<token_logprob> logprobs_;
};

/// OpenAI-compatible chat-completions stream: "data: {chunk}" events ending with
/// "data: [DONE]". Usage arrives in a final chunk when the request asked for
/// stream_options.include_usage (openai_adapter does).
class openai_stream_decoder : public stream_decoder {
 public:
  using stream_decoder::stream_decoder;

 protected:
  void on_event(const sse_event& event, std::vector<stream_delta>& out) override;
  const char* terminator() const override { return "[DONE]"; }
  const char* format_name() const override { return "openai"; }
};

/// Anthropic Messages stream: message_start, content_block_start/delta/stop,
/// message_delta, message_stop; ping ignored; error events fail the stream. Tool
/// calls are indexed by their position among the reply's tool_use blocks.
class anthropic_stream_decoder : public stream_decoder {
 public:
  using stream_decoder::stream_decoder;

 protected:
  void on_event(const sse_event& event, std::vector<stream_delta>& out) override;
  const char* terminator() const override { return "message_stop"; }
  const char* format_name() const override { return "anthropic"; }

 private:
  std::map<uint64_t, uint32_t> block_to_call_;     // content block index -> call index
  std::map<uint64_t, std::string> initial_input_;  // tool_use input given at block start
};

/// Gemini streamGenerateContent with alt=sse: every event is a whole
/// GenerateContentResponse holding the next fragment. There is no sentinel event: the
/// stream is complete once a chunk carried candidates[0].finishReason (usage may still
/// follow), so a body that ends before that chunk is a cut stream. Function calls
/// arrive whole, one per part; calls without an id get "call_<n>".
class gemini_stream_decoder : public stream_decoder {
 public:
  using stream_decoder::stream_decoder;

 protected:
  void on_event(const sse_event& event, std::vector<stream_delta>& out) override;
  const char* terminator() const override { return "a chunk with finishReason"; }
  const char* format_name() const override { return "gemini"; }
  bool complete() const override { return saw_finish_; }

 private:
  bool saw_finish_ = false;
};

}  // namespace switchyard
