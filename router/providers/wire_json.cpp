#include "router/providers/wire_json.hpp"

#include <stdexcept>

#include <algorithm>
#include <limits>

#include "router/cost.hpp"

namespace switchyard {

using json = nlohmann::json;

json parse_object_text(const std::string& text, const std::string& what, const std::string& kind) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded())
    throw wire_error(kind, what + " is not valid JSON: " + body_excerpt(text));
  if (!doc.is_object()) {
    throw wire_error(kind, what + " must be a JSON object, got " + body_excerpt(text));
  }
  return doc;
}

std::string canonical_arguments_text(const std::string& text, const std::string& tool_name) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return "{}";
  json args = parse_object_text(text, "arguments of tool call " + tool_name, "bad_response");
  return args.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string canonical_arguments(const json& args, const std::string& tool_name) {
  if (args.is_null()) return "{}";
  if (!args.is_object()) {
    throw wire_error("bad_response",
                     "arguments of tool call " + tool_name + " must be a JSON object, got " +
                         body_excerpt(args.dump(-1, ' ', false, json::error_handler_t::replace)));
  }
  return args.dump(-1, ' ', false, json::error_handler_t::replace);
}

void set_usage(model_response& response, const model_config& model, uint64_t input_tokens,
               uint64_t output_tokens) {
  constexpr uint64_t max32 = std::numeric_limits<uint32_t>::max();
  response.usage.model_id = model.id;
  response.usage.tier = model.tier;
  response.usage.input_tokens = static_cast<uint32_t>(std::min(input_tokens, max32));
  response.usage.output_tokens = static_cast<uint32_t>(std::min(output_tokens, max32));
  response.usage.cost_usd = call_cost_usd(model, input_tokens, output_tokens);
}

uint64_t count_field(const json& obj, const char* key) {
  if (!obj.is_object()) return 0;
  auto it = obj.find(key);
  if (it == obj.end()) return 0;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer())
    return static_cast<uint64_t>(std::max<int64_t>(0, it->get<int64_t>()));
  if (it->is_number_float()) {
    double x = it->get<double>();
    if (x > 0 && x < 1e18) return static_cast<uint64_t>(x);
  }
  return 0;
}

std::string string_field(const json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

model_response failed_response(const std::string& kind, const std::string& message,
                               uint32_t retry_after_ms) {
  model_response out;
  out.error.kind = kind;
  out.error.message = message;
  out.error.retry_after_ms = retry_after_ms;
  return out;
}

std::string body_excerpt(const std::string& body) {
  constexpr size_t limit = 200;
  if (body.size() <= limit) return body;
  size_t at = limit;
  while (at > 0 && (static_cast<unsigned char>(body[at]) & 0xC0) == 0x80) --at;
  return body.substr(0, at) + "...";
}

nlohmann::json request_object(const std::string& text, const std::string& what) {
  try {
    return parse_object_text(text, what, "bad_request");
  } catch (const wire_error& e) {
    throw std::invalid_argument(e.what());
  }
}

}  // namespace switchyard
