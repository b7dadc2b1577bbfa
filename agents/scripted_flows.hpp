#pragma once
// The scripted agent's flows: deterministic replies with no model call, for the routes
// where a fixed answer is better than a generated one (password recovery, order
// tracking). Same input, same reply; nothing here costs tokens.

#include <optional>
#include <string>
#include <string_view>

#include "agents/order_store.hpp"

namespace switchyard {

struct scripted_reply {
  std::string flow;      // "password_recovery" or "order_tracking"
  std::string text;      // the reply to the customer
  std::string order_id;  // the id found in the ticket, "" when none
  bool order_found = false;
};

class scripted_flows {
 public:
  /// `orders` must outlive this object.
  explicit scripted_flows(const order_store& orders) : orders_(&orders) {}

  /// The password-reset steps (the same text as the help article, as a checklist).
  scripted_reply password_recovery() const;

  /// Finds an order id in `text` and answers with the order's status, carrier, tracking
  /// number and dates. Never shows the customer's name or items (a ticket may quote
  /// someone else's order number). No id, or an unknown one: a reply that says where
  /// to find the order number.
  scripted_reply track_order(std::string_view text) const;

  /// The flow for `route` ("password_recovery", "track_order"), or nullopt when the
  /// route has no scripted flow.
  std::optional<scripted_reply> reply(std::string_view route, std::string_view text) const;

 private:
  const order_store* orders_;
};

}  // namespace switchyard
