#include "agents/order_store.hpp"

#include <re2/re2.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace switchyard {

namespace {

const std::set<std::string>& known_statuses() {
  static const std::set<std::string> statuses = {"processing",       "dispatched", "in_transit",
                                                 "out_for_delivery", "delivered",  "delayed",
                                                 "cancelled",        "returned"};
  return statuses;
}

bool is_date(const std::string& s) {
  static const re2::RE2 date(R"(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]))");
  return re2::RE2::FullMatch(s, date);
}

}  // namespace

order_store order_store::parse(std::string_view json_text, const std::string& source,
                               std::vector<std::string>& errors) {
  order_store store;
  nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, false);
  if (doc.is_discarded()) {
    errors.push_back(source + ": not valid JSON");
    return store;
  }
  if (!doc.is_object() || !doc.contains("orders") || !doc["orders"].is_array()) {
    errors.push_back(source + ": orders: must be an array of orders");
    return store;
  }
  static const std::set<std::string> allowed = {
      "id",         "customer",           "status",   "items", "ordered", "carrier", "tracking",
      "dispatched", "estimated_delivery", "delivered"};
  static const re2::RE2 id_shape(R"(SY-\d{5})");
  std::set<std::string> seen;
  const auto& orders = doc["orders"];
  for (size_t i = 0; i < orders.size(); ++i) {
    const std::string path = source + ": orders[" + std::to_string(i) + "]";
    const auto& o = orders[i];
    if (!o.is_object()) {
      errors.push_back(path + ": must be an object, got " + o.dump());
      continue;
    }
    size_t errors_before = errors.size();
    for (const auto& [key, value] : o.items())
      if (!allowed.count(key)) errors.push_back(path + "." + key + ": unknown key");
    order_record record;
    auto text_field = [&](const char* key, std::string& out, bool required) {
      if (!o.contains(key)) {
        if (required) errors.push_back(path + "." + key + ": is required");
        return;
      }
      if (!o[key].is_string() || o[key].get<std::string>().empty()) {
        errors.push_back(path + "." + key + ": must be a non-empty string, got " + o[key].dump());
        return;
      }
      out = o[key].get<std::string>();
    };
    text_field("id", record.id, true);
    text_field("customer", record.customer, true);
    text_field("status", record.status, true);
    text_field("ordered", record.ordered, true);
    text_field("carrier", record.carrier, false);
    text_field("tracking", record.tracking, false);
    text_field("dispatched", record.dispatched, false);
    text_field("estimated_delivery", record.estimated_delivery, false);
    text_field("delivered", record.delivered, false);
    if (!record.id.empty() && !re2::RE2::FullMatch(record.id, id_shape))
      errors.push_back(path + ".id: must look like SY-12345, got \"" + record.id + "\"");
    if (!record.id.empty() && !seen.insert(record.id).second)
      errors.push_back(path + ".id: duplicate order id \"" + record.id + "\"");
    if (!record.status.empty() && !known_statuses().count(record.status))
      errors.push_back(path +
                       ".status: must be one of processing, dispatched, in_transit, "
                       "out_for_delivery, delivered, delayed, cancelled, returned, got \"" +
                       record.status + "\"");
    for (auto [key, value] : {std::pair<const char*, std::string*>{"ordered", &record.ordered},
                              {"dispatched", &record.dispatched},
                              {"estimated_delivery", &record.estimated_delivery},
                              {"delivered", &record.delivered}})
      if (!value->empty() && !is_date(*value))
        errors.push_back(path + "." + key + ": must be a date YYYY-MM-DD, got \"" + *value + "\"");
    if (!o.contains("items")) {
      errors.push_back(path + ".items: is required");
    } else if (!o["items"].is_array() || o["items"].empty()) {
      errors.push_back(path + ".items: must be a non-empty array of strings, got " +
                       o["items"].dump());
    } else {
      for (size_t j = 0; j < o["items"].size(); ++j) {
        if (!o["items"][j].is_string())
          errors.push_back(path + ".items[" + std::to_string(j) + "]: must be a string, got " +
                           o["items"][j].dump());
        else
          record.items.push_back(o["items"][j].get<std::string>());
      }
    }
    if (errors.size() == errors_before) store.orders_.push_back(std::move(record));
  }
  return store;
}

order_store order_store::load_file(const std::string& path, std::vector<std::string>& errors) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors.push_back(path + ": cannot be read");
    return order_store{};
  }
  std::stringstream content;
  content << in.rdbuf();
  return parse(content.str(), path, errors);
}

const order_record* order_store::find(std::string_view id) const {
  for (const auto& o : orders_)
    if (o.id == id) return &o;
  return nullptr;
}

std::optional<std::string> extract_order_id(std::string_view text) {
  // Most specific first: an explicit SY number, then "order 12345" in four languages,
  // then a bare "#12345".
  static const re2::RE2 patterns[] = {
      re2::RE2(R"((?i)\bSY[- ]?(\d{5})\b)"),
      re2::RE2(
          R"((?i)\b(?:order|bestellung|bestellnummer|commande|pedido)\s*(?:number|no\.?|nr\.?|n°|nº|num[eé]ro|n[uú]mero)?\s*[:#]?\s*(\d{5})\b)"),
      re2::RE2(R"(#(\d{5})\b)")};
  re2::StringPiece input(text.data(), text.size());
  for (const auto& pattern : patterns) {
    std::string digits;
    if (re2::RE2::PartialMatch(input, pattern, &digits)) return "SY-" + digits;
  }
  return std::nullopt;
}

}  // namespace switchyard
