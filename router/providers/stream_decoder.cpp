#include "router/providers/stream_decoder.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "router/providers/anthropic_adapter.hpp"
#include "router/providers/error_mapping.hpp"
#include "router/providers/gemini_adapter.hpp"
#include "router/providers/openai_adapter.hpp"
#include "router/providers/wire_json.hpp"

namespace switchyard {

using json = nlohmann::json;

stream_decoder::stream_decoder(std::string call_id, const model_config& model, std::string api_key)
    : call_id_(std::move(call_id)), model_(model), api_key_(std::move(api_key)) {}

std::vector<stream_delta> stream_decoder::feed(std::string_view chunk) {
  std::vector<stream_delta> out;
  if (failed() || done_) return out;
  std::vector<sse_event> events = parser_.feed(chunk);
  for (const sse_event& event : events) {
    if (failed() || done_) break;
    try {
      on_event(event, out);
    } catch (const wire_error& e) {
      fail(e.kind(), e.what());
    } catch (const json::exception& e) {
      fail("bad_response", std::string("malformed stream event: ") + e.what());
    }
  }
  if (!failed() && parser_.failed()) fail("bad_response", parser_.error());
  // Deltas decoded before a failure were already valid; the caller still learns of
  // the failure from failed() and finish().
  return out;
}

model_response stream_decoder::finish() {
  if (!failed() && !complete()) {
    fail("bad_response", std::string(format_name()) + " stream ended before " + terminator() +
                             (parser_.has_partial_event() ? " (cut inside an event)" : ""));
  }
  // A failed response carries no partial text or calls: nobody may mistake it for a
  // shortened answer.
  auto failure = [this](const std::string& kind, const std::string& message) {
    fail(kind, message);
    model_response out;
    out.call_id = call_id_;
    out.error = error_;
    return out;
  };
  if (failed()) return failure(error_.kind, error_.message);

  model_response out;
  out.call_id = call_id_;
  out.text = text_;
  for (auto& entry : calls_) {
    partial_call& call = entry.second;
    tool_call canonical;
    canonical.id = call.id;
    canonical.name = call.name;
    if (canonical.name.empty()) {
      return failure("bad_response", std::string(format_name()) + " stream: tool call " +
                                         std::to_string(entry.first) + " has no name");
    }
    try {
      canonical.arguments_json = canonical_arguments_text(call.arguments, call.name);
    } catch (const wire_error& e) {
      return failure(e.kind(), std::string(format_name()) + " stream: " + e.what());
    }
    out.tool_calls.push_back(std::move(canonical));
  }
  out.finish_reason = finish_reason_.empty() ? "stop" : finish_reason_;
  if (!out.tool_calls.empty() && out.finish_reason == "stop") out.finish_reason = "tool_calls";
  if (out.finish_reason == "content_filter" && out.text.empty() && out.tool_calls.empty()) {
    return failure("content_filter", std::string(format_name()) +
                                         " stream: the reply was withheld by the provider's "
                                         "content filter");
  }
  out.logprobs = logprobs_;
  set_usage(out, model_, input_tokens_, output_tokens_);
  return out;
}

void stream_decoder::fail(const std::string& kind, const std::string& message,
                          uint32_t retry_after_ms) {
  if (failed()) return;
  std::string text = message;
  redact_secret(text, api_key_);
  error_ = make_error(kind, text, retry_after_ms);
}

stream_delta stream_decoder::delta(stream_delta_kind kind) const {
  stream_delta d;
  d.call_id = call_id_;
  d.kind = kind;
  return d;
}

void stream_decoder::emit_text(const std::string& text, std::vector<stream_delta>& out) {
  if (text.empty()) return;
  text_ += text;
  stream_delta d = delta(stream_delta_kind::text);
  d.text = text;
  out.push_back(std::move(d));
}

void stream_decoder::emit_usage(std::vector<stream_delta>& out) {
  stream_delta d = delta(stream_delta_kind::usage);
  d.input_tokens = static_cast<uint32_t>(std::min<uint64_t>(input_tokens_, UINT32_MAX));
  d.output_tokens = static_cast<uint32_t>(std::min<uint64_t>(output_tokens_, UINT32_MAX));
  out.push_back(std::move(d));
}

void stream_decoder::emit_finish(const std::string& reason, std::vector<stream_delta>& out) {
  finish_reason_ = reason;
  stream_delta d = delta(stream_delta_kind::finish);
  d.text = reason;
  out.push_back(std::move(d));
}

namespace {

json parse_event_data(const sse_event& event, const char* format) {
  json doc = json::parse(event.data, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    throw wire_error("bad_response", std::string(format) +
                                         " stream: malformed event (not a JSON object): " +
                                         body_excerpt(event.data));
  }
  return doc;
}

}  // namespace

// -- OpenAI ----------------------------------------------------------------------------

void openai_stream_decoder::on_event(const sse_event& event, std::vector<stream_delta>& out) {
  if (event.data == "[DONE]") {
    done_ = true;
    return;
  }
  json doc = parse_event_data(event, "openai");
  if (event.event == "error" || (doc.contains("error") && !doc["error"].is_null())) {
    model_error e = classify_http_error(wire_format::openai, 200, {}, event.data);
    fail(e.kind == "bad_response" ? "server_error" : e.kind, "openai stream: " + e.message,
         e.retry_after_ms);
    return;
  }
  if (auto choices = doc.find("choices"); choices != doc.end() && choices->is_array()) {
    for (const json& choice : *choices) {
      if (!choice.is_object())
        throw wire_error("bad_response", "openai stream: a choice is not an object");
      if (count_field(choice, "index") != 0) continue;  // we ask for one choice
      if (auto d = choice.find("delta"); d != choice.end() && d->is_object()) {
        emit_text(string_field(*d, "content"), out);
        if (auto calls = d->find("tool_calls"); calls != d->end() && calls->is_array()) {
          for (const json& call : *calls) {
            if (!call.is_object())
              throw wire_error("bad_response", "openai stream: a tool call delta is not an object");
            std::string id = string_field(call, "id");
            uint32_t index;
            if (call.contains("index")) {
              index = static_cast<uint32_t>(count_field(call, "index"));
            } else if (calls_.empty() || (!id.empty() && calls_.rbegin()->second.id != id)) {
              index = static_cast<uint32_t>(calls_.size());  // servers that omit index
            } else {
              index = calls_.rbegin()->first;
            }
            partial_call& partial = calls_[index];
            stream_delta out_delta = delta(stream_delta_kind::tool_call);
            out_delta.index = index;
            if (!id.empty()) partial.id = out_delta.id = id;
            const json* fn = call.contains("function") ? &call["function"] : nullptr;
            if (fn != nullptr && fn->is_object()) {
              std::string name = string_field(*fn, "name");
              if (!name.empty()) partial.name = out_delta.name = name;
              if (auto args = fn->find("arguments"); args != fn->end()) {
                std::string fragment = args->is_string()   ? args->get<std::string>()
                                       : args->is_object() ? args->dump()
                                                           : "";
                partial.arguments += fragment;
                out_delta.text = fragment;
              }
            }
            out.push_back(std::move(out_delta));
          }
        }
      }
      if (auto lp = choice.find("logprobs"); lp != choice.end() && lp->is_object()) {
        if (auto items = lp->find("content"); items != lp->end() && items->is_array()) {
          for (const json& item : *items) {
            auto value = item.is_object() ? item.find("logprob") : item.end();
            if (value == item.end() || !value->is_number()) continue;
            logprobs_.push_back({string_field(item, "token"), value->get<double>()});
          }
        }
      }
      std::string reason = string_field(choice, "finish_reason");
      if (!reason.empty()) {
        reason = openai_adapter::normalise_finish_reason(reason);
        if (reason == "stop" && !calls_.empty()) reason = "tool_calls";
        emit_finish(reason, out);
      }
    }
  }
  if (auto usage = doc.find("usage"); usage != doc.end() && usage->is_object()) {
    input_tokens_ = count_field(*usage, "prompt_tokens");
    output_tokens_ = count_field(*usage, "completion_tokens");
    emit_usage(out);
  }
}

// -- Anthropic -------------------------------------------------------------------------

void anthropic_stream_decoder::on_event(const sse_event& event, std::vector<stream_delta>& out) {
  json doc = parse_event_data(event, "anthropic");
  std::string type = string_field(doc, "type");
  if (type.empty()) type = event.event;
  if (type == "ping") return;
  if (type == "error") {
    model_error e = classify_http_error(wire_format::anthropic, 200, {}, event.data);
    fail(e.kind == "bad_response" ? "server_error" : e.kind, "anthropic stream: " + e.message,
         e.retry_after_ms);
    return;
  }
  if (type == "message_start") {
    const json* message = doc.contains("message") ? &doc["message"] : nullptr;
    if (message == nullptr || !message->is_object()) {
      throw wire_error("bad_response", "anthropic stream: message_start without a message");
    }
    if (auto usage = message->find("usage"); usage != message->end()) {
      input_tokens_ = count_field(*usage, "input_tokens") +
                      count_field(*usage, "cache_creation_input_tokens") +
                      count_field(*usage, "cache_read_input_tokens");
      output_tokens_ = count_field(*usage, "output_tokens");
    }
    return;
  }
  if (type == "content_block_start") {
    uint64_t block = count_field(doc, "index");
    const json* content = doc.contains("content_block") ? &doc["content_block"] : nullptr;
    if (content == nullptr || !content->is_object()) {
      throw wire_error("bad_response", "anthropic stream: content_block_start without a block");
    }
    std::string block_type = string_field(*content, "type");
    if (block_type == "text") {
      emit_text(string_field(*content, "text"), out);
    } else if (block_type == "tool_use") {
      uint32_t index = static_cast<uint32_t>(calls_.size());
      block_to_call_[block] = index;
      partial_call& partial = calls_[index];
      partial.id = string_field(*content, "id");
      partial.name = string_field(*content, "name");
      auto input = content->find("input");
      if (input != content->end() && input->is_object() && !input->empty()) {
        initial_input_[block] = input->dump();
      }
      stream_delta d = delta(stream_delta_kind::tool_call);
      d.index = index;
      d.id = partial.id;
      d.name = partial.name;
      out.push_back(std::move(d));
    }
    return;
  }
  if (type == "content_block_delta") {
    uint64_t block = count_field(doc, "index");
    const json* d = doc.contains("delta") ? &doc["delta"] : nullptr;
    if (d == nullptr || !d->is_object()) {
      throw wire_error("bad_response", "anthropic stream: content_block_delta without a delta");
    }
    std::string delta_type = string_field(*d, "type");
    if (delta_type == "text_delta") {
      emit_text(string_field(*d, "text"), out);
    } else if (delta_type == "input_json_delta") {
      auto it = block_to_call_.find(block);
      if (it == block_to_call_.end()) {
        throw wire_error("bad_response", "anthropic stream: input_json_delta for block " +
                                             std::to_string(block) + ", which is not a tool_use");
      }
      std::string fragment = string_field(*d, "partial_json");
      calls_[it->second].arguments += fragment;
      initial_input_.erase(block);
      stream_delta out_delta = delta(stream_delta_kind::tool_call);
      out_delta.index = it->second;
      out_delta.text = fragment;
      out.push_back(std::move(out_delta));
    }
    // thinking_delta, signature_delta, citations_delta: not part of the reply.
    return;
  }
  if (type == "content_block_stop") {
    uint64_t block = count_field(doc, "index");
    auto initial = initial_input_.find(block);
    auto it = block_to_call_.find(block);
    if (initial != initial_input_.end() && it != block_to_call_.end()) {
      calls_[it->second].arguments = initial->second;  // input given whole, no deltas
    }
    return;
  }
  if (type == "message_delta") {
    if (auto usage = doc.find("usage"); usage != doc.end() && usage->is_object()) {
      // Counts here are cumulative; input_tokens appears only on some versions.
      if (usage->contains("input_tokens")) {
        input_tokens_ = count_field(*usage, "input_tokens") +
                        count_field(*usage, "cache_creation_input_tokens") +
                        count_field(*usage, "cache_read_input_tokens");
      }
      if (usage->contains("output_tokens")) output_tokens_ = count_field(*usage, "output_tokens");
      emit_usage(out);
    }
    if (auto d = doc.find("delta"); d != doc.end() && d->is_object()) {
      std::string stop = string_field(*d, "stop_reason");
      if (!stop.empty()) emit_finish(anthropic_adapter::normalise_stop_reason(stop), out);
    }
    return;
  }
  if (type == "message_stop") {
    done_ = true;
    return;
  }
  // Unknown event types are allowed by Anthropic's versioning policy: skip them.
}

// -- Gemini ----------------------------------------------------------------------------

void gemini_stream_decoder::on_event(const sse_event& event, std::vector<stream_delta>& out) {
  json doc = parse_event_data(event, "gemini");
  if (doc.contains("error")) {
    model_error e = classify_http_error(wire_format::gemini, 200, {}, event.data);
    fail(e.kind == "bad_response" ? "server_error" : e.kind, "gemini stream: " + e.message,
         e.retry_after_ms);
    return;
  }
  auto candidates = doc.find("candidates");
  if (candidates == doc.end() || !candidates->is_array() || candidates->empty()) {
    if (auto feedback = doc.find("promptFeedback"); feedback != doc.end()) {
      std::string blocked = string_field(*feedback, "blockReason");
      if (!blocked.empty()) {
        fail("content_filter", "gemini stream: the prompt was blocked (blockReason " + blocked +
                                   ")");
        return;
      }
    }
  } else {
    const json& candidate = (*candidates)[0];
    if (!candidate.is_object())
      throw wire_error("bad_response", "gemini stream: candidates[0] is not an object");
    if (auto content = candidate.find("content");
        content != candidate.end() && content->is_object()) {
      auto parts = content->find("parts");
      if (parts != content->end() && parts->is_array()) {
        for (const json& part : *parts) {
          if (!part.is_object()) continue;
          if (auto fn = part.find("functionCall"); fn != part.end()) {
            if (!fn->is_object())
              throw wire_error("bad_response", "gemini stream: a functionCall is not an object");
            auto index = static_cast<uint32_t>(calls_.size());
            partial_call& call = calls_[index];
            call.name = string_field(*fn, "name");
            if (call.name.empty())
              throw wire_error("bad_response", "gemini stream: a functionCall has no name");
            call.id = string_field(*fn, "id");
            if (call.id.empty()) call.id = "call_" + std::to_string(index);
            auto args = fn->find("args");
            call.arguments = args != fn->end() && !args->is_null() ? args->dump() : "{}";
            stream_delta d = delta(stream_delta_kind::tool_call);
            d.index = index;
            d.id = call.id;
            d.name = call.name;
            d.text = call.arguments;
            out.push_back(std::move(d));
          } else if (part.contains("text") &&
                     !(part.contains("thought") && part["thought"] == true)) {
            emit_text(string_field(part, "text"), out);
          }
        }
      }
    }
    gemini_adapter::append_logprobs(candidate, logprobs_);
    std::string reason = string_field(candidate, "finishReason");
    if (reason == "MALFORMED_FUNCTION_CALL") {
      fail("bad_response", "gemini stream: the model produced a malformed function call (" +
                               string_field(candidate, "finishMessage") + ")");
      return;
    }
    if (!reason.empty()) {
      reason = gemini_adapter::normalise_finish_reason(reason);
      if (reason == "stop" && !calls_.empty()) reason = "tool_calls";
      emit_finish(reason, out);
      saw_finish_ = true;
    }
  }
  if (auto usage = doc.find("usageMetadata"); usage != doc.end() && usage->is_object()) {
    // Cumulative counts; thinking tokens are billed as output.
    input_tokens_ = count_field(*usage, "promptTokenCount");
    output_tokens_ =
        count_field(*usage, "candidatesTokenCount") + count_field(*usage, "thoughtsTokenCount");
    emit_usage(out);
  }
}

}  // namespace switchyard
