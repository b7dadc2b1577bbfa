#include "runtime/actor_runtime.hpp"

#include <thread>

#include "caf/atom.hpp"
#include "caf/io/middleman.hpp"
#include "runtime/checkpoint_store.hpp"
#include "runtime/messages.hpp"

namespace switchyard {

actor_config::actor_config(const runtime_settings& settings) {
  add_message_type<step_context>("step_context");
  add_message_type<tool_definition>("tool_definition");
  add_message_type<std::vector<tool_definition>>("std::vector<tool_definition>");
  add_message_type<tool_call>("tool_call");
  add_message_type<std::vector<tool_call>>("std::vector<tool_call>");
  add_message_type<chat_message>("chat_message");
  add_message_type<std::vector<chat_message>>("std::vector<chat_message>");
  add_message_type<model_request>("model_request");
  add_message_type<decision_traces>("decision_traces");
  add_message_type<model_usage>("model_usage");
  add_message_type<std::vector<model_usage>>("std::vector<model_usage>");
  add_message_type<model_error>("model_error");
  add_message_type<token_logprob>("token_logprob");
  add_message_type<std::vector<token_logprob>>("std::vector<token_logprob>");
  add_message_type<model_response>("model_response");
  add_message_type<stream_delta_kind>("stream_delta_kind");
  add_message_type<stream_delta>("stream_delta");
  add_message_type<stream_switch>("stream_switch");
  add_message_type<step_kind>("step_kind");
  add_message_type<step_request>("step_request");
  add_message_type<step_reply>("step_reply");
  add_message_type<agent_call>("agent_call");
  add_message_type<run_request>("run_request");
  add_message_type<step_record>("step_record");
  add_message_type<std::vector<step_record>>("std::vector<step_record>");
  add_message_type<handoff_record>("handoff_record");
  add_message_type<run_status>("run_status");
  add_message_type<run_result>("run_result");
  add_message_type<prepared_write>("prepared_write");
  add_message_type<stream_routed>("stream_routed");
  load<caf::io::middleman>();
  set("scheduler.policy", caf::atom_from_string(settings.scheduler));
  auto workers =
      settings.workers > 0 ? settings.workers : std::max(1u, std::thread::hardware_concurrency());
  set("scheduler.max-threads", static_cast<size_t>(workers));
  // CAF would otherwise print its own banner/logs on stderr; we log through spdlog.
  set("logger.console", caf::atom("none"));
}

actor_runtime::actor_runtime(const runtime_settings& settings)
    : config_(settings), system_(std::make_unique<caf::actor_system>(config_)) {}

}  // namespace switchyard
