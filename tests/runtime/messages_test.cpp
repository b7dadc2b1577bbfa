// Messages must survive the wire: a caf::message is serialized by type name, so this
// fails when a type is not registered in actor_config or its inspect misses a field.

#include <catch2/catch.hpp>

#include "caf/all.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/messages.hpp"

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
  auto req_copy = round_trip(rt.system(), req);
  CHECK(req_copy.ctx.step == 4);
  CHECK(req_copy.ctx.hops == 2);
  CHECK(req_copy.ctx.thread_id == "t-2");
  REQUIRE(req_copy.messages.size() == 2);
  CHECK(req_copy.messages[1].content == "hi");
  CHECK(req_copy.max_tokens == 99);

  model_response resp;
  resp.call_id = "c";
  resp.usage = {"m", "mid", 10, 20, 0.5, 12.5};
  resp.error = {"rate_limited", "slow down", 1500, {}};
  auto resp_copy = round_trip(rt.system(), resp);
  CHECK(resp_copy.usage.output_tokens == 20);
  CHECK(resp_copy.usage.latency_ms == 12.5);
  CHECK(resp_copy.error.retry_after_ms == 1500);

  auto call = round_trip(rt.system(), agent_call{{"r", "t", 1, 1}, "ping", "pong", "x"});
  CHECK(call.to == "pong");
  auto step = round_trip(rt.system(), step_request{{"r", "t", 1, 1}, step_kind::escalation,
                                                   "safety", "", "why"});
  CHECK(step.kind == step_kind::escalation);
  auto reply = round_trip(rt.system(), step_reply{"out", "label", {resp.usage}, {}});
  CHECK(reply.calls.at(0).model_id == "m");
}
