// The model service routing on an embeddings service (router.embeddings), the stub
// provider serving /v1/embeddings and chat completions on 127.0.0.1: the embedding is
// awaited as a message (the actor stays responsive while the service hangs), a failing
// service falls back to the TF-IDF classifier with a trace entry and a cooldown, and the
// response cache matches paraphrases on the service's vectors.

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <random>

#include "caf/all.hpp"
#include "router/model_service.hpp"
#include "router/route_training.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/messages.hpp"
#include "stub/stub_server.hpp"
#include "tests/support/model_service_calls.hpp"
#include "runtime/trace_codec.hpp"

namespace switchyard {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const char* key_var = "SWITCHYARD_TEST_EMBED_SERVICE_KEY";

struct service_fixture {
  std::unique_ptr<stub_server> stub;
  std::shared_ptr<const config> cfg;
  budget_ledger ledger;
  actor_runtime runtime{runtime_settings{"sharing", 2, "off"}};
  std::filesystem::path cache_dir;
  caf::actor service;

  // `script` drives the stub; the embeddings model is "embed-stub", the chat models
  // "small" (local tier: shipping) and "big" (frontier tier: coding).
  explicit service_fixture(const std::string& script = "{}", bool cache = false) {
    setenv(key_var, "sk-embed-SECRET", 1);
    std::string error;
    auto parsed = parse_stub_script(json::parse(script), error);
    REQUIRE(parsed);
    stub = stub_server::start(0, *parsed, error);
    INFO(error);
    REQUIRE(stub);
    std::random_device rd;
    cache_dir = std::filesystem::temp_directory_path() /
                ("switchyard-embed-cache-" + std::to_string(rd()) + std::to_string(rd()));
    std::string text = R"({"runtime": {"workers": 2, "log_level": "off"},
      "tiers": ["local", "frontier"],
      "providers": [{"name": "oa", "kind": "openai", "base_url": ")" +
                       stub->base_url() + R"(/v1", "api_key_env": ")" + key_var + R"("}],
      "models": [
        {"id": "small", "provider": "oa", "tier": "local", "price_in_per_mtok": 1,
         "price_out_per_mtok": 1, "context_window": 8192, "residency": "cloud"},
        {"id": "big", "provider": "oa", "tier": "frontier", "price_in_per_mtok": 5,
         "price_out_per_mtok": 5, "context_window": 8192, "residency": "cloud"}],
      "router": {
        "routes": [
          {"name": "shipping", "tier": "local", "examples": ["where is my parcel",
            "my parcel has not arrived", "track my parcel delivery", "the parcel is late"]},
          {"name": "coding", "tier": "frontier", "examples": ["write a python function",
            "fix this python code", "my code does not compile", "explain this function"]}],
        "embeddings": {"provider": "oa", "model": "embed-stub", "dimension": 64,
                       "timeout_ms": 1000, "cooldown_ms": 60000}},
      "resilience": {"retry": {"max_attempts": 1})" +
                       (cache ? R"(, "cache": {"path": ")" + cache_dir.string() +
                                    R"(", "semantic_threshold": 0.8})"
                              : std::string()) +
                       "}}";
    auto loaded = parse_config_text(text, "embed-service-test");
    INFO(loaded.message());
    REQUIRE(loaded.ok());
    cfg = std::make_shared<const config>(std::move(*loaded.value));
    ledger.open_thread("t1", {1000000, 100.0});
    auto policy = build_routing_policy(cfg);  // embeds the examples: a blocking call, here
    service = spawn_model_service(runtime.system(), cfg, ledger, policy);
  }
  ~service_fixture() {
    caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
    std::error_code ec;
    std::filesystem::remove_all(cache_dir, ec);
  }

  model_response ask(const std::string& text) {
    model_request req;
    req.ctx.thread_id = "t1";
    req.call_id = "call-" + text;
    req.max_tokens = 50;
    req.messages = {{"system", "be brief"}, {"user", text}};
    return test::call_model_service(runtime.system(), service, req, 10s);
  }

  json stats() { return test::model_service_stats(runtime.system(), service); }

  size_t requests_to(const std::string& target) const {
    size_t n = 0;
    for (const auto& r : stub->requests()) n += r.target == target;
    return n;
  }
};

}  // namespace

TEST_CASE("model service routes on the embeddings service's vectors",
          "[model_service][embeddings]") {
  service_fixture f;
  const size_t training_calls = f.requests_to("/v1/embeddings");
  CHECK(training_calls == 1);  // 8 examples, one batch

  auto r = f.ask("where is my parcel, it has not arrived");
  INFO(r.error.message);
  REQUIRE(r.ok());
  CHECK(r.usage.route == "shipping");
  CHECK(r.usage.model_id == "small");
  auto trace = json::parse(trace_json(r.usage.decision.bytes));
  CHECK(trace["route_source"] == "classifier");
  CHECK(trace["classifier"]["encoder"] == "embeddings embed-stub");
  CHECK(f.requests_to("/v1/embeddings") == training_calls + 1);
  auto asked = json::parse(f.stub->requests()[training_calls].body);
  CHECK(asked["input"] == json::array({"where is my parcel, it has not arrived"}));

  r = f.ask("please fix this python function");
  REQUIRE(r.ok());
  CHECK(r.usage.route == "coding");
  CHECK(r.usage.model_id == "big");
  CHECK(f.stats()["embeddings"] == json{{"asked", 2}, {"failed", 0}, {"skipped", 0}});
}

TEST_CASE(
    "model service falls back to TF-IDF when the embeddings service fails, then stops "
    "asking for the cooldown",
    "[model_service][embeddings]") {
  service_fixture f;
  // Training is done; from now on every embeddings call fails.
  f.stub->set_script(*[] {
    std::string error;
    return parse_stub_script(
        json::parse(R"({"models": {"embed-stub": {"sequence": [{"behaviour": "server_error"}]}}})"),
        error);
  }());
  auto r = f.ask("where is my parcel, it has not arrived");
  INFO(r.error.message);
  REQUIRE(r.ok());  // never fails the call because routing embeddings are down
  CHECK(r.usage.route == "shipping");
  auto trace = json::parse(trace_json(r.usage.decision.bytes));
  const std::string encoder = trace["classifier"]["encoder"];
  CHECK(encoder.find("tfidf (embeddings not used: embeddings service 'oa' (model embed-stub): "
                     "server_error") == 0);
  CHECK(encoder.find("SECRET") == std::string::npos);
  REQUIRE(trace["resilience"]["events"].size() == 1);
  CHECK(trace["resilience"]["events"][0].get<std::string>().find(
            "routing embeddings failed, TF-IDF fallback") == 0);

  const size_t embed_calls = f.requests_to("/v1/embeddings");
  r = f.ask("write a python function");
  REQUIRE(r.ok());
  CHECK(r.usage.route == "coding");
  CHECK(f.requests_to("/v1/embeddings") == embed_calls);  // within the cooldown: not asked
  trace = json::parse(trace_json(r.usage.decision.bytes));
  CHECK(trace["classifier"]["encoder"].get<std::string>().find(
            "tfidf (embeddings not used: the service failed") == 0);
  CHECK(f.stats()["embeddings"] == json{{"asked", 1}, {"failed", 1}, {"skipped", 1}});
}

TEST_CASE("model service stays responsive while the embeddings service hangs",
          "[model_service][embeddings]") {
  service_fixture f;
  std::string error;
  f.stub->set_script(*parse_stub_script(
      json::parse(R"({"models": {"embed-stub": {"sequence": [{"behaviour": "hang"}]}}})"), error));
  caf::scoped_actor self{f.runtime.system()};
  model_request req;
  req.ctx.thread_id = "t1";
  req.call_id = "hanging";
  req.max_tokens = 50;
  req.messages = {{"user", "where is my parcel"}};
  auto started = std::chrono::steady_clock::now();
  self->send(f.service, req);
  // The actor answers other messages while the embedding is awaited.
  auto stats = f.stats();
  CHECK(stats["in_flight"] == 1);
  CHECK(std::chrono::steady_clock::now() - started < 900ms);  // before the timeout
  model_response out;
  self->receive([&](model_response& r) { out = std::move(r); },
                caf::after(5s) >> [&] { FAIL("no answer after the embeddings timeout"); });
  INFO(out.error.message);
  CHECK(out.ok());
  CHECK(out.usage.route == "shipping");
  CHECK(std::chrono::steady_clock::now() - started >= 1000ms);  // router.embeddings.timeout_ms
  auto trace = json::parse(trace_json(out.usage.decision.bytes));
  CHECK(trace["classifier"]["encoder"].get<std::string>().find("timeout") != std::string::npos);
}

TEST_CASE("model service cache matches paraphrases on the embeddings service's vectors",
          "[model_service][embeddings][cache]") {
  service_fixture f("{}", true);
  auto first = f.ask("where is my parcel");
  REQUIRE(first.ok());
  const size_t chats = f.requests_to("/v1/chat/completions");
  auto again = f.ask("where is my parcel now");
  INFO(again.error.message);
  REQUIRE(again.ok());
  CHECK(again.text == first.text);
  CHECK(f.requests_to("/v1/chat/completions") == chats);  // answered from the cache
  auto trace = json::parse(trace_json(again.usage.decision.bytes));
  CHECK(trace["resilience"]["cache"] == "semantic");
  auto other = f.ask("write a python function");
  REQUIRE(other.ok());
  CHECK(f.requests_to("/v1/chat/completions") == chats + 1);
  CHECK(f.stats()["cache"] == json{{"hits", 1}, {"misses", 2}});
}

}  // namespace switchyard
