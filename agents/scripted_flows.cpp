#include "agents/scripted_flows.hpp"

namespace switchyard {

namespace {

std::string with_carrier(const order_record& o) {
  std::string s;
  if (!o.carrier.empty()) s += " with " + o.carrier;
  if (!o.tracking.empty()) s += " (tracking number " + o.tracking + ")";
  return s;
}

std::string status_text(const order_record& o) {
  const std::string& id = o.id;
  if (o.status == "processing")
    return "Order " + id + " (placed on " + o.ordered +
           ") is being prepared in our warehouse and has not been dispatched yet." +
           (o.estimated_delivery.empty() ? ""
                                         : " Estimated delivery: " + o.estimated_delivery + ".") +
           " You will get a tracking number by email as soon as it ships. You can still "
           "change or cancel it under Orders.";
  if (o.status == "dispatched" || o.status == "in_transit")
    return "Order " + id + " was dispatched on " + o.dispatched + with_carrier(o) +
           " and is on its way. Estimated delivery: " + o.estimated_delivery + ".";
  if (o.status == "out_for_delivery")
    return "Order " + id + " is out for delivery today" + with_carrier(o) + ".";
  if (o.status == "delivered")
    return "Order " + id + " was delivered on " + o.delivered + with_carrier(o) +
           ". If you cannot find it, please check with neighbours and safe places and wait "
           "24 hours; if it is still missing, reply and we will open an investigation.";
  if (o.status == "delayed")
    return "Order " + id + " was dispatched on " + o.dispatched + with_carrier(o) +
           " but is delayed at the carrier; the new estimated delivery date is " +
           o.estimated_delivery +
           ". We are sorry for the wait. If it has not arrived 3 working days after that "
           "date, reply and we will send a replacement or refund you.";
  if (o.status == "cancelled")
    return "Order " + id +
           " was cancelled. The refund goes back to the original payment method within 3 "
           "to 5 working days of the cancellation.";
  if (o.status == "returned")
    return "Order " + id + " was delivered on " + o.delivered +
           " and has since been returned to us. You can follow the refund under Orders > "
           "Refunds.";
  return "Order " + id + " has the status \"" + o.status + "\".";
}

}  // namespace

scripted_reply scripted_flows::password_recovery() const {
  scripted_reply reply;
  reply.flow = "password_recovery";
  reply.text =
      "To reset your password:\n"
      "1. On the sign-in page choose \"Forgot password\".\n"
      "2. Enter the email address of your account.\n"
      "3. Open the reset email (the link is valid for 60 minutes) and choose a new "
      "password of at least 10 characters.\n"
      "If the email has not arrived after 10 minutes, check your spam folder and whether "
      "you signed up with another address. After 5 wrong attempts the account is locked for "
      "30 minutes. We will never ask you for your password.";
  return reply;
}

scripted_reply scripted_flows::track_order(std::string_view text) const {
  scripted_reply reply;
  reply.flow = "order_tracking";
  auto id = extract_order_id(text);
  if (!id) {
    reply.text =
        "I can look your order up right away: please send me the order number. It starts "
        "with SY- followed by five digits (for example SY-10234) and is in your order "
        "confirmation email and under Orders in your account.";
    return reply;
  }
  reply.order_id = *id;
  const order_record* order = orders_->find(*id);
  if (order == nullptr) {
    reply.text = "I could not find an order with the number " + *id +
                 ". Please check the number in your confirmation email (it starts with SY- "
                 "followed by five digits). If you checked out as a guest with another email "
                 "address, the order is still ours: reply with the number exactly as it "
                 "appears in the email and we will look again.";
    return reply;
  }
  reply.order_found = true;
  reply.text = status_text(*order);
  return reply;
}

std::optional<scripted_reply> scripted_flows::reply(std::string_view route,
                                                    std::string_view text) const {
  if (route == "password_recovery") return password_recovery();
  if (route == "track_order") return track_order(text);
  return std::nullopt;
}

}  // namespace switchyard
