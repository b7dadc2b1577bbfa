#include "router/providers/embeddings_adapter.hpp"
#include "router/providers/openai_adapter.hpp"

#include <stdexcept>

#include "router/providers/error_mapping.hpp"
#include "router/providers/wire_json.hpp"

namespace switchyard::embeddings_adapter {

namespace {

using json = nlohmann::json;

embedding_result failed(const std::string& kind, const std::string& message,
                        uint32_t retry_after_ms = 0) {
  embedding_result out;
  out.error = make_error(kind, message, retry_after_ms);
  return out;
}

}  // namespace

http_request build_request(const std::vector<std::string>& inputs, const model_config& model,
                           const provider_config& provider, const std::string& api_key) {
  if (inputs.empty()) throw std::invalid_argument("embeddings: at least one input is needed");
  json body = {{"model", model.wire_name()}, {"input", inputs}, {"encoding_format", "float"}};
  return openai_adapter::openai_post("/embeddings", "application/json", provider, api_key, body);
}

static embedding_result parse_unredacted(int http_status, const http_headers& headers,
                                         const std::string& body, const model_config& model,
                                         size_t expected_inputs, const std::string& api_key) {
  if (http_status < 200 || http_status > 299) {
    model_error e = classify_http_error(wire_format::openai, http_status, headers, body);
    redact_secret(e.message, api_key);
    return failed(e.kind, e.message, e.retry_after_ms);
  }
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return failed("bad_response",
                  "embeddings: response is not a JSON object: " + body_excerpt(body));
  }
  if (doc.contains("error")) {
    model_error e = classify_http_error(wire_format::openai, http_status, headers, body);
    redact_secret(e.message, api_key);
    return failed(e.kind == "bad_response" ? "server_error" : e.kind, e.message, e.retry_after_ms);
  }
  auto data = doc.find("data");
  if (data == doc.end() || !data->is_array()) {
    return failed("bad_response", "embeddings: response has no data array: " + body_excerpt(body));
  }
  if (data->size() != expected_inputs) {
    return failed("bad_response", "embeddings: asked for " + std::to_string(expected_inputs) +
                                      " vectors, got " + std::to_string(data->size()));
  }
  embedding_result out;
  out.vectors.resize(expected_inputs);
  std::vector<bool> seen(expected_inputs, false);
  size_t dimensions = 0;
  for (size_t i = 0; i < data->size(); ++i) {
    const json& item = (*data)[i];
    if (!item.is_object())
      return failed("bad_response", "embeddings: data[" + std::to_string(i) + "] is not an object");
    size_t index = i;
    if (auto at = item.find("index"); at != item.end()) {
      if (!at->is_number_unsigned() && !(at->is_number_integer() && at->get<int64_t>() >= 0)) {
        return failed("bad_response", "embeddings: data[" + std::to_string(i) +
                                          "].index is not a non-negative integer");
      }
      uint64_t raw = at->get<uint64_t>();
      if (raw >= expected_inputs) {
        return failed("bad_response", "embeddings: data[" + std::to_string(i) + "].index " +
                                          std::to_string(raw) + " is out of range");
      }
      index = static_cast<size_t>(raw);
    }
    if (seen[index]) {
      return failed("bad_response",
                    "embeddings: index " + std::to_string(index) + " appears twice");
    }
    seen[index] = true;
    auto values = item.find("embedding");
    if (values == item.end() || !values->is_array() || values->empty()) {
      return failed("bad_response", "embeddings: data[" + std::to_string(i) +
                                        "].embedding is not a non-empty array of numbers");
    }
    std::vector<float>& vec = out.vectors[index];
    vec.reserve(values->size());
    for (const json& v : *values) {
      if (!v.is_number()) {
        return failed("bad_response", "embeddings: data[" + std::to_string(i) +
                                          "].embedding holds a value that is not a number");
      }
      vec.push_back(v.get<float>());
    }
    if (dimensions == 0) dimensions = vec.size();
    if (vec.size() != dimensions) {
      return failed("bad_response", "embeddings: vectors have different dimensions (" +
                                        std::to_string(dimensions) + " and " +
                                        std::to_string(vec.size()) + ")");
    }
  }
  json usage = doc.contains("usage") ? doc["usage"] : json();
  uint64_t input = count_field(usage, "prompt_tokens");
  out.usage.model_id = model.id;
  out.usage.tier = model.tier;
  model_response priced;
  set_usage(priced, model, input, 0);
  out.usage = priced.usage;
  return out;
}

// Every error message passes through here: a provider may echo the key anywhere in a
// body we quote (a malformed 200 included).
embedding_result parse_response(int http_status, const http_headers& headers,
                                const std::string& body, const model_config& model,
                                size_t expected_inputs, const std::string& api_key) {
  embedding_result out =
      parse_unredacted(http_status, headers, body, model, expected_inputs, api_key);
  redact_secret(out.error.message, api_key);
  return out;
}

}  // namespace switchyard::embeddings_adapter
