#pragma once
// Support tickets in JSON Lines (format: examples/tickets/README.md): one ticket per
// line with `text`, `turns` or `text_base64` (plus `repeat`), optional `id`,
// `expected_route`, `thread_id`, `customer_name`, `customer_email`, `tags`,
// `pii_values`. A plain batch line {"input": "..."} is read as a ticket too. A bad
// line is reported for that ticket alone: the others still run.

#include <string>
#include <vector>

namespace switchyard::examples {

struct support_ticket_line {
  size_t line = 0;
  std::string id;                  // "line N" when the file gives none
  std::vector<std::string> turns;  // customer turns, oldest first; raw bytes (may be invalid UTF-8)
  std::string thread_id;
  std::string customer_name;
  std::string customer_email;
  bool has_expected = false;
  std::string expected_route;  // "" with has_expected: the ticket must be rejected
  std::vector<std::string> tags;
  std::vector<std::string> pii_values;
  std::string error;  // why this line cannot be a ticket; the rest is then unset
};

/// Parses every non-blank line of `text`; `source` names the file in errors.
std::vector<support_ticket_line> parse_ticket_lines(const std::string& text,
                                                    const std::string& source);

/// The run input for a ticket: its only turn as plain text, or an envelope with the
/// earlier turns as history (agents/support_ticket.hpp) and the customer's details.
std::string ticket_run_input(const support_ticket_line& ticket);

/// Standard base64 (with or without padding); false on a bad character or length.
bool decode_base64(const std::string& in, std::string& out);

}  // namespace switchyard::examples
