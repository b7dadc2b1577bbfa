#include "agents/pii_scrubber.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>

namespace switchyard {

namespace {

constexpr std::array<std::string_view, 7> kStems = {"EMAIL",       "PHONE",   "CARD", "IBAN",
                                                    "NATIONAL_ID", "ADDRESS", "NAME"};

constexpr std::string_view kPlaceholderPattern =
    R"(\[(EMAIL|PHONE|CARD|IBAN|NATIONAL_ID|ADDRESS|NAME)_(\d{1,6})\])";

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

std::string digits_of(std::string_view text) {
  std::string out;
  for (char c : text)
    if (is_digit(c)) out += c;
  return out;
}

/// What a detector decides about one regex match: replace `length` bytes from `offset`
/// with a placeholder of `kind`, or (length 0) leave it and resume `skip` bytes after the
/// match's start (0: after the whole match).
struct verdict {
  size_t length = 0;
  pii_kind kind = pii_kind::email;
  bool customer_own = false;
  size_t offset = 0;
  size_t skip = 0;
};

using detector = std::function<verdict(std::string_view match)>;

/// Scans `text` with `regex`; every accepted match is replaced by a vault placeholder.
/// Resumes after each match (or `skip` bytes in), so a pass is linear in the text.
size_t replace_matches(std::string& text, const re2::RE2& regex, const detector& decide,
                       pii_vault& vault) {
  std::string out;
  out.reserve(text.size());
  size_t replaced = 0;
  size_t pos = 0;
  re2::StringPiece input(text);
  re2::StringPiece match;
  while (pos <= text.size() &&
         regex.Match(input, pos, text.size(), re2::RE2::UNANCHORED, &match, 1)) {
    auto start = static_cast<size_t>(match.data() - text.data());
    if (match.empty()) {  // no pattern here matches empty, but never loop on one
      out.append(text, pos, start + 1 - pos);
      pos = start + 1;
      continue;
    }
    verdict v = decide(std::string_view(match.data(), match.size()));
    if (v.length == 0) {
      size_t advance = v.skip > 0 ? std::min(v.skip, match.size()) : match.size();
      out.append(text, pos, start + advance - pos);
      pos = start + advance;
      continue;
    }
    out.append(text, pos, start + v.offset - pos);
    out += vault.add(v.kind, text.substr(start + v.offset, v.length), v.customer_own);
    pos = start + v.offset + v.length;
    ++replaced;
  }
  if (pos < text.size()) out.append(text, pos, std::string::npos);
  text = std::move(out);
  return replaced;
}

std::string lower_ascii_copy(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Registered IBAN lengths (SWIFT IBAN registry) for the countries our customers use.
const std::map<std::string, size_t>& iban_lengths() {
  static const std::map<std::string, size_t> lengths = {
      {"AD", 24}, {"AT", 20}, {"BE", 16}, {"BG", 22}, {"CH", 21}, {"CY", 28}, {"CZ", 24},
      {"DE", 22}, {"DK", 18}, {"EE", 20}, {"ES", 24}, {"FI", 18}, {"FR", 27}, {"GB", 22},
      {"GR", 27}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IS", 26}, {"IT", 27}, {"LI", 21},
      {"LT", 20}, {"LU", 20}, {"LV", 21}, {"MC", 27}, {"MT", 31}, {"NL", 18}, {"NO", 15},
      {"PL", 28}, {"PT", 25}, {"RO", 24}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}};
  return lengths;
}

bool ssn_valid(std::string_view digits) {
  if (digits.size() != 9) return false;
  int area = std::stoi(std::string(digits.substr(0, 3)));
  int group = std::stoi(std::string(digits.substr(3, 2)));
  int serial = std::stoi(std::string(digits.substr(5, 4)));
  return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

bool nino_valid(std::string_view match) {
  std::string compact;
  for (char c : match)
    if (c != ' ') compact += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (compact.size() != 9) return false;
  static const std::array<std::string_view, 7> banned = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"};
  std::string_view prefix(compact.data(), 2);
  for (auto b : banned)
    if (prefix == b) return false;
  return true;
}

// Spanish DNI: 8 digits and a check letter, letter = table[number % 23]; the NIE
// replaces the first digit by X, Y or Z (0, 1, 2).
bool dni_nie_valid(std::string_view match) {
  std::string compact;
  for (char c : match)
    if (c != '-') compact += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (compact.size() != 9) return false;
  if (compact[0] == 'X') compact[0] = '0';
  if (compact[0] == 'Y') compact[0] = '1';
  if (compact[0] == 'Z') compact[0] = '2';
  for (size_t i = 0; i < 8; ++i)
    if (!is_digit(compact[i])) return false;
  static constexpr std::string_view letters = "TRWAGMYFPDXBNJZSQVHLCKE";
  long number = std::stol(compact.substr(0, 8));
  return compact[8] == letters[static_cast<size_t>(number % 23)];
}

}  // namespace

std::string_view placeholder_stem(pii_kind kind) {
  return kStems[static_cast<size_t>(kind)];
}

std::string pii_vault::add(pii_kind kind, std::string original, bool customer_own) {
  for (auto& entry : entries_) {
    if (entry.kind == kind && entry.original == original) {
      entry.customer_own = entry.customer_own || customer_own;
      return entry.placeholder;
    }
  }
  int number = ++counters_[static_cast<size_t>(kind)];
  std::string placeholder =
      "[" + std::string(placeholder_stem(kind)) + "_" + std::to_string(number) + "]";
  entries_.push_back(pii_entry{placeholder, std::move(original), kind, customer_own});
  return placeholder;
}

const pii_entry* pii_vault::find(std::string_view placeholder) const {
  for (const auto& entry : entries_)
    if (entry.placeholder == placeholder) return &entry;
  return nullptr;
}

size_t pii_vault::count(pii_kind kind) const {
  size_t n = 0;
  for (const auto& entry : entries_) n += entry.kind == kind ? 1 : 0;
  return n;
}

bool luhn_valid(std::string_view digits) {
  if (digits.empty()) return false;
  int sum = 0;
  bool twice = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (!is_digit(*it)) return false;
    int d = *it - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

bool iban_valid(std::string_view iban) {
  if (iban.size() < 15 || iban.size() > 34) return false;
  for (size_t i = 0; i < iban.size(); ++i) {
    char c = iban[i];
    bool letter = c >= 'A' && c <= 'Z';
    if (i < 2 && !letter) return false;
    if (i >= 2 && i < 4 && !is_digit(c)) return false;
    if (!letter && !is_digit(c)) return false;
  }
  auto known = iban_lengths().find(std::string(iban.substr(0, 2)));
  if (known != iban_lengths().end() && known->second != iban.size()) return false;
  // Move the first four characters to the end, letters become 10..35, then mod 97 == 1,
  // computed digit by digit so no big integer is needed.
  std::string rearranged = std::string(iban.substr(4)) + std::string(iban.substr(0, 4));
  int remainder = 0;
  for (char c : rearranged) {
    if (is_digit(c)) {
      remainder = (remainder * 10 + (c - '0')) % 97;
    } else {
      int value = c - 'A' + 10;
      remainder = (remainder * 100 + value) % 97;
    }
  }
  return remainder == 1;
}

struct pii_scrubber::patterns {
  re2::RE2 placeholder{std::string(R"((?i))") + std::string(kPlaceholderPattern)};
  re2::RE2 email{R"([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"};
  re2::RE2 iban{R"(\b[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]){11,32})"};
  // A whole run of digit groups; the card inside it is found group-aligned below.
  re2::RE2 card{R"(\b\d+(?:[ -]\d+)*\b)"};
  re2::RE2 ssn{R"(\b\d{3}[- ]\d{2}[- ]\d{4}\b)"};
  re2::RE2 nino{R"((?i)\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b)"};
  re2::RE2 dni{R"((?i)\b[XYZ0-9]-?\d{7}-?[A-Z]\b)"};
  re2::RE2 phone_international{R"(\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){2,6})"};
  re2::RE2 phone_national{R"((?:\(0[1-9]\d{0,3}\)|\b0[1-9]\d{0,3})(?:[ ./-]?\d{2,4}){2,4}\b)"};
  re2::RE2 phone_us{R"((?:\(\d{3}\)\s?|\b\d{3}[ .-])\d{3}[ .-]\d{4}\b)"};
  re2::RE2 address_en{
      R"(\b\d{1,5}[A-Za-z]?,? (?:[A-Z][A-Za-z'.-]* ){1,4}(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Place|Pl|Terrace|Close|Crescent|Square|Parkway|Highway|Gardens)\b\.?)"};
  re2::RE2 address_de{
      R"(\b\p{Lu}[\p{L}-]*(?:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm) ?\d{1,4}[a-z]?\b)"};
  re2::RE2 address_fr{
      R"(\b\d{1,4}(?:bis|ter)?,? (?:rue|avenue|boulevard|bd|chemin|allée|place|impasse|quai) (?:(?:de|du|des|la|le|l'|d') ?)*\p{Lu}[\p{L}'-]*(?: \p{Lu}[\p{L}'-]*){0,3})"};
  re2::RE2 address_es{
      R"((?:Calle|C/|Avenida|Avda\.?|Plaza|Paseo) (?:de (?:la |los |las )?)?\p{Lu}\p{L}*(?: \p{Lu}\p{L}*){0,3},? (?:n\.?º ?)?\d{1,4}\b)"};
};

pii_scrubber::pii_scrubber() : patterns_(std::make_unique<patterns>()) {}
pii_scrubber::~pii_scrubber() = default;
pii_scrubber::pii_scrubber(pii_scrubber&&) noexcept = default;
pii_scrubber& pii_scrubber::operator=(pii_scrubber&&) noexcept = default;

scrub_result pii_scrubber::scrub(std::string_view input, pii_vault& vault,
                                 const scrub_options& options) const {
  const patterns& p = *patterns_;
  scrub_result result;
  std::string text(input);

  // A ticket must not smuggle in a placeholder that restore() would expand.
  result.neutralised =
      static_cast<size_t>(re2::RE2::GlobalReplace(&text, p.placeholder, R"((\1_\2))"));

  const std::string own_email = lower_ascii_copy(options.customer_email);
  result.replaced += replace_matches(
      text, p.email,
      [&](std::string_view m) {
        bool own = !own_email.empty() && lower_ascii_copy(m) == own_email;
        return verdict{m.size(), pii_kind::email, own};
      },
      vault);

  if (!options.customer_name.empty()) {
    // Case-insensitive whole-word search for the declared name.
    const std::string name = lower_ascii_copy(options.customer_name);
    std::string lowered = lower_ascii_copy(text);
    std::string out;
    size_t pos = 0;
    for (size_t at = lowered.find(name); at != std::string::npos; at = lowered.find(name, at + 1)) {
      if (at < pos) continue;
      bool left_ok = at == 0 || !is_alnum(text[at - 1]);
      bool right_ok = at + name.size() >= text.size() || !is_alnum(text[at + name.size()]);
      if (!left_ok || !right_ok) continue;
      out.append(text, pos, at - pos);
      out += vault.add(pii_kind::name, options.customer_name, true);
      pos = at + name.size();
      ++result.replaced;
    }
    out.append(text, pos, std::string::npos);
    text = std::move(out);
  }

  result.replaced += replace_matches(
      text, p.iban,
      [](std::string_view m) {
        // The pattern is greedy (it may run into a following word in capitals): accept the
        // longest prefix that is a valid IBAN.
        std::string compact;
        std::vector<size_t> end_of;  // end offset in m of each compact character
        for (size_t i = 0; i < m.size(); ++i) {
          if (m[i] == ' ' || m[i] == '-') continue;
          compact += static_cast<char>(std::toupper(static_cast<unsigned char>(m[i])));
          end_of.push_back(i + 1);
        }
        for (size_t len = std::min<size_t>(compact.size(), 34); len >= 15; --len) {
          if (iban_valid(std::string_view(compact).substr(0, len))) {
            size_t end = end_of[len - 1];
            if (end < m.size() && is_alnum(m[end])) continue;  // cut inside a word
            return verdict{end, pii_kind::iban};
          }
        }
        verdict none;
        none.skip = 1;  // "XY12 GB82 WEST...": the real IBAN may start at the next word
        return none;
      },
      vault);

  result.replaced += replace_matches(
      text, p.card,
      [](std::string_view m) {
        // The run may hold more than a card ("SY-10238 4111 1111 1111 1111"): look at
        // windows of whole groups with 13 to 19 digits. Only a window that passes Luhn
        // is a card (order numbers, tracking numbers and timestamps mostly do not); as
        // one in ten digit strings passes by chance, windows grouped the way cards are
        // printed (one block, fours, Amex 4-6-5) with one kind of separator come first.
        struct group {
          size_t begin, end;
        };
        std::vector<group> groups;
        for (size_t i = 0; i < m.size();) {
          size_t j = i;
          while (j < m.size() && is_digit(m[j])) ++j;
          groups.push_back(group{i, j});
          i = j + 1;  // skip the single separator
        }
        auto card_shaped = [&](size_t first, size_t last) {
          size_t n = last - first + 1;
          auto len = [&](size_t k) { return groups[first + k].end - groups[first + k].begin; };
          if (n == 1) return true;
          if (n == 3 && len(0) == 4 && len(1) == 6 && (len(2) == 4 || len(2) == 5)) return true;
          for (size_t k = 0; k + 1 < n; ++k)
            if (len(k) != 4) return false;
          return len(n - 1) >= 1 && len(n - 1) <= 4;
        };
        auto one_separator = [&](size_t first, size_t last) {
          for (size_t k = first; k < last; ++k)
            if (m[groups[k].end] != m[groups[first].end]) return false;
          return true;
        };
        int best_score = -1;
        size_t best_first = 0, best_last = 0;
        for (size_t first = 0; first < groups.size(); ++first) {
          size_t digits = 0;
          for (size_t last = first; last < groups.size(); ++last) {
            digits += groups[last].end - groups[last].begin;
            if (digits > 19) break;
            if (digits < 13) continue;
            std::string window =
                digits_of(m.substr(groups[first].begin, groups[last].end - groups[first].begin));
            if (!luhn_valid(window)) continue;
            int score = (card_shaped(first, last) ? 2 : 0) + (one_separator(first, last) ? 1 : 0);
            if (score > best_score) {  // ties: the earliest, then the longest window
              best_score = score;
              best_first = first;
              best_last = last;
            } else if (score == best_score && first == best_first) {
              best_last = last;
            }
          }
        }
        if (best_score >= 0) {
          verdict v{groups[best_last].end - groups[best_first].begin, pii_kind::card};
          v.offset = groups[best_first].begin;
          return v;
        }
        return verdict{};
      },
      vault);

  result.replaced += replace_matches(
      text, p.ssn,
      [](std::string_view m) {
        return ssn_valid(digits_of(m)) ? verdict{m.size(), pii_kind::national_id} : verdict{};
      },
      vault);
  result.replaced += replace_matches(
      text, p.nino,
      [](std::string_view m) {
        return nino_valid(m) ? verdict{m.size(), pii_kind::national_id} : verdict{};
      },
      vault);
  result.replaced += replace_matches(
      text, p.dni,
      [](std::string_view m) {
        return dni_nie_valid(m) ? verdict{m.size(), pii_kind::national_id} : verdict{};
      },
      vault);

  auto phone_digits = [](size_t min, size_t max) {
    return [min, max](std::string_view m) {
      size_t n = digits_of(m).size();
      return n >= min && n <= max ? verdict{m.size(), pii_kind::phone} : verdict{};
    };
  };
  result.replaced += replace_matches(text, p.phone_international, phone_digits(8, 15), vault);
  result.replaced += replace_matches(text, p.phone_national, phone_digits(9, 13), vault);
  result.replaced += replace_matches(text, p.phone_us, phone_digits(10, 10), vault);

  auto address = [](std::string_view m) { return verdict{m.size(), pii_kind::address}; };
  result.replaced += replace_matches(text, p.address_en, address, vault);
  result.replaced += replace_matches(text, p.address_de, address, vault);
  result.replaced += replace_matches(text, p.address_fr, address, vault);
  result.replaced += replace_matches(text, p.address_es, address, vault);

  result.text = std::move(text);
  result.data_class = result.replaced > 0 ? "pii" : "public";
  return result;
}

restore_result restore(std::string_view text, const pii_vault& vault,
                       const restore_policy& policy) {
  static const re2::RE2 placeholder{std::string(kPlaceholderPattern)};
  restore_result result;
  std::string out;
  re2::StringPiece input(text.data(), text.size());
  re2::StringPiece match;
  size_t pos = 0;
  while (pos <= text.size() &&
         placeholder.Match(input, pos, text.size(), re2::RE2::UNANCHORED, &match, 1)) {
    auto start = static_cast<size_t>(match.data() - text.data());
    out.append(text.substr(pos, start - pos));
    pos = start + match.size();
    const pii_entry* entry = vault.find(std::string_view(match.data(), match.size()));
    if (entry == nullptr) {
      out.append(match.data(), match.size());
      continue;
    }
    // The only kinds that can ever come back; every other kind falls to `default`.
    bool allowed = false;
    switch (entry->kind) {
      case pii_kind::name:
        allowed = entry->customer_own && policy.customer_name;
        break;
      case pii_kind::email:
        allowed = entry->customer_own && policy.customer_email;
        break;
      default:
        allowed = false;
    }
    if (allowed) {
      out += entry->original;
      ++result.restored;
      continue;
    }
    ++result.withheld;
    switch (entry->kind) {
      case pii_kind::email:
        out += "[email withheld]";
        break;
      case pii_kind::phone:
        out += "[phone number withheld]";
        break;
      case pii_kind::card:
        out += "[card number withheld]";
        break;
      case pii_kind::iban:
        out += "[bank account withheld]";
        break;
      case pii_kind::national_id:
        out += "[ID number withheld]";
        break;
      case pii_kind::address:
        out += "[address withheld]";
        break;
      case pii_kind::name:
        out += "[name withheld]";
        break;
    }
  }
  if (pos < text.size()) out.append(text.substr(pos));
  result.text = std::move(out);
  return result;
}

}  // namespace switchyard
