#include "stub/stub_server.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <list>
#include <set>
#include <thread>

namespace switchyard {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;

// -- script -----------------------------------------------------------------------

namespace {

const std::vector<std::string> behaviours = {
    "ok",          "rate_limited", "server_error",   "overloaded",   "unauthorized",
    "bad_request", "context_length", "hang",         "malformed_json", "cut_stream",
    "missing_terminator", "error_in_200"};

std::string join(const std::vector<std::string>& xs) {
  std::string out;
  for (const auto& x : xs) out += (out.empty() ? "" : ", ") + x;
  return out;
}

bool check_keys(const json& obj, const std::string& path, const std::vector<std::string>& allowed,
                std::string& error) {
  if (!obj.is_object()) {
    error = fmt::format("{}: must be an object, got {}", path, obj.dump());
    return false;
  }
  for (const auto& [key, value] : obj.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      error = fmt::format("{}.{}: unknown key (allowed: {})", path, key, join(allowed));
      return false;
    }
  }
  return true;
}

bool read_uint(const json& obj, const char* key, const std::string& path, uint32_t& out,
               std::string& error) {
  if (!obj.contains(key)) return true;
  const auto& v = obj[key];
  if (!v.is_number_unsigned()) {
    error = fmt::format("{}.{}: must be an integer >= 0, got {}", path, key, v.dump());
    return false;
  }
  out = v.get<uint32_t>();
  return true;
}

/// `obj.behaviour`: one of `behaviours`.
bool read_behaviour(const json& obj, const std::string& path, std::string& out,
                    std::string& error) {
  if (!obj.contains("behaviour") || !obj["behaviour"].is_string() ||
      std::find(behaviours.begin(), behaviours.end(), obj["behaviour"].get<std::string>()) ==
          behaviours.end()) {
    error = fmt::format("{}.behaviour: must be one of {}, got {}", path, join(behaviours),
                        obj.contains("behaviour") ? obj["behaviour"].dump() : "nothing");
    return false;
  }
  out = obj["behaviour"].get<std::string>();
  return true;
}

}  // namespace

std::optional<stub_script> parse_stub_script(const json& doc, std::string& error) {
  stub_script script;
  if (!check_keys(doc, "script", {"models", "keys"}, error)) return std::nullopt;
  if (doc.contains("keys")) {
    if (!doc["keys"].is_object()) {
      error = "script.keys: must be an object keyed by API key";
      return std::nullopt;
    }
    for (const auto& [secret, s] : doc["keys"].items()) {
      // The path names the key by position: the script holds test secrets, but a
      // message should not echo one.
      std::string spath = fmt::format("keys[{}]", script.keys.size());
      stub_step step;
      if (!check_keys(s, spath, {"behaviour", "retry_after_s"}, error)) return std::nullopt;
      if (!read_behaviour(s, spath, step.behaviour, error)) return std::nullopt;
      if (!read_uint(s, "retry_after_s", spath, step.retry_after_s, error)) return std::nullopt;
      script.keys[secret] = step;
    }
  }
  if (!doc.contains("models")) return script;
  if (!doc["models"].is_object()) {
    error = fmt::format("script.models: must be an object keyed by model id, got {}",
                        doc["models"].dump());
    return std::nullopt;
  }
  for (const auto& [id, m] : doc["models"].items()) {
    std::string path = "models." + id;
    stub_model_script model;
    if (!check_keys(m, path, {"latency_ms", "chunk_delay_ms", "reply", "tool_calls", "sequence"},
                    error))
      return std::nullopt;
    if (!read_uint(m, "latency_ms", path, model.latency_ms, error) ||
        !read_uint(m, "chunk_delay_ms", path, model.chunk_delay_ms, error))
      return std::nullopt;
    if (m.contains("reply")) {
      if (!m["reply"].is_string()) {
        error = fmt::format("{}.reply: must be a string, got {}", path, m["reply"].dump());
        return std::nullopt;
      }
      model.reply = m["reply"].get<std::string>();
    }
    if (m.contains("tool_calls")) {
      if (!m["tool_calls"].is_boolean()) {
        error = fmt::format("{}.tool_calls: must be true or false, got {}", path,
                            m["tool_calls"].dump());
        return std::nullopt;
      }
      model.tool_calls = m["tool_calls"].get<bool>();
    }
    if (m.contains("sequence")) {
      if (!m["sequence"].is_array()) {
        error = fmt::format("{}.sequence: must be an array, got {}", path, m["sequence"].dump());
        return std::nullopt;
      }
      for (size_t i = 0; i < m["sequence"].size(); ++i) {
        const auto& s = m["sequence"][i];
        std::string spath = fmt::format("{}.sequence[{}]", path, i);
        stub_step step;
        if (!check_keys(s, spath, {"behaviour", "times", "retry_after_s"}, error))
          return std::nullopt;
        if (!read_behaviour(s, spath, step.behaviour, error)) return std::nullopt;
        if (!read_uint(s, "times", spath, step.times, error) ||
            !read_uint(s, "retry_after_s", spath, step.retry_after_s, error))
          return std::nullopt;
        model.sequence.push_back(step);
      }
    }
    script.models[id] = std::move(model);
  }
  return script;
}

std::string stub_request::header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (beast::iequals(k, name)) return v;
  return {};
}

namespace {

// The secret a request carries, in whichever header its wire format uses.
std::string api_key_of(const stub_request& r) {
  std::string auth = r.header("authorization");
  if (auth.rfind("Bearer ", 0) == 0) return auth.substr(7);
  if (auto k = r.header("x-api-key"); !k.empty()) return k;
  if (auto k = r.header("api-key"); !k.empty()) return k;
  return r.header("x-goog-api-key");
}

}  // namespace

// -- wire formats -------------------------------------------------------------------

namespace {

enum class wire { openai, anthropic, gemini };

// What the stub understood of a request, whatever its format.
struct parsed_call {
  wire format = wire::openai;
  std::string model;
  bool stream = false;
  bool include_usage = false;
  std::string last_user_text;
  std::string last_tool_result;  // non-empty when the last message is a tool result
  std::string first_tool;        // name of the first tool offered; empty: none
  uint32_t max_tokens = 0;       // 0: no limit
  uint32_t prompt_chars = 0;
};

std::string text_of(const json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  if (content.is_array())
    for (const auto& part : content)
      if (part.is_object() && part.contains("text") && part["text"].is_string())
        out += part["text"].get<std::string>();
  return out;
}

uint32_t count_chars(const json& j) { return static_cast<uint32_t>(j.dump().size()); }

void parse_openai(const json& body, parsed_call& c) {
  c.model = body.value("model", "");
  c.stream = body.value("stream", false);
  if (body.contains("stream_options") && body["stream_options"].is_object())
    c.include_usage = body["stream_options"].value("include_usage", false);
  c.max_tokens = body.value("max_completion_tokens", body.value("max_tokens", 0u));
  if (body.contains("messages") && body["messages"].is_array()) {
    c.prompt_chars = count_chars(body["messages"]);
    for (const auto& m : body["messages"]) {
      if (!m.is_object()) continue;
      auto role = m.value("role", "");
      if (role == "user") c.last_user_text = text_of(m.value("content", json{}));
      c.last_tool_result = role == "tool" ? text_of(m.value("content", json{})) : "";
    }
  }
  if (body.contains("tools") && body["tools"].is_array() && !body["tools"].empty()) {
    const auto& t = body["tools"][0];
    if (t.contains("function") && t["function"].is_object())
      c.first_tool = t["function"].value("name", "");
  }
}

void parse_anthropic(const json& body, parsed_call& c) {
  c.format = wire::anthropic;
  c.model = body.value("model", "");
  c.stream = body.value("stream", false);
  c.max_tokens = body.value("max_tokens", 0u);
  if (body.contains("messages") && body["messages"].is_array()) {
    c.prompt_chars = count_chars(body["messages"]) + count_chars(body.value("system", json{}));
    for (const auto& m : body["messages"]) {
      if (!m.is_object()) continue;
      c.last_tool_result.clear();
      const auto& content = m.contains("content") ? m["content"] : json{};
      if (m.value("role", "") != "user") continue;
      if (content.is_array()) {
        for (const auto& block : content)
          if (block.is_object() && block.value("type", "") == "tool_result")
            c.last_tool_result = text_of(block.value("content", json{}));
      }
      if (c.last_tool_result.empty()) c.last_user_text = text_of(content);
    }
  }
  if (body.contains("tools") && body["tools"].is_array() && !body["tools"].empty())
    c.first_tool = body["tools"][0].value("name", "");
}

void parse_gemini(const json& body, parsed_call& c) {
  c.format = wire::gemini;
  if (body.contains("generationConfig") && body["generationConfig"].is_object())
    c.max_tokens = body["generationConfig"].value("maxOutputTokens", 0u);
  if (body.contains("contents") && body["contents"].is_array()) {
    c.prompt_chars = count_chars(body["contents"]);
    for (const auto& m : body["contents"]) {
      if (!m.is_object() || !m.contains("parts") || !m["parts"].is_array()) continue;
      c.last_tool_result.clear();
      if (m.value("role", "user") != "user") continue;
      std::string text;
      for (const auto& part : m["parts"]) {
        if (!part.is_object()) continue;
        if (part.contains("text") && part["text"].is_string())
          text += part["text"].get<std::string>();
        if (part.contains("functionResponse"))
          c.last_tool_result = part["functionResponse"].value("response", json{}).dump();
      }
      if (c.last_tool_result.empty()) c.last_user_text = text;
    }
  }
  if (body.contains("tools") && body["tools"].is_array() && !body["tools"].empty()) {
    const auto& t = body["tools"][0];
    if (t.contains("functionDeclarations") && t["functionDeclarations"].is_array() &&
        !t["functionDeclarations"].empty())
      c.first_tool = t["functionDeclarations"][0].value("name", "");
  }
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::string cur;
  for (char ch : text) {
    cur += ch;
    if (ch == ' ') {
      words.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

// The answer the stub gives, before it is dressed in a wire format.
struct answer {
  std::vector<std::string> pieces;  // the text, one streamed delta each
  std::string text;
  bool cut_by_max_tokens = false;
  bool tool_call = false;
  std::string tool_name;
  json tool_args;
  std::string tool_id;
  uint32_t input_tokens = 0;
  uint32_t output_tokens = 0;
};

answer make_answer(const parsed_call& c, const stub_model_script& script, uint64_t call_no) {
  answer a;
  a.input_tokens = std::max<uint32_t>(1, (c.prompt_chars + 3) / 4);
  if (script.tool_calls && !c.first_tool.empty() && c.last_tool_result.empty()) {
    a.tool_call = true;
    a.tool_name = c.first_tool;
    a.tool_args = {{"input", c.last_user_text}};
    a.tool_id = fmt::format("call_stub_{}", call_no);
    a.output_tokens = std::max<uint32_t>(1, count_chars(a.tool_args) / 4);
    return a;
  }
  std::string text = !script.reply.empty() ? script.reply
                     : !c.last_tool_result.empty()
                         ? fmt::format("[stub {}] Tool said: {}", c.model, c.last_tool_result)
                         : fmt::format("[stub {}] You said: {}", c.model, c.last_user_text);
  a.pieces = split_words(text);
  if (c.max_tokens > 0 && a.pieces.size() > c.max_tokens) {
    a.pieces.resize(c.max_tokens);
    a.cut_by_max_tokens = true;
  }
  for (const auto& p : a.pieces) a.text += p;
  a.output_tokens = static_cast<uint32_t>(a.pieces.size());
  return a;
}

// -- OpenAI ----------------------------------------------------------------------------

const char* openai_finish(const answer& a) {
  return a.tool_call ? "tool_calls" : a.cut_by_max_tokens ? "length" : "stop";
}

json openai_usage(const answer& a) {
  return {{"prompt_tokens", a.input_tokens},
          {"completion_tokens", a.output_tokens},
          {"total_tokens", a.input_tokens + a.output_tokens}};
}

json openai_tool_calls(const answer& a) {
  return json::array({{{"id", a.tool_id},
                       {"type", "function"},
                       {"function", {{"name", a.tool_name}, {"arguments", a.tool_args.dump()}}}}});
}

json openai_body(const parsed_call& c, const answer& a, uint64_t n) {
  json message = {{"role", "assistant"}, {"content", a.tool_call ? json(nullptr) : json(a.text)}};
  if (a.tool_call) message["tool_calls"] = openai_tool_calls(a);
  return {{"id", fmt::format("chatcmpl-stub-{}", n)},
          {"object", "chat.completion"},
          {"created", 1700000000},
          {"model", c.model},
          {"choices",
           json::array({{{"index", 0}, {"message", message}, {"finish_reason", openai_finish(a)}}})},
          {"usage", openai_usage(a)}};
}

std::vector<std::string> openai_events(const parsed_call& c, const answer& a, uint64_t n) {
  auto chunk = [&](json delta, json finish) {
    return json{{"id", fmt::format("chatcmpl-stub-{}", n)},
                {"object", "chat.completion.chunk"},
                {"created", 1700000000},
                {"model", c.model},
                {"choices",
                 json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}};
  };
  std::vector<std::string> events;
  auto add = [&](const json& j) { events.push_back("data: " + j.dump() + "\n\n"); };
  add(chunk({{"role", "assistant"}, {"content", ""}}, nullptr));
  if (a.tool_call) {
    auto args = a.tool_args.dump();
    add(chunk({{"tool_calls",
                json::array({{{"index", 0},
                              {"id", a.tool_id},
                              {"type", "function"},
                              {"function", {{"name", a.tool_name}, {"arguments", ""}}}}})}},
              nullptr));
    for (size_t i = 0; i < args.size(); i += 8)
      add(chunk({{"tool_calls", json::array({{{"index", 0},
                                              {"function", {{"arguments", args.substr(i, 8)}}}}})}},
                nullptr));
  } else {
    for (const auto& p : a.pieces) add(chunk({{"content", p}}, nullptr));
  }
  add(chunk(json::object(), openai_finish(a)));
  if (c.include_usage) {
    auto last = chunk(json::object(), nullptr);
    last["choices"] = json::array();
    last["usage"] = openai_usage(a);
    add(last);
  }
  events.push_back("data: [DONE]\n\n");
  return events;
}

// -- Anthropic ---------------------------------------------------------------------------

const char* anthropic_stop(const answer& a) {
  return a.tool_call ? "tool_use" : a.cut_by_max_tokens ? "max_tokens" : "end_turn";
}

json anthropic_body(const parsed_call& c, const answer& a, uint64_t n) {
  json content = json::array();
  if (a.tool_call)
    content.push_back(
        {{"type", "tool_use"}, {"id", a.tool_id}, {"name", a.tool_name}, {"input", a.tool_args}});
  else
    content.push_back({{"type", "text"}, {"text", a.text}});
  return {{"id", fmt::format("msg_stub_{}", n)},
          {"type", "message"},
          {"role", "assistant"},
          {"model", c.model},
          {"content", content},
          {"stop_reason", anthropic_stop(a)},
          {"stop_sequence", nullptr},
          {"usage", {{"input_tokens", a.input_tokens}, {"output_tokens", a.output_tokens}}}};
}

std::string sse(const std::string& event, const json& data) {
  return "event: " + event + "\ndata: " + data.dump() + "\n\n";
}

std::vector<std::string> anthropic_events(const parsed_call& c, const answer& a, uint64_t n) {
  std::vector<std::string> events;
  json start = anthropic_body(c, a, n);
  start["content"] = json::array();
  start["stop_reason"] = nullptr;
  start["usage"]["output_tokens"] = 1;
  events.push_back(sse("message_start", {{"type", "message_start"}, {"message", start}}));
  json block = a.tool_call ? json{{"type", "tool_use"},
                                  {"id", a.tool_id},
                                  {"name", a.tool_name},
                                  {"input", json::object()}}
                           : json{{"type", "text"}, {"text", ""}};
  events.push_back(sse("content_block_start",
                       {{"type", "content_block_start"}, {"index", 0}, {"content_block", block}}));
  events.push_back(sse("ping", {{"type", "ping"}}));
  if (a.tool_call) {
    auto args = a.tool_args.dump();
    for (size_t i = 0; i < args.size(); i += 8)
      events.push_back(sse(
          "content_block_delta",
          {{"type", "content_block_delta"},
           {"index", 0},
           {"delta", {{"type", "input_json_delta"}, {"partial_json", args.substr(i, 8)}}}}));
  } else {
    for (const auto& p : a.pieces)
      events.push_back(sse("content_block_delta",
                           {{"type", "content_block_delta"},
                            {"index", 0},
                            {"delta", {{"type", "text_delta"}, {"text", p}}}}));
  }
  events.push_back(sse("content_block_stop", {{"type", "content_block_stop"}, {"index", 0}}));
  events.push_back(
      sse("message_delta", {{"type", "message_delta"},
                            {"delta", {{"stop_reason", anthropic_stop(a)}, {"stop_sequence", nullptr}}},
                            {"usage", {{"output_tokens", a.output_tokens}}}}));
  events.push_back(sse("message_stop", {{"type", "message_stop"}}));
  return events;
}

// -- Gemini -------------------------------------------------------------------------------

json gemini_chunk(const parsed_call& c, json parts, const char* finish, const answer& a,
                  bool with_usage) {
  json candidate = {{"content", {{"role", "model"}, {"parts", parts}}}, {"index", 0}};
  if (finish) candidate["finishReason"] = finish;
  json out = {{"candidates", json::array({candidate})}, {"modelVersion", c.model}};
  if (with_usage)
    out["usageMetadata"] = {{"promptTokenCount", a.input_tokens},
                            {"candidatesTokenCount", a.output_tokens},
                            {"totalTokenCount", a.input_tokens + a.output_tokens}};
  return out;
}

const char* gemini_finish(const answer& a) { return a.cut_by_max_tokens ? "MAX_TOKENS" : "STOP"; }

json gemini_body(const parsed_call& c, const answer& a) {
  json parts = a.tool_call
                   ? json::array({{{"functionCall", {{"name", a.tool_name}, {"args", a.tool_args}}}}})
                   : json::array({{{"text", a.text}}});
  return gemini_chunk(c, parts, gemini_finish(a), a, true);
}

std::vector<std::string> gemini_events(const parsed_call& c, const answer& a) {
  std::vector<std::string> events;
  auto add = [&](const json& j) { events.push_back("data: " + j.dump() + "\r\n\r\n"); };
  if (a.tool_call) {
    add(gemini_body(c, a));
    return events;
  }
  for (size_t i = 0; i < a.pieces.size(); ++i) {
    bool last = i + 1 == a.pieces.size();
    add(gemini_chunk(c, json::array({{{"text", a.pieces[i]}}}), last ? gemini_finish(a) : nullptr,
                     a, last));
  }
  if (a.pieces.empty()) add(gemini_body(c, a));
  return events;
}

// -- errors in each format ----------------------------------------------------------------

struct error_spec {
  unsigned status;
  const char* openai_type;
  const char* openai_code;
  const char* anthropic_type;
  const char* gemini_status;
  std::string message;
};

error_spec error_for(const std::string& behaviour, const parsed_call& c) {
  if (behaviour == "rate_limited")
    return {429, "requests", "rate_limit_exceeded", "rate_limit_error", "RESOURCE_EXHAUSTED",
            fmt::format("stub: rate limit reached for {}", c.model)};
  if (behaviour == "server_error")
    return {500, "server_error", "server_error", "api_error", "INTERNAL",
            "stub: the server had an error while processing your request"};
  if (behaviour == "overloaded")
    return {503, "server_error", "overloaded", "overloaded_error", "UNAVAILABLE",
            "stub: the model is overloaded"};
  if (behaviour == "unauthorized")
    return {401, "invalid_request_error", "invalid_api_key", "authentication_error",
            "UNAUTHENTICATED", "stub: invalid api key"};
  if (behaviour == "context_length")
    return {400, "invalid_request_error", "context_length_exceeded", "invalid_request_error",
            "INVALID_ARGUMENT",
            "stub: This model's maximum context length is 8192 tokens; prompt is too long"};
  // bad_request, and the body of an error inside a 200
  return {400, "invalid_request_error", "invalid_request", "invalid_request_error",
          "INVALID_ARGUMENT", fmt::format("stub: invalid request for {}", c.model)};
}

json error_body(wire format, const error_spec& e) {
  switch (format) {
    case wire::anthropic:
      return {{"type", "error"}, {"error", {{"type", e.anthropic_type}, {"message", e.message}}}};
    case wire::gemini:
      return {{"error", {{"code", e.status}, {"message", e.message}, {"status", e.gemini_status}}}};
    case wire::openai:
    default:
      return {{"error",
               {{"message", e.message},
                {"type", e.openai_type},
                {"param", nullptr},
                {"code", e.openai_code}}}};
  }
}

std::string error_event(wire format, const error_spec& e) {
  if (format == wire::anthropic) return sse("error", error_body(format, e));
  return "data: " + error_body(format, e).dump() + (format == wire::gemini ? "\r\n\r\n" : "\n\n");
}

// -- embeddings ---------------------------------------------------------------------------

// A deterministic hashed bag of words, so texts sharing words are close (cosine) and a
// classifier trained on these vectors behaves like one on real embeddings: each
// lower-cased word adds +-1 to two buckets picked by its FNV-1a hash, then the vector
// is scaled to unit length. `dimensions` in the request sets the length (OpenAI's
// parameter); default stub_embedding_dimensions.
std::vector<double> stub_embedding(const std::string& text, size_t dimensions) {
  std::vector<double> v(dimensions, 0.0);
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    uint64_t h = 1469598103934665603ull;
    for (unsigned char ch : word) h = (h ^ ch) * 1099511628211ull;
    for (int round = 0; round < 2; ++round) {
      v[h % dimensions] += (h >> 63) != 0 ? 1.0 : -1.0;
      h = (h ^ (h >> 31)) * 0xBF58476D1CE4E5B9ull;
      h ^= h >> 29;
    }
    word.clear();
  };
  for (char ch : text) {
    if (std::isalnum(static_cast<unsigned char>(ch)) != 0)
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    else
      flush();
  }
  flush();
  double norm = 0;
  for (double x : v) norm += x * x;
  if (norm > 0)
    for (double& x : v) x /= std::sqrt(norm);
  return v;
}

json embeddings_body(const json& body, const std::string& model) {
  std::vector<std::string> inputs;
  const auto& in = body.contains("input") ? body["input"] : json{};
  if (in.is_string()) inputs.push_back(in.get<std::string>());
  if (in.is_array())
    for (const auto& x : in) inputs.push_back(x.is_string() ? x.get<std::string>() : x.dump());
  size_t dimensions = stub_embedding_dimensions;
  if (auto d = body.find("dimensions"); d != body.end() && d->is_number_unsigned() &&
                                        d->get<uint64_t>() > 0 && d->get<uint64_t>() <= 4096)
    dimensions = d->get<size_t>();
  json data = json::array();
  uint32_t tokens = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    data.push_back({{"object", "embedding"},
                    {"index", i},
                    {"embedding", stub_embedding(inputs[i], dimensions)}});
    tokens += std::max<uint32_t>(1, static_cast<uint32_t>(inputs[i].size() + 3) / 4);
  }
  return {{"object", "list"},
          {"data", data},
          {"model", model},
          {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}};
}

}  // namespace

// -- server ---------------------------------------------------------------------------------

struct stub_server::impl {
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::thread accept_thread;

  mutable std::mutex mu;
  std::condition_variable stop_cv;
  bool stopping = false;
  stub_script script;
  std::map<std::string, uint64_t> calls;  // per model
  std::vector<stub_request> received;
  uint64_t connections = 0;

  struct slot {
    std::thread thread;
    int fd = -1;
    std::atomic<bool> done{false};
  };
  std::list<std::unique_ptr<slot>> slots;

  // Sleeps unless the server stops first; returns false when it stopped.
  bool pause(uint32_t ms) {
    if (ms == 0) return true;
    std::unique_lock<std::mutex> lock{mu};
    return !stop_cv.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping; });
  }

  void accept_loop() {
    for (;;) {
      tcp::socket sock{ioc};
      beast::error_code ec;
      acceptor.accept(sock, ec);
      std::lock_guard<std::mutex> lock{mu};
      if (stopping) return;
      if (ec) continue;
      for (auto it = slots.begin(); it != slots.end();) {
        if ((*it)->done) {
          (*it)->thread.join();
          it = slots.erase(it);
        } else {
          ++it;
        }
      }
      auto s = std::make_unique<slot>();
      s->fd = sock.native_handle();
      auto* raw = s.get();
      uint64_t index = ++connections;
      s->thread = std::thread([this, raw, index, sock = std::move(sock)]() mutable {
        serve(sock, index);
        beast::error_code ignored;
        sock.shutdown(tcp::socket::shutdown_both, ignored);
        {
          // Closed under the lock so stop() never shuts down a reused descriptor.
          std::lock_guard<std::mutex> lock{mu};
          sock.close(ignored);
          raw->fd = -1;
        }
        raw->done = true;
      });
      slots.push_back(std::move(s));
    }
  }

  void serve(tcp::socket& sock, uint64_t connection) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64u << 20);
      beast::error_code ec;
      http::read(sock, buffer, parser, ec);
      if (ec) return;
      auto req = parser.release();
      if (!handle(sock, req, connection)) return;
      if (!req.keep_alive()) return;
    }
  }

  void write_json(tcp::socket& sock, const http::request<http::string_body>& req, unsigned status,
                  const std::string& body, const std::vector<std::pair<std::string, std::string>>&
                                               extra = {}) {
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::server, "switchyard-stub");
    for (const auto& [k, v] : extra) res.set(k, v);
    res.keep_alive(req.keep_alive());
    res.body() = body;
    res.prepare_payload();
    beast::error_code ec;
    http::write(sock, res, ec);
  }

  // Writes a chunked text/event-stream. `cut`: close the connection after half of the
  // events instead of ending the body. Returns false when the connection is done.
  bool write_stream(tcp::socket& sock, const http::request<http::string_body>& req,
                    const std::vector<std::string>& events, uint32_t delay_ms, bool cut) {
    http::response<http::empty_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "text/event-stream");
    res.set(http::field::cache_control, "no-cache");
    res.set(http::field::server, "switchyard-stub");
    res.keep_alive(req.keep_alive());
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    beast::error_code ec;
    http::write_header(sock, sr, ec);
    if (ec) return false;
    size_t limit = cut ? std::max<size_t>(1, events.size() / 2) : events.size();
    for (size_t i = 0; i < limit; ++i) {
      if (i > 0 && !pause(delay_ms)) return false;
      net::write(sock, http::make_chunk(net::buffer(events[i])), ec);
      if (ec) return false;
    }
    if (cut) return false;
    net::write(sock, http::make_chunk_last(), ec);
    return !ec;
  }

  // Answers one request; returns false when the connection must close.
  bool handle(tcp::socket& sock, const http::request<http::string_body>& req, uint64_t connection) {
    std::string target{req.target()};
    if (target.rfind("/_stub/", 0) == 0) return handle_control(sock, req, target);

    parsed_call c;
    json body;
    bool parsed = false;
    try {
      body = json::parse(req.body());
      parsed = body.is_object();
    } catch (const json::exception&) {
    }
    auto path = target.substr(0, target.find('?'));
    bool known = true;
    if (path == "/v1/chat/completions" && parsed) {
      parse_openai(body, c);
    } else if (path == "/v1/messages" && parsed) {
      parse_anthropic(body, c);
    } else if (path == "/v1/embeddings" && parsed) {
      c.model = body.value("model", "");
    } else if (path.rfind("/v1beta/models/", 0) == 0 && parsed) {
      auto rest = path.substr(std::string("/v1beta/models/").size());
      auto colon = rest.find(':');
      auto method = colon == std::string::npos ? "" : rest.substr(colon + 1);
      c.model = rest.substr(0, colon);
      parse_gemini(body, c);
      c.model = rest.substr(0, colon);
      c.stream = method == "streamGenerateContent";
      known = method == "generateContent" || method == "streamGenerateContent";
    } else {
      known = false;
    }

    stub_model_script model;
    stub_step step;
    uint64_t call_no = 0;
    {
      std::lock_guard<std::mutex> lock{mu};
      stub_request rec;
      rec.method = std::string(req.method_string());
      rec.target = target;
      for (const auto& f : req)
        rec.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      rec.body = req.body();
      rec.connection = connection;
      rec.model = c.model;
      received.push_back(std::move(rec));
      if (known) {
        auto it = script.models.find(c.model);
        if (it == script.models.end()) it = script.models.find("*");
        if (it != script.models.end()) model = it->second;
        call_no = ++calls[c.model];
        uint64_t index = call_no;  // 1-based position in the sequence
        for (const auto& s : model.sequence) {
          if (s.times == 0 || index <= s.times) {
            step = s;
            break;
          }
          index -= s.times;
        }
        if (auto by_key = script.keys.find(api_key_of(received.back()));
            by_key != script.keys.end())
          step = by_key->second;
      }
    }

    if (!parsed) {
      write_json(sock, req, 400,
                 error_body(c.format, {400, "invalid_request_error", "invalid_json",
                                       "invalid_request_error", "INVALID_ARGUMENT",
                                       "stub: the request body is not a JSON object"})
                     .dump());
      return true;
    }
    if (!known) {
      write_json(sock, req, 404,
                 json{{"error", {{"message", "stub: no such endpoint: " + path}}}}.dump());
      return true;
    }
    if (!pause(model.latency_ms)) return false;

    const auto& b = step.behaviour;
    if (b == "hang") {
      // Hold the call until the client gives up or the server stops.
      char byte;
      beast::error_code ec;
      sock.read_some(net::buffer(&byte, 1), ec);
      return false;
    }
    if (b == "rate_limited" || b == "server_error" || b == "overloaded" || b == "unauthorized" ||
        b == "bad_request" || b == "context_length") {
      auto e = error_for(b, c);
      std::vector<std::pair<std::string, std::string>> extra;
      if (b == "rate_limited") extra.emplace_back("Retry-After", std::to_string(step.retry_after_s));
      write_json(sock, req, e.status, error_body(c.format, e).dump(), extra);
      return true;
    }
    if (path == "/v1/embeddings") {
      if (b == "malformed_json") {
        write_json(sock, req, 200, R"({"object": "list", "data": [{"embedding": [0.1, )");
        return true;
      }
      write_json(sock, req, 200, embeddings_body(body, c.model).dump());
      return true;
    }

    auto a = make_answer(c, model, call_no);
    if (!c.stream) {
      if (b == "malformed_json") {
        write_json(sock, req, 200, R"({"id": "stub", "choices": [{"message": {"content": "x)");
        return true;
      }
      if (b == "error_in_200") {
        write_json(sock, req, 200, error_body(c.format, error_for("server_error", c)).dump());
        return true;
      }
      std::string out = c.format == wire::anthropic ? anthropic_body(c, a, call_no).dump()
                        : c.format == wire::gemini  ? gemini_body(c, a).dump()
                                                    : openai_body(c, a, call_no).dump();
      if (b == "cut_stream") {
        // Announce the full length, send half, hang up.
        http::response<http::empty_body> res{http::status::ok, 11};
        res.set(http::field::content_type, "application/json");
        res.content_length(out.size());
        http::response_serializer<http::empty_body> sr{res};
        beast::error_code ec;
        http::write_header(sock, sr, ec);
        net::write(sock, net::buffer(out.data(), out.size() / 2), ec);
        return false;
      }
      write_json(sock, req, 200, out);
      return true;
    }

    auto events = c.format == wire::anthropic ? anthropic_events(c, a, call_no)
                  : c.format == wire::gemini  ? gemini_events(c, a)
                                              : openai_events(c, a, call_no);
    if (b == "missing_terminator" && events.size() > 1) events.pop_back();
    if (b == "malformed_json")
      events.insert(events.begin() + 1, c.format == wire::anthropic
                                            ? "event: content_block_delta\ndata: {\"type\": \n\n"
                                            : "data: {\"choices\": [\n\n");
    if (b == "error_in_200") {
      events.resize(std::min<size_t>(events.size(), 2));
      events.push_back(error_event(c.format, error_for("overloaded", c)));
    }
    return write_stream(sock, req, events, model.chunk_delay_ms, b == "cut_stream");
  }

  bool handle_control(tcp::socket& sock, const http::request<http::string_body>& req,
                      const std::string& target) {
    std::lock_guard<std::mutex> lock{mu};
    if (target == "/_stub/requests") {
      json out = json::array();
      for (const auto& r : received) {
        json headers = json::object();
        for (const auto& [k, v] : r.headers) headers[k] = v;
        out.push_back({{"method", r.method},
                       {"target", r.target},
                       {"headers", headers},
                       {"body", r.body},
                       {"connection", r.connection},
                       {"model", r.model}});
      }
      write_json(sock, req, 200, out.dump());
      return true;
    }
    if (target == "/_stub/stats") {
      write_json(sock, req, 200,
                 json{{"connections", connections}, {"requests", received.size()}}.dump());
      return true;
    }
    write_json(sock, req, 404, json{{"error", {{"message", "stub: no such endpoint"}}}}.dump());
    return true;
  }
};

std::unique_ptr<stub_server> stub_server::start(uint16_t port, stub_script script,
                                                std::string& error) {
  std::unique_ptr<stub_server> server{new stub_server};
  server->impl_ = std::make_shared<impl>();
  auto& s = *server->impl_;
  s.script = std::move(script);
  beast::error_code ec;
  tcp::endpoint where{net::ip::make_address("127.0.0.1"), port};
  s.acceptor.open(where.protocol(), ec);
  if (!ec) s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(where, ec);
  if (!ec) s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    error = fmt::format("stub-provider: cannot listen on 127.0.0.1:{}: {}", port, ec.message());
    return nullptr;
  }
  server->port_ = s.acceptor.local_endpoint().port();
  s.accept_thread = std::thread([&s] { s.accept_loop(); });
  return server;
}

stub_server::~stub_server() { stop(); }

std::string stub_server::base_url() const { return fmt::format("http://127.0.0.1:{}", port_); }

std::vector<stub_request> stub_server::requests() const {
  std::lock_guard<std::mutex> lock{impl_->mu};
  return impl_->received;
}

uint64_t stub_server::connections() const {
  std::lock_guard<std::mutex> lock{impl_->mu};
  return impl_->connections;
}

void stub_server::set_script(stub_script script) {
  std::lock_guard<std::mutex> lock{impl_->mu};
  impl_->script = std::move(script);
  impl_->calls.clear();
}

void stub_server::stop() {
  if (!impl_) return;
  auto& s = *impl_;
  {
    std::lock_guard<std::mutex> lock{s.mu};
    if (s.stopping) return;
    s.stopping = true;
    // shutdown(2) wakes threads blocked in accept/read; closing from here would race.
    ::shutdown(s.acceptor.native_handle(), SHUT_RDWR);
    for (auto& slot : s.slots)
      if (slot->fd >= 0) ::shutdown(slot->fd, SHUT_RDWR);
  }
  s.stop_cv.notify_all();
  if (s.accept_thread.joinable()) s.accept_thread.join();
  for (auto& slot : s.slots) slot->thread.join();
  s.slots.clear();
  beast::error_code ignored;
  s.acceptor.close(ignored);
}

}  // namespace switchyard
