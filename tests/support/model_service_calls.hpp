// Blocking calls to a model service actor from a test's own thread, shared by the model
// service tests: the answer (or a test failure naming the CAF error), the service's
// resilience counters, and the resilience part of a response's decision trace.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "caf/all.hpp"
#include "runtime/messages.hpp"
#include "runtime/trace_codec.hpp"

namespace switchyard::test {

inline model_response call_model_service(caf::actor_system& sys, const caf::actor& service,
                                         const model_request& req,
                                         std::chrono::milliseconds timeout) {
  caf::scoped_actor self{sys};
  model_response out;
  self->request(service, timeout, req)
      .receive([&](model_response& r) { out = std::move(r); },
               [&](caf::error& e) { FAIL("model service error: " << to_string(e)); });
  return out;
}

inline nlohmann::json model_service_stats(caf::actor_system& sys, const caf::actor& service) {
  caf::scoped_actor self{sys};
  std::string text;
  self->request(service, std::chrono::seconds{5}, resilience_stats_atom::value)
      .receive([&](std::string& s) { text = std::move(s); },
               [&](caf::error& e) { FAIL("stats error: " << to_string(e)); });
  return nlohmann::json::parse(text);
}

inline nlohmann::json resilience_of(const model_response& r) {
  auto trace = nlohmann::json::parse(trace_json(r.usage.decision.bytes));
  return trace.contains("resilience") ? trace["resilience"] : nlohmann::json::object();
}

}  // namespace switchyard::test
