// Specification of the bundled order store and the scripted flows
// (agents/order_store.hpp, agents/scripted_flows.hpp).

#include "agents/order_store.hpp"

#include <catch2/catch.hpp>

#include "agents/pii_scrubber.hpp"
#include "agents/scripted_flows.hpp"

using namespace switchyard;

namespace {

const order_store& bundled_orders() {
  static const order_store store = [] {
    std::vector<std::string> errors;
    auto loaded = order_store::load_file(
        SWITCHYARD_SOURCE_DIR "/examples/knowledge_base/orders.json", errors);
    REQUIRE(errors.empty());
    return loaded;
  }();
  return store;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("orders: the bundled store has 20+ valid orders in every status", "[orders]") {
  CHECK(bundled_orders().size() >= 20);
  for (const char* status : {"processing", "dispatched", "in_transit", "out_for_delivery",
                             "delivered", "delayed", "cancelled", "returned"}) {
    bool found = false;
    for (const auto& o : bundled_orders().orders()) found = found || o.status == status;
    CHECK(found);
  }
  const order_record* o = bundled_orders().find("SY-10238");
  REQUIRE(o != nullptr);
  CHECK(o->status == "dispatched");
  CHECK(o->carrier == "Royal Mail");
  CHECK(bundled_orders().find("SY-99999") == nullptr);
}

TEST_CASE("orders: order ids are found in the ways customers write them", "[orders]") {
  CHECK(extract_order_id("where is SY-10238?") == std::optional<std::string>("SY-10238"));
  CHECK(extract_order_id("sy 10238 has not arrived") == std::optional<std::string>("SY-10238"));
  CHECK(extract_order_id("Order number: 10238") == std::optional<std::string>("SY-10238"));
  CHECK(extract_order_id("my order #10238 is late") == std::optional<std::string>("SY-10238"));
  CHECK(extract_order_id("Bestellung 10238 fehlt") == std::optional<std::string>("SY-10238"));
  CHECK(extract_order_id("ma commande n° 10238") == std::optional<std::string>("SY-10238"));
  CHECK(extract_order_id("mi pedido número 10238") == std::optional<std::string>("SY-10238"));
  CHECK(extract_order_id("ref #10238, thanks") == std::optional<std::string>("SY-10238"));
  CHECK_FALSE(extract_order_id("I ordered 3 items on 2026-11-03 for 102.38 GBP"));
  CHECK_FALSE(extract_order_id("call 020 7946 0958"));
  CHECK_FALSE(extract_order_id(""));
}

TEST_CASE("orders: an order id survives PII scrubbing so tracking still works", "[orders]") {
  pii_scrubber scrubber;
  pii_vault vault;
  auto scrubbed = scrubber.scrub(
      "Hi, it's tom@example.com, order SY-10238 placed 2026-11-03, call +44 20 7946 0958", vault);
  CHECK(extract_order_id(scrubbed.text) == std::optional<std::string>("SY-10238"));
}

TEST_CASE("orders: malformed order files give errors with JSON paths", "[orders]") {
  std::vector<std::string> errors;
  order_store::parse("{nope", "o.json", errors);
  CHECK(errors == std::vector<std::string>{"o.json: not valid JSON"});
  errors.clear();
  auto store = order_store::parse(
      R"({"orders": [
        {"id": "SY-10001", "customer": "A", "status": "delivered", "items": ["x"], "ordered": "2026-11-01"},
        {"id": "10002", "customer": "B", "status": "lost", "items": [], "ordered": "1 Nov", "colour": "red"},
        {"id": "SY-10001", "customer": "C", "status": "processing", "items": ["y"], "ordered": "2026-11-02"}
      ]})",
      "o.json", errors);
  CHECK(store.size() == 1);
  CHECK(errors == std::vector<std::string>{
                      "o.json: orders[1].colour: unknown key",
                      "o.json: orders[1].id: must look like SY-12345, got \"10002\"",
                      "o.json: orders[1].status: must be one of processing, dispatched, "
                      "in_transit, out_for_delivery, delivered, delayed, cancelled, returned, "
                      "got \"lost\"",
                      "o.json: orders[1].ordered: must be a date YYYY-MM-DD, got \"1 Nov\"",
                      "o.json: orders[1].items: must be a non-empty array of strings, got []",
                      "o.json: orders[2].id: duplicate order id \"SY-10001\""});
}

TEST_CASE("scripted: tracking answers with status, carrier and tracking number", "[scripted]") {
  scripted_flows flows(bundled_orders());
  const order_record* o = bundled_orders().find("SY-10238");
  auto reply = flows.track_order("Hello, where is my order SY-10238??");
  CHECK(reply.flow == "order_tracking");
  CHECK(reply.order_found);
  CHECK(reply.order_id == "SY-10238");
  CHECK(contains(reply.text, "dispatched on " + o->dispatched));
  CHECK(contains(reply.text, o->tracking));
  CHECK(contains(reply.text, o->estimated_delivery));
  CHECK_FALSE(contains(reply.text, o->customer));  // never reveals whose order it is
  // Same input, same reply.
  CHECK(flows.track_order("Hello, where is my order SY-10238??").text == reply.text);
}

TEST_CASE("scripted: every status gets an answer that names it plainly", "[scripted]") {
  scripted_flows flows(bundled_orders());
  for (const auto& o : bundled_orders().orders()) {
    auto reply = flows.track_order("order " + o.id);
    CHECK(reply.order_found);
    CHECK(contains(reply.text, "Order " + o.id));
    if (o.status == "delivered") CHECK(contains(reply.text, "was delivered on " + o.delivered));
    if (o.status == "cancelled") CHECK(contains(reply.text, "was cancelled"));
    if (o.status == "delayed") CHECK(contains(reply.text, "delayed"));
    if (o.status == "processing") CHECK(contains(reply.text, "not been dispatched yet"));
    if (o.status == "out_for_delivery") CHECK(contains(reply.text, "out for delivery today"));
  }
}

TEST_CASE("scripted: an unknown or missing order number gets a helpful answer", "[scripted]") {
  scripted_flows flows(bundled_orders());
  auto unknown = flows.track_order("where is SY-99999");
  CHECK_FALSE(unknown.order_found);
  CHECK(unknown.order_id == "SY-99999");
  CHECK(contains(unknown.text, "could not find an order with the number SY-99999"));
  auto missing = flows.track_order("where is my parcel?");
  CHECK(missing.order_id.empty());
  CHECK(contains(missing.text, "please send me the order number"));
}

TEST_CASE("scripted: password recovery gives the reset steps; other routes have no flow",
          "[scripted]") {
  scripted_flows flows(bundled_orders());
  auto reply = flows.reply("password_recovery", "I forgot my password");
  REQUIRE(reply);
  CHECK(reply->flow == "password_recovery");
  CHECK(contains(reply->text, "Forgot password"));
  CHECK(contains(reply->text, "never ask you for your password"));
  REQUIRE(flows.reply("track_order", "SY-10238"));
  CHECK(flows.reply("track_order", "SY-10238")->order_found);
  CHECK_FALSE(flows.reply("complaint", "this is awful"));
}
