#include "gateway/chat_request.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "router/providers/wire_json.hpp"

namespace switchyard::gateway {

namespace {

using json = nlohmann::json;

// Fields OpenAI defines that Switchyard accepts and does not act on (yet). Anything
// not here and not handled below is rejected: a silently ignored option is a bug
// report waiting to happen.
const char* const ignored_fields[] = {
    "frequency_penalty",   "presence_penalty", "seed",  "user", "logit_bias",
    "parallel_tool_calls", "service_tier",     "store", "n"};

// The JSON type in words, for messages.
std::string kind_of(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    case json::value_t::discarded:
      return "invalid";
    default:
      return "a number";
  }
}

struct parse_failure {
  api_error error;
};

[[noreturn]] void fail(const std::string& param, const std::string& message) {
  throw parse_failure{invalid_request(param, param + ": " + message)};
}

[[noreturn]] void wrong_type(const std::string& param, const char* wanted, const json& got) {
  fail(param, fmt::format("must be {}, got {}", wanted, kind_of(got)));
}

const std::string& as_string(const json& v, const std::string& param) {
  if (!v.is_string()) wrong_type(param, "a string", v);
  return v.get_ref<const std::string&>();
}

bool as_bool(const json& v, const std::string& param) {
  if (!v.is_boolean()) wrong_type(param, "true or false", v);
  return v.get<bool>();
}

uint32_t as_count(const json& v, const std::string& param, uint64_t min, uint64_t max) {
  if (!v.is_number_integer() ||
      (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() < 0) ||
      v.get<uint64_t>() < min || v.get<uint64_t>() > max)
    fail(param, fmt::format("must be an integer from {} to {}, got {}", min, max,
                            v.is_number() ? v.dump() : kind_of(v)));
  return static_cast<uint32_t>(v.get<uint64_t>());
}

double as_number(const json& v, const std::string& param, double min, double max) {
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < min ||
      v.get<double>() > max)
    fail(param, fmt::format("must be a number from {} to {}, got {}", min, max,
                            v.is_number() ? v.dump() : kind_of(v)));
  return v.get<double>();
}

// Message content: a string, null, or an array of parts of which only text is supported.
std::string content_text(const json& v, const std::string& param) {
  if (v.is_null()) return {};
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_array()) wrong_type(param, "a string, an array of parts or null", v);
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    auto at = fmt::format("{}[{}]", param, i);
    const auto& part = v[i];
    if (!part.is_object()) wrong_type(at, "an object", part);
    auto type = part.find("type");
    if (type == part.end()) fail(at + ".type", "is required");
    if (as_string(*type, at + ".type") != "text")
      fail(at + ".type",
           fmt::format("only \"text\" parts are supported, got \"{}\"", type->get<std::string>()));
    auto text = part.find("text");
    if (text == part.end()) fail(at + ".text", "is required");
    out += as_string(*text, at + ".text");
  }
  return out;
}

// The arguments of an assistant's earlier tool call: a JSON object as text.
std::string arguments_text(const json& v, const std::string& param) {
  const auto& text = as_string(v, param);
  if (text.empty()) return "{}";
  auto parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    fail(param, "must be the text of a JSON object");
  return parsed.dump();
}

chat_message parse_message(const json& m, const std::string& at) {
  if (!m.is_object()) wrong_type(at, "an object", m);
  for (const auto& item : m.items()) {
    static const char* const known[] = {"role",       "content",      "name",
                                        "tool_calls", "tool_call_id", "refusal"};
    if (std::find(std::begin(known), std::end(known), item.key()) == std::end(known))
      fail(at + "." + item.key(), "unknown field");
  }
  chat_message out;
  auto role = m.find("role");
  if (role == m.end()) fail(at + ".role", "is required");
  out.role = as_string(*role, at + ".role");
  if (out.role == "developer") out.role = "system";
  if (out.role != "system" && out.role != "user" && out.role != "assistant" && out.role != "tool")
    fail(at + ".role", fmt::format("must be one of system, developer, user, assistant, tool, "
                                   "got \"{}\"",
                                   out.role));
  auto content = m.find("content");
  if (content != m.end())
    out.content = content_text(*content, at + ".content");
  else if (out.role != "assistant")
    fail(at + ".content", "is required");
  if (auto name = m.find("name"); name != m.end()) out.name = as_string(*name, at + ".name");
  if (auto calls = m.find("tool_calls"); calls != m.end() && !calls->is_null()) {
    if (out.role != "assistant")
      fail(at + ".tool_calls", "only assistant messages have tool calls");
    if (!calls->is_array()) wrong_type(at + ".tool_calls", "an array", *calls);
    for (size_t i = 0; i < calls->size(); ++i) {
      auto cat = fmt::format("{}.tool_calls[{}]", at, i);
      const auto& c = (*calls)[i];
      if (!c.is_object()) wrong_type(cat, "an object", c);
      tool_call call;
      auto id = c.find("id");
      if (id == c.end()) fail(cat + ".id", "is required");
      call.id = as_string(*id, cat + ".id");
      if (auto type = c.find("type");
          type != c.end() && as_string(*type, cat + ".type") != "function")
        fail(cat + ".type", "must be \"function\"");
      auto fn = c.find("function");
      if (fn == c.end()) fail(cat + ".function", "is required");
      if (!fn->is_object()) wrong_type(cat + ".function", "an object", *fn);
      auto name = fn->find("name");
      if (name == fn->end()) fail(cat + ".function.name", "is required");
      call.name = as_string(*name, cat + ".function.name");
      auto args = fn->find("arguments");
      call.arguments_json =
          args == fn->end() ? "{}" : arguments_text(*args, cat + ".function.arguments");
      out.tool_calls.push_back(std::move(call));
    }
  }
  if (out.role == "assistant" && content == m.end() && out.tool_calls.empty())
    fail(at + ".content", "is required unless the message has tool_calls");
  if (out.role == "tool") {
    auto id = m.find("tool_call_id");
    if (id == m.end()) fail(at + ".tool_call_id", "is required on tool messages");
    out.tool_call_id = as_string(*id, at + ".tool_call_id");
  } else if (m.contains("tool_call_id")) {
    fail(at + ".tool_call_id", "only tool messages have a tool_call_id");
  }
  return out;
}

tool_definition parse_tool(const json& t, const std::string& at) {
  if (!t.is_object()) wrong_type(at, "an object", t);
  auto type = t.find("type");
  if (type == t.end()) fail(at + ".type", "is required");
  if (as_string(*type, at + ".type") != "function") fail(at + ".type", "must be \"function\"");
  auto fn = t.find("function");
  if (fn == t.end()) fail(at + ".function", "is required");
  if (!fn->is_object()) wrong_type(at + ".function", "an object", *fn);
  tool_definition out;
  auto name = fn->find("name");
  if (name == fn->end()) fail(at + ".function.name", "is required");
  out.name = as_string(*name, at + ".function.name");
  if (out.name.empty() || out.name.size() > 64 ||
      out.name.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != std::string::npos)
    fail(at + ".function.name", "must be 1 to 64 characters of a-z, A-Z, 0-9, _ and -");
  if (auto d = fn->find("description"); d != fn->end())
    out.description = as_string(*d, at + ".function.description");
  if (auto p = fn->find("parameters"); p != fn->end()) {
    if (!p->is_object()) wrong_type(at + ".function.parameters", "a JSON Schema object", *p);
    out.parameters_json = p->dump();
  } else {
    out.parameters_json = R"({"type":"object","properties":{}})";
  }
  return out;
}

void parse_model(const std::string& model, const config& cfg, chat_request& out) {
  out.requested_model = model;
  if (model == "auto") return;
  if (cfg.tier_rank(model) >= 0) {
    out.call.tier = model;
    return;
  }
  if (cfg.find_model(model)) {
    out.call.model = model;
    return;
  }
  auto e = not_found(
      fmt::format("The model `{}` does not exist: use \"auto\", a tier or a model id from "
                  "GET /v1/models",
                  model),
      "model_not_found");
  e.param = "model";
  throw parse_failure{e};
}

// Checks across fields and the capabilities the request needs, once every field is read.
void finish_request(chat_request& out) {
  auto& call = out.call;
  if (call.top_logprobs > 0 && !call.logprobs) fail("top_logprobs", "needs logprobs: true");
  if (!call.tool_choice.empty() && call.tool_choice != "none" && call.tool_choice != "auto" &&
      call.tool_choice != "required") {
    bool offered = std::any_of(call.tools.begin(), call.tools.end(), [&](const tool_definition& t) {
      return t.name == call.tool_choice;
    });
    if (!offered) fail("tool_choice.function.name", "names a tool that is not in tools");
  }
  if (call.tool_choice == "required" && call.tools.empty())
    fail("tool_choice", "\"required\" needs tools");
  // The router only picks models that can do what the request needs.
  auto need = [&](const char* capability) {
    if (std::find(call.capabilities.begin(), call.capabilities.end(), capability) ==
        call.capabilities.end())
      call.capabilities.push_back(capability);
  };
  if (!call.tools.empty() && call.tool_choice != "none") need("tools");
  if (call.json_mode) need("json_mode");
  if (call.logprobs) need("logprobs");
  call.stream = out.stream;
}

void parse_document(const json& doc, const config& cfg, uint32_t default_max_tokens,
                    chat_request& out) {
  if (!doc.is_object()) wrong_type("body", "a JSON object", doc);
  auto& call = out.call;
  call.max_tokens = default_max_tokens;
  bool has_model = false, has_messages = false;
  for (const auto& item : doc.items()) {
    const auto& key = item.key();
    const auto& v = item.value();
    if (key == "model") {
      parse_model(as_string(v, "model"), cfg, out);
      has_model = true;
    } else if (key == "messages") {
      if (!v.is_array()) wrong_type("messages", "an array", v);
      if (v.empty()) fail("messages", "must not be empty");
      for (size_t i = 0; i < v.size(); ++i)
        call.messages.push_back(parse_message(v[i], fmt::format("messages[{}]", i)));
      has_messages = true;
    } else if (key == "max_tokens" || key == "max_completion_tokens") {
      if (!v.is_null()) call.max_tokens = as_count(v, key, 1, 10000000);
    } else if (key == "temperature") {
      if (!v.is_null()) call.temperature = as_number(v, key, 0, 2);
    } else if (key == "top_p") {
      if (!v.is_null()) call.top_p = as_number(v, key, 0, 1);
    } else if (key == "stop") {
      if (v.is_string()) {
        call.stop.push_back(v.get<std::string>());
      } else if (v.is_array()) {
        if (v.size() > 4) fail("stop", "must hold at most 4 sequences");
        for (size_t i = 0; i < v.size(); ++i)
          call.stop.push_back(as_string(v[i], fmt::format("stop[{}]", i)));
      } else if (!v.is_null()) {
        wrong_type("stop", "a string or an array of strings", v);
      }
    } else if (key == "stream") {
      if (!v.is_null()) out.stream = as_bool(v, "stream");
    } else if (key == "stream_options") {
      if (v.is_null()) continue;
      if (!v.is_object()) wrong_type("stream_options", "an object", v);
      for (const auto& o : v.items()) {
        if (o.key() != "include_usage") fail("stream_options." + o.key(), "unknown field");
        out.include_usage = as_bool(o.value(), "stream_options.include_usage");
      }
    } else if (key == "tools") {
      if (v.is_null()) continue;
      if (!v.is_array()) wrong_type("tools", "an array", v);
      for (size_t i = 0; i < v.size(); ++i)
        call.tools.push_back(parse_tool(v[i], fmt::format("tools[{}]", i)));
    } else if (key == "tool_choice") {
      if (v.is_string()) {
        call.tool_choice = v.get<std::string>();
        if (call.tool_choice != "auto" && call.tool_choice != "none" &&
            call.tool_choice != "required")
          fail("tool_choice",
               fmt::format("must be \"auto\", \"none\", \"required\" or "
                           "{{\"type\":\"function\",\"function\":{{\"name\":...}}}}, "
                           "got \"{}\"",
                           call.tool_choice));
      } else if (v.is_object()) {
        auto fn = v.find("function");
        if (fn == v.end() || !fn->is_object() || !fn->contains("name"))
          fail("tool_choice.function.name", "is required");
        call.tool_choice = as_string((*fn)["name"], "tool_choice.function.name");
        if (call.tool_choice == "auto" || call.tool_choice == "none" ||
            call.tool_choice == "required" || call.tool_choice.empty())
          fail("tool_choice.function.name", "must name a tool");
      } else if (!v.is_null()) {
        wrong_type("tool_choice", "a string or an object", v);
      }
    } else if (key == "response_format") {
      if (v.is_null()) continue;
      if (!v.is_object()) wrong_type("response_format", "an object", v);
      auto type = v.find("type");
      if (type == v.end()) fail("response_format.type", "is required");
      const auto& t = as_string(*type, "response_format.type");
      if (t == "json_object" || t == "json_schema")
        call.json_mode = true;
      else if (t != "text")
        fail("response_format.type",
             fmt::format("must be \"text\", \"json_object\" or \"json_schema\", got \"{}\"", t));
    } else if (key == "logprobs") {
      if (!v.is_null()) call.logprobs = as_bool(v, "logprobs");
    } else if (key == "top_logprobs") {
      if (!v.is_null()) call.top_logprobs = as_count(v, key, 0, 20);
    } else if (key == "metadata") {
      if (v.is_null()) continue;
      if (!v.is_object()) wrong_type("metadata", "an object of strings", v);
      for (const auto& m : v.items())
        call.metadata[m.key()] = as_string(m.value(), "metadata." + m.key());
    } else if (key == "n") {
      if (!v.is_null() && as_count(v, "n", 1, 1) != 1) fail("n", "only 1 is supported");
    } else if (std::find(std::begin(ignored_fields), std::end(ignored_fields), key) ==
               std::end(ignored_fields)) {
      // An empty key still needs a name a client can see.
      fail(key.empty() ? "\"\"" : key, "unknown field");
    }
  }
  if (!has_model) fail("model", "is required");
  if (!has_messages) fail("messages", "is required");
  finish_request(out);
}

// Deepest nesting of arrays and objects in `text` (outside strings). Checked before
// parsing: the parser copes with any depth, but serialising a 100,000-deep tools schema
// again would recurse that deep.
size_t nesting_depth(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char ch : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (ch == '\\')
        escaped = true;
      else if (ch == '"')
        in_string = false;
      continue;
    }
    if (ch == '"')
      in_string = true;
    else if (ch == '[' || ch == '{')
      deepest = std::max(deepest, ++depth);
    else if ((ch == ']' || ch == '}') && depth > 0)
      --depth;
  }
  return deepest;
}

constexpr size_t max_nesting = 64;

// The fast path: one SAX pass straight into the request for the common shape (model,
// plain messages, sampling options), without building a DOM first. It stops at anything
// else: tools, content parts, a repeated key, any error. The caller then parses the body
// again with the DOM path above, which alone decides every error, so messages and their
// precedence are the same whichever path a body takes.
class simple_request_reader final : public nlohmann::json_sax<json> {
 public:
  simple_request_reader(const config& cfg, chat_request& out) : cfg_(cfg), out_(out) {}

  bool null() override {
    if (skipping_ > 0) return true;
    switch (take_value()) {
      case field::content: return message_field(message_content);
      case field::max_tokens:
      case field::temperature:
      case field::top_p:
      case field::stop:
      case field::stream:
      case field::n:
      case field::logprobs:
      case field::top_logprobs:
      case field::ignored: return true;
      default: return false;
    }
  }
  bool boolean(bool value) override {
    if (skipping_ > 0) return true;
    switch (take_value()) {
      case field::stream: out_.stream = value; return true;
      case field::logprobs: out_.call.logprobs = value; return true;
      case field::ignored: return true;
      default: return false;
    }
  }
  bool number_integer(number_integer_t value) override {
    // The lexer gives negative integers only here: no count may be negative.
    if (skipping_ > 0) return true;
    return real_number(take_value(), static_cast<double>(value));
  }
  bool number_unsigned(number_unsigned_t value) override {
    if (skipping_ > 0) return true;
    field f = take_value();
    switch (f) {
      case field::max_tokens: return count(value, 1, 10000000, out_.call.max_tokens);
      case field::top_logprobs: return count(value, 0, 20, out_.call.top_logprobs);
      case field::n: return value == 1;
      default: return real_number(f, static_cast<double>(value));
    }
  }
  bool number_float(number_float_t value, const string_t&) override {
    if (skipping_ > 0) return true;
    return real_number(take_value(), value);
  }
  bool string(string_t& value) override {
    if (skipping_ > 0) return true;
    switch (take_value()) {
      case field::model:
        try {
          parse_model(value, cfg_, out_);
        } catch (const parse_failure&) {
          return false;
        }
        return true;
      case field::stop:
        out_.call.stop.push_back(std::move(value));
        return true;
      case field::stop_item:
        if (out_.call.stop.size() == 4) return false;
        out_.call.stop.push_back(std::move(value));
        return true;
      case field::role:
        if (!message_field(message_role)) return false;
        message_.role = std::move(value);
        return true;
      case field::content:
        if (!message_field(message_content)) return false;
        message_.content = std::move(value);
        return true;
      case field::name:
        if (!message_field(message_name)) return false;
        message_.name = std::move(value);
        return true;
      case field::tool_call_id:
        if (!message_field(message_tool_call_id)) return false;
        message_.tool_call_id = std::move(value);
        return true;
      case field::ignored: return true;
      default: return false;
    }
  }
  bool binary(binary_t&) override { return false; }

  bool start_object(std::size_t) override {
    if (skipping_ > 0 || (depth_ > 0 && take_value() == field::ignored)) {
      ++skipping_;
      return true;
    }
    if (depth_ == 0) {
      depth_ = 1;
      return true;
    }
    if (depth_ == 2 && in_messages_) {  // a message
      depth_ = 3;
      message_ = chat_message{};
      message_fields_ = 0;
      return true;
    }
    return false;
  }
  bool key(string_t& name) override {
    if (skipping_ > 0) return true;
    if (depth_ == 1) {
      next_ = top_level_field(name);
      if (next_ == field::unsupported) return false;
      if (next_ == field::ignored) return true;
      unsigned bit = 1u << static_cast<unsigned>(next_);
      if (name == "max_completion_tokens") bit = 1u << 31;  // a second way to say max_tokens
      if (seen_ & bit) return false;                        // a repeated key
      seen_ |= bit;
      // max_tokens and max_completion_tokens together: the DOM path decides.
      if (next_ == field::max_tokens && (seen_ & max_tokens_bits) == max_tokens_bits)
        return false;
      return true;
    }
    if (depth_ == 3) {
      if (name == "role") next_ = field::role;
      else if (name == "content") next_ = field::content;
      else if (name == "name") next_ = field::name;
      else if (name == "tool_call_id") next_ = field::tool_call_id;
      else return false;  // tool_calls, refusal, unknown fields
      return true;
    }
    return false;
  }
  bool end_object() override {
    if (skipping_ > 0) {
      --skipping_;
      return true;
    }
    if (depth_ == 3) {
      depth_ = 2;
      return end_message();
    }
    depth_ = 0;
    return true;
  }
  bool start_array(std::size_t) override {
    if (skipping_ > 0) {
      ++skipping_;
      return true;
    }
    field f = depth_ == 1 ? take_value() : field::unsupported;
    if (f == field::ignored) {
      ++skipping_;
      return true;
    }
    if (f == field::messages) {
      in_messages_ = true;
      depth_ = 2;
      return true;
    }
    if (f == field::stop) {
      in_stop_ = true;
      depth_ = 2;
      return true;
    }
    return false;
  }
  bool end_array() override {
    if (skipping_ > 0) {
      --skipping_;
      return true;
    }
    if (in_messages_ && out_.call.messages.empty()) return false;
    in_messages_ = in_stop_ = false;
    depth_ = 1;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

  bool has_model() const { return seen_ & (1u << static_cast<unsigned>(field::model)); }
  bool has_messages() const { return seen_ & (1u << static_cast<unsigned>(field::messages)); }

 private:
  enum class field : uint8_t {
    model,
    messages,
    max_tokens,
    temperature,
    top_p,
    stop,
    stream,
    n,
    logprobs,
    top_logprobs,
    ignored,
    unsupported,
    // inside an array or a message
    stop_item,
    role,
    content,
    name,
    tool_call_id,
  };
  static constexpr unsigned max_tokens_bits =
      (1u << static_cast<unsigned>(field::max_tokens)) | (1u << 31);
  enum : unsigned {
    message_role = 1,
    message_content = 2,
    message_name = 4,
    message_tool_call_id = 8,
  };

  static field top_level_field(const std::string& name) {
    if (name == "model") return field::model;
    if (name == "messages") return field::messages;
    if (name == "max_tokens" || name == "max_completion_tokens") return field::max_tokens;
    if (name == "temperature") return field::temperature;
    if (name == "top_p") return field::top_p;
    if (name == "stop") return field::stop;
    if (name == "stream") return field::stream;
    if (name == "n") return field::n;
    if (name == "logprobs") return field::logprobs;
    if (name == "top_logprobs") return field::top_logprobs;
    // "n" is handled above; the rest are accepted with any value, as in parse_document.
    if (std::find(std::begin(ignored_fields), std::end(ignored_fields), name) !=
        std::end(ignored_fields))
      return field::ignored;
    return field::unsupported;
  }

  // Which field the value starting now belongs to.
  field take_value() {
    if (depth_ == 2 && in_stop_) return field::stop_item;
    if (depth_ == 2) return field::unsupported;  // a message that is not an object
    return next_;
  }

  // Counts a message's field; a repeated one goes to the DOM path.
  bool message_field(unsigned bit) {
    if (depth_ != 3 || (message_fields_ & bit)) return false;
    message_fields_ |= bit;
    return true;
  }

  bool end_message() {
    std::string& role = message_.role;
    if (!(message_fields_ & message_role)) return false;
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant" && role != "tool") return false;
    // Content is required (assistant messages would need tool calls instead).
    if (!(message_fields_ & message_content)) return false;
    if ((role == "tool") != static_cast<bool>(message_fields_ & message_tool_call_id))
      return false;
    out_.call.messages.push_back(std::move(message_));
    return true;
  }

  static bool count(uint64_t value, uint64_t min, uint64_t max, uint32_t& out) {
    if (value < min || value > max) return false;
    out = static_cast<uint32_t>(value);
    return true;
  }

  bool real_number(field f, double value) {
    if (!std::isfinite(value)) return false;
    switch (f) {
      case field::temperature:
        if (value < 0 || value > 2) return false;
        out_.call.temperature = value;
        return true;
      case field::top_p:
        if (value < 0 || value > 1) return false;
        out_.call.top_p = value;
        return true;
      case field::ignored: return true;
      default: return false;
    }
  }

  const config& cfg_;
  chat_request& out_;
  int depth_ = 0;        // 1: the body, 2: inside messages or stop, 3: inside a message
  size_t skipping_ = 0;  // depth inside a value of an ignored field
  field next_ = field::unsupported;
  unsigned seen_ = 0;  // top-level fields read so far, one bit each
  bool in_messages_ = false;
  bool in_stop_ = false;
  chat_message message_;
  unsigned message_fields_ = 0;
};

api_error parse_with_dom(std::string_view body, const config& cfg, uint32_t default_max_tokens,
                         chat_request& out);

// The fast path; false when the body needs the DOM path. scan_json (the lexer the
// provider replies are read with) sends nlohmann's SAX events at a fraction of its
// lexer's cost, and declines anything deeper than 64 levels, so a body it took needs
// no nesting check of its own.
bool parse_simple_request(std::string_view body, const config& cfg, uint32_t default_max_tokens,
                          chat_request& out) {
  out.call.max_tokens = default_max_tokens;
  simple_request_reader reader(cfg, out);
  if (!scan_json(body, reader)) return false;
  if (!reader.has_model() || !reader.has_messages()) return false;
  try {
    finish_request(out);
  } catch (const parse_failure&) {
    return false;
  }
  return true;
}

}  // namespace

api_error parse_chat_request(std::string_view body, const config& cfg, uint32_t default_max_tokens,
                             chat_request& out) {
  out = chat_request{};
  if (parse_simple_request(body, cfg, default_max_tokens, out)) return {};
  return parse_chat_request_dom(body, cfg, default_max_tokens, out);
}

api_error parse_chat_request_dom(std::string_view body, const config& cfg,
                                 uint32_t default_max_tokens, chat_request& out) {
  out = chat_request{};
  if (nesting_depth(body) > max_nesting)
    return invalid_request("body", fmt::format("body: nests deeper than {} levels", max_nesting),
                           "invalid_json");
  return parse_with_dom(body, cfg, default_max_tokens, out);
}

namespace {

api_error parse_with_dom(std::string_view body, const config& cfg, uint32_t default_max_tokens,
                         chat_request& out) {
  auto doc = json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_discarded()) return invalid_request("body", "body: is not valid JSON", "invalid_json");
  try {
    parse_document(doc, cfg, default_max_tokens, out);
  } catch (const parse_failure& f) {
    return f.error;
  } catch (const json::exception& e) {
    // Defensive: a type check above should have caught it first.
    return invalid_request("body", std::string{"body: "} + e.what());
  }
  return {};
}

}  // namespace

}  // namespace switchyard::gateway
