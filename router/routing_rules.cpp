#include "router/routing_rules.hpp"

#include <stdexcept>

#include "re2/re2.h"

namespace switchyard {

namespace {

bool is_word_byte(char c) {
  auto u = static_cast<unsigned char>(c);
  // Bytes >= 0x80 belong to multi-byte UTF-8 letters: treat them as word bytes so a
  // keyword never matches inside a longer non-ASCII word.
  return (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u >= 0x80 ||
         c == '_';
}

}  // namespace

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool contains_word(std::string_view lowered, std::string_view word) {
  if (word.empty()) return false;
  for (size_t at = lowered.find(word); at != std::string_view::npos;
       at = lowered.find(word, at + 1)) {
    bool starts = at == 0 || !is_word_byte(lowered[at - 1]);
    size_t end = at + word.size();
    bool ends = end == lowered.size() || !is_word_byte(lowered[end]);
    if (starts && ends) return true;
  }
  return false;
}

routing_rules::routing_rules(const std::vector<routing_rule>& rules) : owned_(rules) {
  rules_.reserve(owned_.size());
  for (const auto& rule : owned_) {
    compiled_rule c{&rule, {}, nullptr};
    for (const auto& k : rule.keywords) c.keywords.push_back(lower_ascii(k));
    if (!rule.regex.empty()) {
      RE2::Options options;
      options.set_case_sensitive(false);
      options.set_log_errors(false);
      c.regex = std::make_unique<re2::RE2>(rule.regex, options);
      if (!c.regex->ok())
        throw std::invalid_argument("router rule '" + rule.name +
                                    "': invalid regex: " + c.regex->error());
    }
    rules_.push_back(std::move(c));
  }
}

routing_rules::~routing_rules() = default;
routing_rules::routing_rules(routing_rules&&) noexcept = default;
routing_rules& routing_rules::operator=(routing_rules&&) noexcept = default;

rule_verdict routing_rules::evaluate(std::string_view text,
                                     const std::map<std::string, std::string>& metadata) const {
  rule_verdict out;
  if (rules_.empty()) return out;
  std::string lowered;  // made once, only if some rule has keywords
  bool lowered_ready = false;
  for (const auto& rule : rules_) {
    const routing_rule& src = *rule.source;
    bool holds = true;
    for (const auto& [key, value] : src.metadata) {
      auto it = metadata.find(key);
      if (it == metadata.end() || it->second != value) {
        holds = false;
        break;
      }
    }
    if (holds && !rule.keywords.empty()) {
      if (!lowered_ready) {
        lowered = lower_ascii(text);
        lowered_ready = true;
      }
      holds = false;
      for (const auto& k : rule.keywords)
        if (contains_word(lowered, k)) {
          holds = true;
          break;
        }
    }
    if (holds && rule.regex)
      holds = RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *rule.regex);
    if (!holds) continue;
    out.fired.push_back(src.name);
    if (out.route.empty() && !src.route.empty()) {
      out.route = src.route;
      out.route_rule = src.name;
    }
    if (out.tier.empty() && !src.tier.empty()) {
      out.tier = src.tier;
      out.tier_rule = src.name;
    }
    if (out.data_class.empty() && !src.data_class.empty()) {
      out.data_class = src.data_class;
      out.data_class_rule = src.name;
    }
  }
  return out;
}

}  // namespace switchyard
