#pragma once
// The stub provider: a small HTTP/1.1 server on 127.0.0.1 that speaks the wire formats
// of OpenAI-compatible chat completions (+ /v1/embeddings), Anthropic Messages and
// Gemini generateContent, streaming included, so provider code is tested through real
// sockets without a network. A JSON script decides, per model, how each call goes
// (latency, 429 with Retry-After, 500, 503, hanging, malformed JSON, cut stream, an
// error inside a 200, ...). Without a script every model answers normally with a
// deterministic reply derived from the request. Every request is recorded so tests can
// assert on what a provider would have seen. Format of the script: docs/stub_provider.md.
//
// One thread accepts, one thread serves each connection (blocking Beast I/O): simple,
// and plenty for tests and benchmarks. All public methods are thread-safe.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace switchyard {

/// Length of the stub's embeddings when the request does not ask (`dimensions`).
constexpr size_t stub_embedding_dimensions = 64;

/// One step of a model's script: how `times` consecutive calls behave.
struct stub_step {
  /// ok, rate_limited, server_error, overloaded, unauthorized, bad_request,
  /// context_length, hang, malformed_json, cut_stream, missing_terminator, error_in_200.
  std::string behaviour = "ok";
  uint32_t times = 0;  // 0: every remaining call
  uint32_t retry_after_s = 1;  // rate_limited: the Retry-After header
};

/// How one model behaves.
struct stub_model_script {
  uint32_t latency_ms = 0;      // before the response header
  uint32_t chunk_delay_ms = 0;  // between streamed events
  std::string reply;            // fixed reply text; empty: "[stub <model>] You said: <last user text>"
  bool tool_calls = false;      // when the request offers tools, call the first one
  std::vector<stub_step> sequence;  // consumed in order; when exhausted every call is ok
};

struct stub_script {
  std::map<std::string, stub_model_script> models;  // key "*": any model not listed
  /// API key (the secret a call carries in Authorization: Bearer, x-api-key or
  /// x-goog-api-key) -> how every call with that key behaves, whatever its model's
  /// sequence says. Lets tests tell a provider's keys apart (a revoked key, a key at
  /// its quota).
  std::map<std::string, stub_step> keys;
};

/// Parses a script; on error returns nullopt and sets `error` naming the JSON path
/// ("models.gpt-x.sequence[1].behaviour: must be one of ..., got \"oops\"").
std::optional<stub_script> parse_stub_script(const nlohmann::json& doc, std::string& error);

/// One request as the stub received it.
struct stub_request {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  uint64_t connection = 0;  // 1-based index of the TCP connection it came on
  std::string model;

  /// First header with this name (case-insensitive), or empty.
  std::string header(const std::string& name) const;
};

class stub_server {
 public:
  /// Binds 127.0.0.1:`port` (0: an ephemeral port) and starts serving. On failure
  /// returns nullptr and sets `error`.
  static std::unique_ptr<stub_server> start(uint16_t port, stub_script script, std::string& error);
  ~stub_server();  // stops
  stub_server(const stub_server&) = delete;
  stub_server& operator=(const stub_server&) = delete;

  uint16_t port() const { return port_; }
  /// "http://127.0.0.1:<port>"
  std::string base_url() const;
  /// Every request received so far (the stub's own /_stub/ paths excluded).
  std::vector<stub_request> requests() const;
  /// TCP connections accepted so far.
  uint64_t connections() const;
  /// Replaces the script and resets the per-model call counters.
  void set_script(stub_script script);
  /// Closes the listener and every connection (a hanging call ends), joins the threads.
  void stop();

  struct impl;

 private:
  stub_server() = default;
  std::shared_ptr<impl> impl_;
  uint16_t port_ = 0;
};

}  // namespace switchyard
