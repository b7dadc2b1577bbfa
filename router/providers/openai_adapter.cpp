#include "router/providers/openai_adapter.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "router/providers/error_mapping.hpp"
#include "router/providers/wire_json.hpp"

namespace switchyard::openai_adapter {

namespace {

using json = nlohmann::json;

json wire_message(const chat_message& m, size_t index) {
  std::string at = "messages[" + std::to_string(index) + "]";
  if (m.role == "system" || m.role == "user") {
    return {{"role", m.role}, {"content", m.content}};
  }
  if (m.role == "assistant") {
    json out = {{"role", "assistant"}};
    if (m.tool_calls.empty()) {
      out["content"] = m.content;
      return out;
    }
    // With tool calls and no text, OpenAI expects content null rather than "".
    out["content"] = m.content.empty() ? json(nullptr) : json(m.content);
    json calls = json::array();
    for (size_t i = 0; i < m.tool_calls.size(); ++i) {
      const tool_call& call = m.tool_calls[i];
      std::string what = at + ".tool_calls[" + std::to_string(i) + "].arguments_json";
      json args =
          call.arguments_json.empty() ? json::object() : request_object(call.arguments_json, what);
      calls.push_back({{"id", call.id},
                       {"type", "function"},
                       {"function", {{"name", call.name}, {"arguments", args.dump()}}}});
    }
    out["tool_calls"] = std::move(calls);
    return out;
  }
  if (m.role == "tool") {
    if (m.tool_call_id.empty()) {
      throw std::invalid_argument(at + ": a tool message needs tool_call_id");
    }
    return {{"role", "tool"}, {"tool_call_id", m.tool_call_id}, {"content", m.content}};
  }
  throw std::invalid_argument(at + ".role must be system, user, assistant or tool, got \"" +
                              m.role + "\"");
}

json tool_choice_value(const std::string& choice) {
  if (choice == "auto" || choice == "none" || choice == "required") return choice;
  return {{"type", "function"}, {"function", {{"name", choice}}}};
}


// Appends `text` as nlohmann's dump writes a string (ensure_ascii off). False, with
// nothing promised about `out`, when `text` is not valid UTF-8.
bool append_wire_string(std::string& out, std::string_view text) {
  out += '"';
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    size_t plain = i;
    while (plain < n && p[plain] >= 0x20 && p[plain] < 0x80 && p[plain] != '"' &&
           p[plain] != '\\')
      ++plain;
    out.append(text.data() + i, plain - i);
    i = plain;
    if (i == n) break;
    unsigned char c = p[i];
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default: {
          static const char hex[] = "0123456789abcdef";
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xF];
        }
      }
      ++i;
      continue;
    }
    // Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, up to U+10FFFF).
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) return false;
    for (size_t k = 2; k < len; ++k)
      if ((p[i + k] & 0xC0) != 0x80) return false;
    out.append(text.data() + i, len);
    i += len;
  }
  out += '"';
  return true;
}

// nlohmann's text of a double (shortest round-trip form; "null" when not finite).
void append_wire_number(std::string& out, double x) { out += json(x).dump(); }

// The request body written straight into a string, byte for byte what request_body_dom
// dumps: nlohmann objects keep their keys sorted, so every object here writes its keys
// in that order. Throws what request_body_dom throws; false when some text is not valid
// UTF-8 (the caller then uses request_body_dom).
bool write_request_body(const model_request& req, const model_config& model, std::string& out) {
  bool valid = true;
  auto text = [&](std::string_view s) { valid = append_wire_string(out, s) && valid; };
  bool first = true;
  auto field = [&](const char* name) {
    if (!first) out += ',';
    first = false;
    out += '"';
    out += name;
    out += "\":";
  };
  out.reserve(256);
  out += '{';
  if (req.logprobs) {
    field("logprobs");
    out += "true";
  }
  field("max_tokens");
  out += std::to_string(req.max_tokens);
  field("messages");
  out += '[';
  for (size_t i = 0; i < req.messages.size(); ++i) {
    const chat_message& m = req.messages[i];
    if (i > 0) out += ',';
    if (m.role == "system" || m.role == "user" ||
        (m.role == "assistant" && m.tool_calls.empty())) {
      out += "{\"content\":";
      text(m.content);
      out += ",\"role\":";
      text(m.role);
      out += '}';
    } else if (m.role == "assistant") {
      out += "{\"content\":";
      // With tool calls and no text, OpenAI expects content null rather than "".
      if (m.content.empty()) {
        out += "null";
      } else {
        text(m.content);
      }
      out += ",\"role\":\"assistant\",\"tool_calls\":[";
      for (size_t k = 0; k < m.tool_calls.size(); ++k) {
        const tool_call& call = m.tool_calls[k];
        std::string arguments = "{}";
        if (!call.arguments_json.empty()) {
          std::string what = "messages[" + std::to_string(i) + "].tool_calls[" +
                             std::to_string(k) + "].arguments_json";
          arguments = request_object(call.arguments_json, what).dump();
        }
        if (k > 0) out += ',';
        out += "{\"function\":{\"arguments\":";
        text(arguments);
        out += ",\"name\":";
        text(call.name);
        out += "},\"id\":";
        text(call.id);
        out += ",\"type\":\"function\"}";
      }
      out += "]}";
    } else if (m.role == "tool" && !m.tool_call_id.empty()) {
      out += "{\"content\":";
      text(m.content);
      out += ",\"role\":\"tool\",\"tool_call_id\":";
      text(m.tool_call_id);
      out += '}';
    } else {
      wire_message(m, i);  // throws the reason this message cannot be sent
    }
  }
  out += ']';
  field("model");
  text(model.wire_name());
  if (req.json_mode) {
    field("response_format");
    out += "{\"type\":\"json_object\"}";
  }
  if (!req.stop.empty()) {
    field("stop");
    out += '[';
    for (size_t i = 0; i < req.stop.size(); ++i) {
      if (i > 0) out += ',';
      text(req.stop[i]);
    }
    out += ']';
  }
  if (req.stream) {
    field("stream");
    out += "true";
    field("stream_options");
    out += "{\"include_usage\":true}";
  }
  if (req.temperature >= 0) {
    field("temperature");
    append_wire_number(out, req.temperature);
  }
  if (!req.tool_choice.empty()) {
    field("tool_choice");
    const std::string& choice = req.tool_choice;
    if (choice == "auto" || choice == "none" || choice == "required") {
      text(choice);
    } else {
      out += "{\"function\":{\"name\":";
      text(choice);
      out += "},\"type\":\"function\"}";
    }
  }
  if (!req.tools.empty()) {
    field("tools");
    out += '[';
    for (size_t i = 0; i < req.tools.size(); ++i) {
      const tool_definition& tool = req.tools[i];
      if (tool.name.empty()) {
        throw std::invalid_argument("tools[" + std::to_string(i) + "].name must not be empty");
      }
      if (i > 0) out += ',';
      out += "{\"function\":{";
      if (!tool.description.empty()) {
        out += "\"description\":";
        text(tool.description);
        out += ',';
      }
      out += "\"name\":";
      text(tool.name);
      out += ",\"parameters\":";
      if (tool.parameters_json.empty()) {
        out += "{\"properties\":{},\"type\":\"object\"}";
      } else {
        out += request_object(tool.parameters_json,
                              "tools[" + std::to_string(i) + "].parameters_json")
                   .dump(-1, ' ', false, json::error_handler_t::replace);
      }
      out += "},\"type\":\"function\"}";
    }
    out += ']';
  }
  if (req.logprobs && req.top_logprobs > 0) {
    field("top_logprobs");
    out += std::to_string(req.top_logprobs);
  }
  if (req.top_p >= 0) {
    field("top_p");
    append_wire_number(out, req.top_p);
  }
  out += '}';
  return valid;
}
}  // namespace

std::string normalise_finish_reason(const std::string& reason) {
  if (reason == "function_call") return "tool_calls";
  std::string out;
  for (char c : reason) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

nlohmann::json request_body_dom(const model_request& req, const model_config& model) {
  json body = {{"model", model.wire_name()}, {"max_tokens", req.max_tokens}};
  json messages = json::array();
  for (size_t i = 0; i < req.messages.size(); ++i)
    messages.push_back(wire_message(req.messages[i], i));
  body["messages"] = std::move(messages);
  if (req.temperature >= 0) body["temperature"] = req.temperature;
  if (req.top_p >= 0) body["top_p"] = req.top_p;
  if (!req.stop.empty()) body["stop"] = req.stop;
  if (req.json_mode) body["response_format"] = {{"type", "json_object"}};
  if (req.logprobs) {
    body["logprobs"] = true;
    if (req.top_logprobs > 0) body["top_logprobs"] = req.top_logprobs;
  }
  if (!req.tools.empty()) {
    json tools = json::array();
    for (size_t i = 0; i < req.tools.size(); ++i) {
      const tool_definition& tool = req.tools[i];
      if (tool.name.empty()) {
        throw std::invalid_argument("tools[" + std::to_string(i) + "].name must not be empty");
      }
      json fn = {{"name", tool.name}};
      if (!tool.description.empty()) fn["description"] = tool.description;
      fn["parameters"] = tool.parameters_json.empty()
                             ? json{{"type", "object"}, {"properties", json::object()}}
                             : request_object(tool.parameters_json,
                                               "tools[" + std::to_string(i) + "].parameters_json");
      tools.push_back({{"type", "function"}, {"function", std::move(fn)}});
    }
    body["tools"] = std::move(tools);
  }
  if (!req.tool_choice.empty()) body["tool_choice"] = tool_choice_value(req.tool_choice);
  if (req.stream) {
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
  }
  return body;
}

http_request build_request(const model_request& req, const model_config& model,
                           const provider_config& provider, const std::string& api_key) {
  const char* accept = req.stream ? "text/event-stream" : "application/json";
  std::string body;
  if (write_request_body(req, model, body)) {
    return openai_post("/chat/completions", accept, provider, api_key, std::move(body));
  }
  // Text that is not valid UTF-8: nlohmann's dump replaces the bad bytes, its way.
  return openai_post("/chat/completions", accept, provider, api_key, request_body_dom(req, model));
}

http_request openai_post(const std::string& path, const char* accept,
                         const provider_config& provider, const std::string& api_key,
                         std::string body) {
  http_request out;
  out.method = "POST";
  out.target = path;
  bool azure = !provider.api_version.empty();
  if (azure) out.target += "?api-version=" + provider.api_version;
  out.headers.emplace_back("Content-Type", "application/json");
  out.headers.emplace_back("Accept", accept);
  if (!api_key.empty()) {
    if (azure) {
      out.headers.emplace_back("api-key", api_key);
    } else {
      out.headers.emplace_back("Authorization", "Bearer " + api_key);
    }
  }
  for (const auto& header : provider.headers) out.headers.push_back(header);
  out.body = std::move(body);
  return out;
}

http_request openai_post(const std::string& path, const char* accept,
                         const provider_config& provider, const std::string& api_key,
                         const json& body) {
  return openai_post(path, accept, provider, api_key,
                     body.dump(-1, ' ', false, json::error_handler_t::replace));
}

namespace {

// The fields of a chat-completion reply the adapter reads, filled by one SAX pass over
// the body (no DOM: building one cost ~40,000 instructions per call, most of the reply
// parse). Semantics follow the DOM reader exactly: a field of the wrong type counts as
// absent, and a repeated key counts once, with its last value.
struct reply_tool_call {
  bool function_object = false;
  std::string id;
  std::string name;
  enum class arguments_kind : uint8_t { other, text, object } arguments = arguments_kind::other;
  std::string arguments_text;
  json arguments_object;  // only for servers (Ollama) that send arguments as an object
};

struct reply_fields {
  bool error_present = false;  // a non-null top-level "error"
  bool first_choice_object = false;
  bool message_object = false;
  std::string text;
  std::string finish_reason;
  std::vector<reply_tool_call> tool_calls;
  std::vector<token_logprob> logprobs;
  uint64_t prompt_tokens = 0;
  uint64_t completion_tokens = 0;
};

// Where a value sits in the reply, for the parts the adapter reads.
enum class slot : uint8_t {
  ignored,
  root,
  error,
  choices,
  usage,
  first_choice,
  message,
  finish_reason,
  logprobs,
  content,
  tool_calls,
  tool_call,
  call_id,
  function,
  name,
  arguments,
  logprob_items,
  logprob_item,
  token,
  logprob,
  prompt_tokens,
  completion_tokens,
};

// A container being read: which part of the reply it is, the slot of the value its
// latest key names (objects), and how many elements it has had (arrays).
struct frame {
  slot what;
  slot key = slot::ignored;
  size_t elements = 0;
};

// count_field's reading of a number.
uint64_t token_count(int64_t x) { return static_cast<uint64_t>(std::max<int64_t>(0, x)); }
uint64_t token_count(double x) { return x > 0 && x < 1e18 ? static_cast<uint64_t>(x) : 0; }

class reply_reader final : public nlohmann::json_sax<json> {
 public:
  explicit reply_reader(reply_fields& out) : out_(out) {}

  bool root_object() const { return root_object_; }

  bool null() override {
    if (capturing()) return capture(json(nullptr));
    if (next_value() == slot::error) out_.error_present = false;
    return true;
  }
  bool boolean(bool value) override {
    if (capturing()) return capture(json(value));
    next_value();
    return true;
  }
  bool number_integer(number_integer_t value) override {
    if (capturing()) return capture(json(value));
    number(next_value(), static_cast<double>(value), token_count(value));
    return true;
  }
  bool number_unsigned(number_unsigned_t value) override {
    if (capturing()) return capture(json(value));
    number(next_value(), static_cast<double>(value), value);
    return true;
  }
  bool number_float(number_float_t value, const string_t&) override {
    if (capturing()) return capture(json(value));
    number(next_value(), value, token_count(value));
    return true;
  }
  bool string(string_t& value) override {
    if (capturing()) return capture(json(std::move(value)));
    switch (next_value()) {
      case slot::content: out_.text = std::move(value); break;
      case slot::finish_reason: out_.finish_reason = std::move(value); break;
      case slot::call_id: out_.tool_calls.back().id = std::move(value); break;
      case slot::name: out_.tool_calls.back().name = std::move(value); break;
      case slot::arguments: {
        reply_tool_call& call = out_.tool_calls.back();
        call.arguments = reply_tool_call::arguments_kind::text;
        call.arguments_text = std::move(value);
        break;
      }
      case slot::token: item_token_ = std::move(value); break;
      default: break;
    }
    return true;
  }
  bool binary(binary_t&) override { return true; }  // never produced by the JSON lexer

  bool start_object(std::size_t) override {
    if (capturing()) return open_captured(json::object());
    slot what = next_value();
    switch (what) {
      case slot::root: root_object_ = true; break;
      case slot::first_choice: out_.first_choice_object = true; break;
      case slot::message: out_.message_object = true; break;
      case slot::function: out_.tool_calls.back().function_object = true; break;
      case slot::logprob_item:
        item_token_.clear();
        item_has_logprob_ = false;
        break;
      case slot::arguments: {
        reply_tool_call& call = out_.tool_calls.back();
        call.arguments = reply_tool_call::arguments_kind::object;
        call.arguments_object = json::object();
        captured_.push_back(&call.arguments_object);
        return true;
      }
      default:
        if (!object_slot(what)) what = slot::ignored;
        break;
    }
    stack_.push_back({what});
    return true;
  }

  bool key(string_t& name) override {
    if (capturing()) {
      pending_key_ = std::move(name);
      return true;
    }
    frame& top = stack_.back();
    top.key = key_slot(top.what, name);
    forget(top.key);
    return true;
  }

  bool end_object() override {
    if (capturing()) {
      captured_.pop_back();
      return true;
    }
    if (stack_.back().what == slot::logprob_item && item_has_logprob_) {
      out_.logprobs.push_back({std::move(item_token_), item_logprob_});
    }
    stack_.pop_back();
    return true;
  }

  bool start_array(std::size_t) override {
    if (capturing()) return open_captured(json::array());
    slot what = next_value();
    if (what != slot::choices && what != slot::tool_calls && what != slot::logprob_items) {
      what = slot::ignored;
    }
    stack_.push_back({what});
    return true;
  }

  bool end_array() override {
    if (capturing()) {
      captured_.pop_back();
      return true;
    }
    stack_.pop_back();
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool capturing() const { return !captured_.empty(); }

  // Adds a value inside a captured arguments object.
  json* place(json value) {
    json& parent = *captured_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    json& slot_value = parent[pending_key_];  // a repeated key keeps its last value
    slot_value = std::move(value);
    return &slot_value;
  }
  bool capture(json value) {
    place(std::move(value));
    return true;
  }
  bool open_captured(json container) {
    captured_.push_back(place(std::move(container)));
    return true;
  }

  static bool object_slot(slot what) {
    return what == slot::usage || what == slot::logprobs || what == slot::tool_call;
  }

  // The slot of the value that starts now, and the bookkeeping its position needs.
  slot next_value() {
    if (stack_.empty()) return slot::root;
    frame& top = stack_.back();
    switch (top.what) {
      case slot::choices: return top.elements++ == 0 ? slot::first_choice : slot::ignored;
      case slot::tool_calls:
        out_.tool_calls.emplace_back();
        return slot::tool_call;
      case slot::logprob_items: return slot::logprob_item;
      case slot::ignored: return slot::ignored;
      default: return top.key;
    }
  }

  void number(slot where, double value, uint64_t count) {
    switch (where) {
      case slot::logprob:
        item_logprob_ = value;
        item_has_logprob_ = true;
        break;
      case slot::prompt_tokens: out_.prompt_tokens = count; break;
      case slot::completion_tokens: out_.completion_tokens = count; break;
      default: break;
    }
  }

  static slot key_slot(slot object, const std::string& name) {
    switch (object) {
      case slot::root:
        if (name == "choices") return slot::choices;
        if (name == "usage") return slot::usage;
        if (name == "error") return slot::error;
        return slot::ignored;
      case slot::first_choice:
        if (name == "message") return slot::message;
        if (name == "finish_reason") return slot::finish_reason;
        if (name == "logprobs") return slot::logprobs;
        return slot::ignored;
      case slot::message:
        if (name == "content") return slot::content;
        if (name == "tool_calls") return slot::tool_calls;
        return slot::ignored;
      case slot::tool_call:
        if (name == "id") return slot::call_id;
        if (name == "function") return slot::function;
        return slot::ignored;
      case slot::function:
        if (name == "name") return slot::name;
        if (name == "arguments") return slot::arguments;
        return slot::ignored;
      case slot::logprobs: return name == "content" ? slot::logprob_items : slot::ignored;
      case slot::logprob_item:
        if (name == "token") return slot::token;
        if (name == "logprob") return slot::logprob;
        return slot::ignored;
      case slot::usage:
        if (name == "prompt_tokens") return slot::prompt_tokens;
        if (name == "completion_tokens") return slot::completion_tokens;
        return slot::ignored;
      default: return slot::ignored;
    }
  }

  // A key seen again replaces what its earlier value set, as in a DOM.
  void forget(slot what) {
    switch (what) {
      case slot::error: out_.error_present = true; break;  // cleared by a null value
      case slot::choices:
        out_.first_choice_object = false;
        forget(slot::message);
        out_.finish_reason.clear();
        out_.logprobs.clear();
        break;
      case slot::usage:
        out_.prompt_tokens = 0;
        out_.completion_tokens = 0;
        break;
      case slot::message:
        out_.message_object = false;
        out_.text.clear();
        out_.tool_calls.clear();
        break;
      case slot::finish_reason: out_.finish_reason.clear(); break;
      case slot::logprobs:
      case slot::logprob_items: out_.logprobs.clear(); break;
      case slot::content: out_.text.clear(); break;
      case slot::tool_calls: out_.tool_calls.clear(); break;
      case slot::call_id: out_.tool_calls.back().id.clear(); break;
      case slot::function: {
        reply_tool_call& call = out_.tool_calls.back();
        call.function_object = false;
        call.name.clear();
        call.arguments = reply_tool_call::arguments_kind::other;
        break;
      }
      case slot::name: out_.tool_calls.back().name.clear(); break;
      case slot::arguments:
        out_.tool_calls.back().arguments = reply_tool_call::arguments_kind::other;
        break;
      case slot::token: item_token_.clear(); break;
      case slot::logprob: item_has_logprob_ = false; break;
      case slot::prompt_tokens: out_.prompt_tokens = 0; break;
      case slot::completion_tokens: out_.completion_tokens = 0; break;
      default: break;
    }
  }

  reply_fields& out_;
  bool root_object_ = false;
  std::vector<frame> stack_;
  std::string item_token_;
  double item_logprob_ = 0;
  bool item_has_logprob_ = false;
  std::vector<json*> captured_;  // open containers of a captured arguments object
  std::string pending_key_;
};

}  // namespace

static model_response parse_unredacted(int http_status, const http_headers& headers,
                                       const std::string& body, const model_config& model,
                                       const std::string& api_key) {
  if (http_status < 200 || http_status > 299) {
    model_error e = classify_http_error(wire_format::openai, http_status, headers, body);
    return failed_response(e.kind, redacted(e.message, api_key), e.retry_after_ms);
  }
  reply_fields reply;
  bool parsed = false;
  bool root_object = false;
  {
    reply_reader reader(reply);
    parsed = scan_json(body, reader);  // nlohmann's lexer alone cost ~22,000 instructions
    root_object = reader.root_object();
  }
  if (!parsed) {
    // Malformed, or something the scanner leaves to nlohmann: its parse decides.
    reply = reply_fields{};
    reply_reader reader(reply);
    parsed = json::sax_parse(body, &reader);
    root_object = reader.root_object();
  }
  if (!parsed || !root_object) {
    return failed_response("bad_response",
                           "openai: response is not a JSON object: " + body_excerpt(body));
  }
  if (reply.error_present) {
    // OpenRouter and some proxies report upstream failures inside a 200.
    model_error e = classify_http_error(wire_format::openai, http_status, headers, body);
    if (e.kind == "bad_response") e.kind = "server_error";
    return failed_response(e.kind, redacted(e.message, api_key), e.retry_after_ms);
  }
  if (!reply.first_choice_object) {
    return failed_response("bad_response", "openai: response has no choices: " + body_excerpt(body));
  }
  if (!reply.message_object) {
    return failed_response("bad_response",
                           "openai: choices[0] has no message object: " + body_excerpt(body));
  }
  try {
    model_response out;
    out.text = std::move(reply.text);
    out.tool_calls.reserve(reply.tool_calls.size());
    for (reply_tool_call& call : reply.tool_calls) {
      if (!call.function_object) {
        return failed_response("bad_response", "openai: a tool call has no function object");
      }
      tool_call canonical;
      canonical.id = std::move(call.id);
      canonical.name = std::move(call.name);
      if (canonical.name.empty()) {
        return failed_response("bad_response", "openai: a tool call has no function name");
      }
      if (call.arguments == reply_tool_call::arguments_kind::object) {
        canonical.arguments_json = canonical_arguments(call.arguments_object, canonical.name);
      } else {
        // Anything but a string or an object reads as no arguments, like an empty string.
        bool text = call.arguments == reply_tool_call::arguments_kind::text;
        canonical.arguments_json =
            canonical_arguments_text(text ? call.arguments_text : std::string(), canonical.name);
      }
      out.tool_calls.push_back(std::move(canonical));
    }
    out.finish_reason = normalise_finish_reason(reply.finish_reason);
    // Some servers (Ollama) say "stop" even when the reply is a tool call.
    if (!out.tool_calls.empty() && (out.finish_reason == "stop" || out.finish_reason.empty())) {
      out.finish_reason = "tool_calls";
    }
    if (out.finish_reason.empty()) out.finish_reason = "stop";
    out.logprobs = std::move(reply.logprobs);
    if (out.finish_reason == "content_filter" && out.text.empty() && out.tool_calls.empty()) {
      return failed_response("content_filter",
                             "openai: the reply was withheld by the provider's content filter");
    }
    set_usage(out, model, reply.prompt_tokens, reply.completion_tokens);
    return out;
  } catch (const wire_error& e) {
    return failed_response(e.kind(), std::string("openai: ") + e.what());
  }
}

// Every error message passes through here: a provider may echo the key anywhere in a
// body we quote (a malformed 200 included).
model_response parse_response(int http_status, const http_headers& headers, const std::string& body,
                              const model_config& model, const std::string& api_key) {
  model_response out = parse_unredacted(http_status, headers, body, model, api_key);
  redact_secret(out.error.message, api_key);
  return out;
}

}  // namespace switchyard::openai_adapter
