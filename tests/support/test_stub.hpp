#pragma once

// The stub provider for a test: started on an ephemeral 127.0.0.1 port with the given
// script (JSON text); the test fails with the parser's or the server's message.

#include <catch2/catch.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "stub/stub_server.hpp"

namespace switchyard::testing {

inline std::unique_ptr<stub_server> start_test_stub(const std::string& script_text = "{}") {
  std::string error;
  auto script = parse_stub_script(nlohmann::json::parse(script_text), error);
  INFO(error);
  REQUIRE(script);
  auto stub = stub_server::start(0, *script, error);
  INFO(error);
  REQUIRE(stub);
  return stub;
}

}  // namespace switchyard::testing
