#pragma once
// The sim provider: an in-process, deterministic SIMULATOR of a model endpoint, for
// demos, tests and benchmarks. It never talks to a network and every reply it makes
// is labelled "[sim <model>]". Nothing falls back to it: it serves only models whose
// provider is declared with kind "sim" in the config.
//
// Given the same seed, model settings, call order and clock readings it returns the
// same outcomes. Plain class, no CAF: the model service actor owns one instance and
// turns `latency` into a delayed reply. Not thread-safe (one owner).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/config.hpp"
#include "runtime/messages.hpp"

namespace switchyard {

/// A successful sim answer whose text is not written yet (see sim_provider::call's
/// `defer_text`): its token counts and what its text is made from (the reply's hash and
/// the prompt's quote), in one heap block of 32 bytes plus the quote. A call waiting out
/// its simulated latency holds this instead of the text (about 265 B); write_text()
/// returns, byte for byte, the text call() would have returned. Empty when default-made.
class sim_deferred_reply {
 public:
  sim_deferred_reply() = default;

  explicit operator bool() const { return block_ != nullptr; }
  uint32_t input_tokens() const;
  uint32_t output_tokens() const;
  /// "stop", or "length" when max_tokens cut the reply.
  const char* finish_reason() const;
  /// The reply's text; `model_id` is the id of the model that was called.
  std::string write_text(const std::string& model_id) const;

 private:
  friend class sim_provider;
  struct header;
  struct release {
    void operator()(header* h) const;
  };
  std::unique_ptr<header, release> block_;
};

struct sim_outcome {
  model_error error;          // empty kind: success
  std::string text;           // the reply (empty on error)
  std::string finish_reason;  // "stop", or "length" when max_tokens cut the reply
  uint32_t input_tokens = 0;
  uint32_t output_tokens = 0;
  /// How long the simulated call takes before its outcome is known: latency_ms +
  /// ms_per_output_token * output_tokens on success, timeout_ms for a timeout fault,
  /// latency_ms for other faults.
  std::chrono::milliseconds latency{0};
  /// With `defer_text`, a success with a latency has its text left unwritten (`text`
  /// empty) and this holds what writes it; the other fields are as without.
  sim_deferred_reply deferred;
};

class sim_provider {
 public:
  explicit sim_provider(uint64_t seed);

  /// Simulates one call to `model`. `since_start` is the time elapsed since the
  /// provider started (from the caller's clock); outage windows are tested against it.
  /// Precedence: outage, then faults in their config order, then success.
  /// The reply is "[sim <model id>] " followed by a deterministic answer derived from
  /// the last user message, cut to `max_tokens` tokens (finish_reason "length").
  sim_outcome call(const model_config& model, const std::vector<chat_message>& messages,
                   uint32_t max_tokens, std::chrono::milliseconds since_start);

  /// The same, for a caller that has already counted the prompt's tokens with
  /// estimate_prompt_tokens (the model service does, to reserve the budget). With
  /// `defer_text`, a success that takes time comes with its text unwritten
  /// (sim_outcome::deferred), to be written when the latency has passed.
  sim_outcome call(const model_config& model, const std::vector<chat_message>& messages,
                   uint32_t max_tokens, std::chrono::milliseconds since_start,
                   uint32_t prompt_tokens, bool defer_text = false);

  /// Calls made to `model_id` so far (faulted ones included).
  uint64_t calls_made(const std::string& model_id) const;

 private:
  uint64_t seed_;
  std::unordered_map<std::string, uint64_t> calls_;
  // The entry of the model called last (most calls go to the model of the call before):
  // a string compare instead of hashing the id. Entries of the map never move; a copy
  // or a moved-to provider starts without one.
  struct entry_cache {
    std::pair<const std::string, uint64_t>* entry = nullptr;
    entry_cache() = default;
    entry_cache(const entry_cache&) {}
    entry_cache& operator=(const entry_cache&) {
      entry = nullptr;
      return *this;
    }
  };
  entry_cache last_;

  // Replies already written, by request: a reply's text depends only on the model id,
  // the prompt it answers and max_tokens, and a workload asks the same prompts again
  // and again (each step of a swarm run quotes the step before). A hit copies the text
  // instead of hashing, quoting, planning and writing it; the prompt is compared in
  // full, so a hit is the text call() would write. Direct-mapped, a fixed number of
  // slots, short prompts only: bounded memory, a collision just rewrites the slot.
  struct written_reply {
    std::string model_id;
    std::string prompt;
    std::string text;
    uint32_t max_tokens = 0;
    uint32_t output_tokens = 0;
    bool cut = false;
  };
  static constexpr size_t written_slots = 64;
  static constexpr size_t written_max_prompt = 2048;
  std::vector<written_reply> written_;  // empty until the first reply is kept
};

}  // namespace switchyard
