#pragma once
// The support swarm's per-run state. Agents are shared by every run, so what one
// support agent hands the next travels in the step's text: a JSON object (the
// "ticket envelope") that grows as it goes — the gatekeeper adds the scrubbed text,
// tags and data class, the router agent the route, a worker the draft reply. It
// holds placeholders only: the originals stay in the process-local vault registry
// (agents/vault_registry.hpp), never in a step output, a transcript or a checkpoint.
//
// A run's input may be plain ticket text, or an envelope with `text` and optional
// `history` (earlier turns of the thread) and `customer_name` / `customer_email`
// (what the account says, used to mark the customer's own values).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/messages.hpp"

namespace switchyard {

struct support_ticket {
  std::string text;                   // the latest customer message
  std::vector<chat_message> history;  // earlier turns, oldest first ("user"/"assistant")
  // Only in a run's input; the gatekeeper moves them into the vault registry.
  std::string customer_name;
  std::string customer_email;
  // Set by the gatekeeper.
  std::string data_class;  // "pii" when the ticket held personal data, else "public"
  size_t pii_found = 0;
  std::string mood;      // negative, neutral, positive
  std::string urgency;   // low, normal, high
  std::string language;  // en, de, fr, es, other
  std::string note;      // e.g. "3 invalid UTF-8 bytes replaced"
  // Set by the router agent.
  std::string route;
  double confidence = 0;
  std::string agent;  // the worker: scripted, researcher, reasoner
  // Set by the worker.
  std::string draft;                   // the answer before the closer's brand voice
  std::vector<std::string> citations;  // knowledge-base article ids
  std::string source;                  // which worker wrote the draft
};

/// The envelope as compact JSON text (invalid UTF-8 is replaced, never thrown on).
std::string to_envelope(const support_ticket& ticket);

/// Reads a step's text: an envelope (a JSON object with a string `text`), else the
/// whole input as the ticket text. `error` is set when it is an object that is not a
/// valid envelope (names the field).
support_ticket read_envelope(std::string_view input, std::string& error);

/// Why a ticket's text cannot be served, or "" when it can. On success `cleaned` is
/// the text with every invalid UTF-8 sequence replaced by U+FFFD and `replaced` counts
/// them. Rejected: empty or whitespace-only text; text longer than `max_bytes`; text
/// with no letter or digit left once invalid bytes are replaced (nothing to read).
std::string check_ticket_text(std::string_view raw, size_t max_bytes, std::string& cleaned,
                              size_t& replaced);

}  // namespace switchyard
