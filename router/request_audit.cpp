#include "router/request_audit.hpp"

#include <nlohmann/json.hpp>

#include "runtime/messages.hpp"

namespace switchyard {

request_audit::request_audit(const std::string& path) : out_(path, std::ios::trunc) {
  if (!out_) error_ = "cannot open audit file '" + path + "' for writing";
}

void request_audit::record(const model_config& model, const model_request& request) {
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& m : request.messages) {
    nlohmann::json one{{"role", m.role}, {"content", m.content}};
    if (!m.name.empty()) one["name"] = m.name;
    messages.push_back(std::move(one));
  }
  nlohmann::json line{
      {"model", model.id},
      {"tier", model.tier},
      {"residency", to_string(model.where)},
      {"provider", model.provider},
      {"run_id", request.ctx.run_id},
      {"call_id", request.call_id},
      {"route", request.route},
      {"data_class", request.data_class},
      {"payload", {{"messages", std::move(messages)}, {"max_tokens", request.max_tokens}}}};
  auto text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::lock_guard<std::mutex> lock{mutex_};
  out_ << text << '\n';
  out_.flush();
  ++lines_;
}

size_t request_audit::lines() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return lines_;
}

model_request_observer request_audit::observer(std::shared_ptr<request_audit> audit) {
  return [audit = std::move(audit)](const model_config& model, const model_request& request) {
    audit->record(model, request);
  };
}

}  // namespace switchyard
