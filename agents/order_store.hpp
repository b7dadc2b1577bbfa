#pragma once
// The small order store the scripted agent answers from (examples/knowledge_base/
// orders.json). Read-only after loading, so many actors may share one instance.
//
// File format: {"orders": [{"id": "SY-10234", "customer": "...", "status": "...",
// "items": ["..."], "ordered": "YYYY-MM-DD", "carrier": "...", "tracking": "...",
// "dispatched": "YYYY-MM-DD", "estimated_delivery": "YYYY-MM-DD",
// "delivered": "YYYY-MM-DD"}]}; id, customer, status, items and ordered are required,
// unknown keys are errors.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

struct order_record {
  std::string id;        // "SY-" and five digits
  std::string customer;  // never shown in a reply: a ticket may name someone else's order
  std::string status;    // processing, dispatched, in_transit, out_for_delivery,
                         // delivered, delayed, cancelled, returned
  std::vector<std::string> items;
  std::string ordered;
  std::string carrier;
  std::string tracking;
  std::string dispatched;
  std::string estimated_delivery;
  std::string delivered;
};

class order_store {
 public:
  /// Parses the JSON text of an order file. Every problem is appended to `errors` as
  /// "<source>: <json path>: <problem>, got <value>"; valid orders are kept.
  static order_store parse(std::string_view json_text, const std::string& source,
                           std::vector<std::string>& errors);
  static order_store load_file(const std::string& path, std::vector<std::string>& errors);

  /// The order with this id ("SY-10234"), or nullptr. O(orders).
  const order_record* find(std::string_view id) const;
  size_t size() const { return orders_.size(); }
  const std::vector<order_record>& orders() const { return orders_; }

 private:
  std::vector<order_record> orders_;
};

/// The first order id in a customer's text, normalised to "SY-12345": accepts
/// "SY-12345", "sy 12345", "SY12345", "order 12345", "order #12345", "order number:
/// 12345", "#12345" and the German, French and Spanish words for order.
std::optional<std::string> extract_order_id(std::string_view text);

}  // namespace switchyard
