// Messages must survive the wire: a caf::message is serialized by type name, so this
// fails when a type is not registered in actor_config or its inspect misses a field.

#include <catch2/catch.hpp>

#include "caf/all.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/messages.hpp"
#include "runtime/trace_codec.hpp"

using namespace switchyard;

namespace {

template <class T>
T round_trip(caf::actor_system& sys, const T& value) {
  auto msg = caf::make_message(value);
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  auto err = sink(msg);
  INFO(caf::to_string(err));
  REQUIRE_FALSE(err);
  caf::message copy;
  caf::binary_deserializer source{sys, buf};
  err = source(copy);
  INFO(caf::to_string(err));
  REQUIRE_FALSE(err);
  REQUIRE(copy.match_elements<T>());
  return copy.get_as<T>(0);
}

}  // namespace

TEST_CASE("messages: a run result with its transcript and handoff crosses the wire intact",
          "[messages]") {
  actor_runtime rt{runtime_settings{"sharing", 1, "off"}};
  run_result r;
  r.run_id = "run-1";
  r.thread_id = "t-1";
  r.workflow = "hello";
  r.status = run_status::escalated;
  r.reason = "hop_limit";
  r.hops = 8;
  r.cost_usd = 0.25;
  step_record s;
  s.step = 3;
  s.kind = step_kind::call;
  s.agent = "pong";
  s.caller = "ping";
  s.model = "m";
  s.output_tokens = 17;
  r.steps = {s, s};
  r.has_handoff = true;
  r.handoff.reason = "hop_limit";
  r.handoff.last_output = "bye";
  auto copy = round_trip(rt.system(), r);
  CHECK(copy.run_id == "run-1");
  CHECK(copy.status == run_status::escalated);
  CHECK(copy.hops == 8);
  CHECK(copy.cost_usd == 0.25);
  REQUIRE(copy.steps.size() == 2);
  CHECK(copy.steps[1].kind == step_kind::call);
  CHECK(copy.steps[1].caller == "ping");
  CHECK(copy.steps[1].output_tokens == 17);
  CHECK(copy.handoff.last_output == "bye");
}

TEST_CASE("messages: model requests and responses keep context, messages and usage",
          "[messages]") {
  actor_runtime rt{runtime_settings{"sharing", 1, "off"}};
  model_request req;
  req.ctx = {"run-2", "t-2", 4, 2};
  req.call_id = "run-2/4/a/0";
  req.messages = {{"system", "be brief"}, {"user", "hi"}};
  req.max_tokens = 99;
  req.tier = "mid";
  req.data_class = "pii";
  req.capabilities = {"tools"};
  req.metadata = {{"user_tier", "gold"}, {"priority", "high"}};
  auto req_copy = round_trip(rt.system(), req);
  CHECK(req_copy.data_class == "pii");
  CHECK(req_copy.capabilities == std::vector<std::string>{"tools"});
  CHECK(req_copy.metadata.at("user_tier") == "gold");
  CHECK(req_copy.metadata.size() == 2);
  CHECK(req_copy.ctx.step == 4);
  CHECK(req_copy.ctx.hops == 2);
  CHECK(req_copy.ctx.thread_id == "t-2");
  REQUIRE(req_copy.messages.size() == 2);
  CHECK(req_copy.messages[1].content == "hi");
  CHECK(req_copy.max_tokens == 99);

  model_response resp;
  resp.call_id = "c";
  resp.usage = {"m", "mid", 10, 20, 0.5, 12.5, "billing", true,
                {json_trace(R"({"outcome":"routed"})")}};
  resp.error = {"rate_limited", "slow down", 1500, {}};
  auto resp_copy = round_trip(rt.system(), resp);
  CHECK(resp_copy.usage.output_tokens == 20);
  CHECK(resp_copy.usage.latency_ms == 12.5);
  CHECK(resp_copy.usage.route == "billing");
  CHECK(resp_copy.usage.downgraded);
  CHECK(trace_json(resp_copy.usage.decision.bytes) == R"({"outcome":"routed"})");
  CHECK(resp_copy.error.retry_after_ms == 1500);

  auto call = round_trip(rt.system(), agent_call{{"r", "t", 1, 1}, "ping", "pong", "x"});
  CHECK(call.to == "pong");
  auto step = round_trip(rt.system(), step_request{{"r", "t", 1, 1}, step_kind::escalation,
                                                   "safety", "", "why"});
  CHECK(step.kind == step_kind::escalation);
  auto reply = round_trip(rt.system(), step_reply{"out", "label", {resp.usage}, {}});
  CHECK(reply.calls.at(0).model_id == "m");
}

TEST_CASE("messages: tool calls, tool results, wire options and stream deltas cross the wire",
          "[messages]") {
  actor_runtime rt{runtime_settings{"sharing", 1, "off"}};
  model_request req;
  req.call_id = "c-1";
  chat_message asked{"assistant", ""};
  asked.tool_calls = {{"call_1", "lookup", R"({"q":"x"})"}};
  chat_message answer{"tool", "42"};
  answer.tool_call_id = "call_1";
  answer.name = "lookup";
  req.messages = {{"user", "find x"}, asked, answer};
  req.tools = {{"lookup", "find things", R"({"type":"object"})"}};
  req.tool_choice = "required";
  req.temperature = 0.25;
  req.stop = {"END", "\n\n"};
  req.json_mode = true;
  req.logprobs = true;
  req.top_logprobs = 3;
  req.stream = true;
  auto req_copy = round_trip(rt.system(), req);
  REQUIRE(req_copy.messages.size() == 3);
  REQUIRE(req_copy.messages[1].tool_calls.size() == 1);
  CHECK(req_copy.messages[1].tool_calls[0].arguments_json == R"({"q":"x"})");
  CHECK(req_copy.messages[2].tool_call_id == "call_1");
  CHECK(req_copy.messages[2].name == "lookup");
  REQUIRE(req_copy.tools.size() == 1);
  CHECK(req_copy.tools[0].parameters_json == R"({"type":"object"})");
  CHECK(req_copy.tool_choice == "required");
  CHECK(req_copy.temperature == 0.25);
  CHECK(req_copy.top_p < 0);
  CHECK(req_copy.stop == std::vector<std::string>{"END", "\n\n"});
  CHECK(req_copy.json_mode);
  CHECK(req_copy.top_logprobs == 3);
  CHECK(req_copy.stream);

  model_response resp;
  resp.finish_reason = "tool_calls";
  resp.tool_calls = {{"call_2", "lookup", "{}"}};
  resp.logprobs = {{"Hi", -0.5}};
  auto resp_copy = round_trip(rt.system(), resp);
  CHECK(resp_copy.finish_reason == "tool_calls");
  CHECK(resp_copy.tool_calls.at(0).id == "call_2");
  CHECK(resp_copy.logprobs.at(0).logprob == -0.5);

  stream_delta delta;
  delta.call_id = "c-1";
  delta.kind = stream_delta_kind::tool_call;
  delta.index = 1;
  delta.text = R"({"q":)";
  auto delta_copy = round_trip(rt.system(), delta);
  CHECK(delta_copy.kind == stream_delta_kind::tool_call);
  CHECK(delta_copy.index == 1);
  CHECK(delta_copy.text == R"({"q":)");

  auto sw = round_trip(rt.system(), stream_switch{"c-1", "gpt-a", "gpt-b", "connection", 42});
  CHECK(sw.to_model == "gpt-b");
  CHECK(sw.kept_chars == 42);
}
