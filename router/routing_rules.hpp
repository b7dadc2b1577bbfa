#pragma once
// Keyword, regex and metadata rules, evaluated before the classifier. A rule fires when
// every condition it has holds; the first fired rule that sets the route, the tier or
// the data class decides that value. Rules are compiled once (RE2) and evaluated
// without locks, so many actors may share one instance.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/config.hpp"

namespace re2 {
class RE2;
}

namespace switchyard {

struct rule_verdict {
  std::vector<std::string> fired;  // names of every rule that fired, in order
  std::string route, route_rule;   // the value and the rule that set it
  std::string tier, tier_rule;
  std::string data_class, data_class_rule;
};

class routing_rules {
 public:
  /// Compiles `rules`. A pattern RE2 rejects throws std::invalid_argument naming the
  /// rule (the config loader reports it earlier with its JSON path).
  explicit routing_rules(const std::vector<routing_rule>& rules);
  ~routing_rules();
  routing_rules(routing_rules&&) noexcept;
  routing_rules& operator=(routing_rules&&) noexcept;

  rule_verdict evaluate(std::string_view text,
                        const std::map<std::string, std::string>& metadata) const;

  bool empty() const { return rules_.empty(); }

 private:
  struct compiled_rule {
    const routing_rule* source;
    std::vector<std::string> keywords;  // lower case
    std::unique_ptr<re2::RE2> regex;
  };
  std::vector<routing_rule> owned_;
  std::vector<compiled_rule> rules_;
};

/// ASCII lower case; other bytes (UTF-8) pass through unchanged.
std::string lower_ascii(std::string_view text);

/// True when `word` (lower case) occurs in `lowered` with no letter or digit on either
/// side: "refund" matches "a refund?" but not "refunded".
bool contains_word(std::string_view lowered, std::string_view word);

}  // namespace switchyard
