#pragma once
// The gatekeeper's PII scrubber: finds emails, phone numbers, payment card numbers
// (Luhn-checked), IBANs (mod-97 checked), national ID numbers (US SSN, UK NINO, Spanish
// DNI/NIE, each with its own validity rule) and street addresses, and replaces each with
// a placeholder such as "[CARD_1]". The originals go into a per-run `pii_vault`, which
// has no inspect, no serialisation and no stream operator on purpose: it cannot cross an
// actor boundary, be checkpointed or be logged. `restore` puts originals back only where
// the fixed, code-defined `restore_policy` allows it; nothing in a text can widen it.

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

enum class pii_kind { email, phone, card, iban, national_id, address, name };

/// Placeholder stem of a kind: "EMAIL", "PHONE", "CARD", "IBAN", "NATIONAL_ID",
/// "ADDRESS", "NAME".
std::string_view placeholder_stem(pii_kind kind);

/// One scrubbed value. `customer_own` marks the customer's own name or email (as
/// declared by the caller in `scrub_options`), the only values a reply may show again.
struct pii_entry {
  std::string placeholder;
  std::string original;
  pii_kind kind;
  bool customer_own = false;
};

/// Placeholder -> original for one run. Move-only so it is not copied around by
/// accident; lives in the gatekeeper/closer process and dies with the run.
class pii_vault {
 public:
  pii_vault() = default;
  pii_vault(const pii_vault&) = delete;
  pii_vault& operator=(const pii_vault&) = delete;
  pii_vault(pii_vault&&) noexcept = default;
  pii_vault& operator=(pii_vault&&) noexcept = default;

  /// Placeholder for `original`: the same value (same kind) gets the same placeholder
  /// within a run, so "[EMAIL_1]" means one address throughout a thread.
  std::string add(pii_kind kind, std::string original, bool customer_own = false);

  /// The entry behind `placeholder` ("[CARD_1]"), or nullptr.
  const pii_entry* find(std::string_view placeholder) const;

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  size_t count(pii_kind kind) const;

 private:
  std::vector<pii_entry> entries_;
  std::array<int, 7> counters_{};
};

/// What the caller knows about the customer (from the account, not from the ticket).
struct scrub_options {
  std::string customer_name;   // replaced (case-insensitively) by a NAME placeholder
  std::string customer_email;  // an email equal to this is marked as the customer's own
};

struct scrub_result {
  std::string text;        // the ticket with placeholders
  std::string data_class;  // "pii" when anything was found, else "public"
  size_t replaced = 0;     // values replaced in this call
  size_t neutralised = 0;  // placeholder-shaped strings the input itself contained
};

class pii_scrubber {
 public:
  /// Compiles the patterns once. A scrubber is immutable afterwards and may be shared
  /// by many threads; `scrub` only writes to the vault it is given.
  pii_scrubber();
  ~pii_scrubber();
  pii_scrubber(pii_scrubber&&) noexcept;
  pii_scrubber& operator=(pii_scrubber&&) noexcept;

  /// Replaces every PII value in `text` with a placeholder recorded in `vault`. Text the
  /// customer typed that looks like a placeholder ("[CARD_1]") is rewritten to
  /// "(CARD_1)" first, so a ticket cannot make `restore` expand a value it names.
  /// Invalid UTF-8 is tolerated (bytes pass through). O(n) per pattern.
  scrub_result scrub(std::string_view text, pii_vault& vault,
                     const scrub_options& options = {}) const;

 private:
  struct patterns;
  std::unique_ptr<patterns> patterns_;
};

/// Which placeholders a reply may turn back into originals. Fixed by the code that
/// builds the reply; cards, IBANs, national IDs, phones and addresses have no switch at
/// all, so no policy value (and no ticket text) can restore them.
struct restore_policy {
  bool customer_name = true;    // the customer's own name, as declared in scrub_options
  bool customer_email = false;  // the customer's own email, as declared in scrub_options
};

struct restore_result {
  std::string text;
  size_t restored = 0;
  size_t withheld = 0;
};

/// Replaces placeholders in `text` (e.g. a model's reply) with originals where `policy`
/// allows; every other known placeholder becomes a neutral label such as
/// "[card number withheld]". Unknown placeholders are left as they are.
restore_result restore(std::string_view text, const pii_vault& vault, const restore_policy& policy);

/// True when `digits` (only '0'-'9') passes the Luhn check.
bool luhn_valid(std::string_view digits);

/// True when `iban` (compact, upper case, no spaces) passes the ISO 13616 mod-97 check
/// and has the registered length for its country when the country is known here.
bool iban_valid(std::string_view iban);

}  // namespace switchyard
