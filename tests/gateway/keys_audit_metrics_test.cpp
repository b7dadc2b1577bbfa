#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "gateway/audit_log.hpp"
#include "gateway/key_store.hpp"
#include "gateway/metrics.hpp"

using nlohmann::json;
using namespace switchyard;
using namespace switchyard::gateway;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed at the end of the test.
struct temp_dir {
  fs::path path;
  explicit temp_dir(const std::string& name) {
    path = fs::temp_directory_path() /
           (name + "-" + std::to_string(::getpid()) + "-" + std::to_string(rand()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string read_all(const fs::path& p) {
  std::ifstream in{p};
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("gateway keys: SHA-256 matches the known digest", "[gateway]") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("gateway keys: a created key authenticates, is stored only hashed, and survives a reopen",
          "[gateway]") {
  temp_dir dir{"sy-keys"};
  std::string key, id;
  {
    auto opened = key_store::open((dir.path / "keys").string());
    REQUIRE(opened.ok());
    auto made = opened.store->create("team-a", 5.0, 60);
    REQUIRE(made.error.empty());
    key = made.key;
    id = made.record.id;
    CHECK(key.rfind("sy-" + id + "-", 0) == 0);
    auto found = opened.store->authenticate(key);
    REQUIRE(found);
    CHECK(found->name == "team-a");
    CHECK(found->rpm == 60);
    // One character off (never the same character: the key may end in "0").
    auto wrong = key;
    wrong.back() = wrong.back() == '0' ? '1' : '0';
    CHECK_FALSE(opened.store->authenticate(wrong));
    CHECK_FALSE(opened.store->authenticate("Bearer nonsense"));
    opened.store->record_usage(id, 0.25, 100);
  }
  // The secret part of the key is nowhere on disk.
  auto secret = key.substr(key.rfind('-') + 1);
  for (const auto& f : fs::recursive_directory_iterator(dir.path))
    if (f.is_regular_file()) CHECK(read_all(f.path()).find(secret) == std::string::npos);
  auto reopened = key_store::open((dir.path / "keys").string());
  REQUIRE(reopened.ok());
  auto found = reopened.store->authenticate(key);
  REQUIRE(found);
  CHECK(found->spent_usd == Approx(0.25));
  CHECK(found->tokens == 100);
  CHECK(found->requests == 1);
}

TEST_CASE("gateway keys: a revoked key no longer authenticates", "[gateway]") {
  temp_dir dir{"sy-keys"};
  auto opened = key_store::open((dir.path / "keys").string());
  REQUIRE(opened.ok());
  auto made = opened.store->create("x", 0, 0);
  REQUIRE(opened.store->authenticate(made.key));
  CHECK(opened.store->revoke(made.record.id).empty());
  CHECK_FALSE(opened.store->authenticate(made.key));
  CHECK(opened.store->list().at(0).revoked);
  CHECK_FALSE(opened.store->revoke("nope").empty());
  CHECK_FALSE(opened.store->create("", 0, 0).error.empty());
}

TEST_CASE("gateway keys: a second process cannot open a key database in use", "[gateway]") {
  temp_dir dir{"sy-keys"};
  auto first = key_store::open((dir.path / "keys").string());
  REQUIRE(first.ok());
  auto second = key_store::open((dir.path / "keys").string());
  CHECK_FALSE(second.ok());
  CHECK(second.error.find("locked") != std::string::npos);
}

TEST_CASE("gateway rate limit: a burst of rpm passes, then one request per 60/rpm seconds",
          "[gateway]") {
  key_rate_limiter limiter;
  for (int i = 0; i < 3; ++i) CHECK(limiter.acquire("k", 3, 1000) == 0);
  auto wait = limiter.acquire("k", 3, 1000);
  CHECK(wait == 20000);
  CHECK(limiter.acquire("k", 3, 1000 + 19999) > 0);
  CHECK(limiter.acquire("k", 3, 1000 + 20000) == 0);
  CHECK(limiter.acquire("other", 3, 1000) == 0);  // per key
  CHECK(limiter.acquire("free", 0, 1000) == 0);   // 0: unlimited
}

TEST_CASE("gateway audit: one JSON line per record, rotated by size, old files dropped",
          "[gateway]") {
  temp_dir dir{"sy-audit"};
  auto path = (dir.path / "audit.jsonl").string();
  {
    audit_log log{path, 4096, 2};
    REQUIRE(log.ok());
    for (int i = 0; i < 100; ++i)
      log.write({{"i", i}, {"key_id", "abc"}, {"pad", std::string(100, 'x')}});
    CHECK(log.lines() == 100);
  }
  CHECK(fs::exists(path));
  CHECK(fs::exists(path + ".1"));
  CHECK(fs::exists(path + ".2"));
  CHECK_FALSE(fs::exists(path + ".3"));
  for (auto p : {path, path + ".1"}) {
    CHECK(fs::file_size(p) <= 4096);
    std::ifstream in{p};
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      CHECK(json::parse(line)["key_id"] == "abc");
      ++n;
    }
    CHECK(n > 0);
  }
  // The newest record is the last line of the live file.
  auto text = read_all(path);
  auto last = text.substr(text.rfind('\n', text.size() - 2) + 1);
  CHECK(json::parse(last)["i"] == 99);
}

TEST_CASE("gateway metrics: Prometheus text with labelled counters and per-route histograms",
          "[gateway]") {
  metrics_registry m;
  model_response ok;
  ok.usage.model_id = "small";
  ok.usage.tier = "local";
  ok.usage.route = "billing";
  ok.usage.input_tokens = 10;
  ok.usage.output_tokens = 4;
  ok.usage.cost_usd = 0.5;
  ok.usage.downgraded = true;
  m.record_model_call(ok, 0.003);
  model_response failed;
  failed.error.kind = "rate_limited";
  m.record_model_call(failed, 0.2);
  m.record_request("/v1/chat/completions", 200, 0.004);
  m.record_rejection("auth");
  auto text = m.render();
  CHECK(text.find("# TYPE switchyard_model_calls_total counter") != std::string::npos);
  CHECK(text.find("switchyard_model_calls_total{tier=\"local\",model=\"small\",route=\"billing\","
                  "outcome=\"ok\"} 1") != std::string::npos);
  CHECK(text.find("switchyard_tokens_total{tier=\"local\",model=\"small\",route=\"billing\","
                  "direction=\"output\"} 4") != std::string::npos);
  CHECK(text.find("switchyard_cost_usd_total{tier=\"local\",model=\"small\",route=\"billing\"} "
                  "0.5") != std::string::npos);
  CHECK(text.find("switchyard_downgrades_total{tier=\"local\",route=\"billing\"} 1") !=
        std::string::npos);
  CHECK(text.find("switchyard_errors_total{kind=\"rate_limited\"} 1") != std::string::npos);
  CHECK(text.find(
            "switchyard_model_call_duration_seconds_bucket{route=\"billing\",le=\"0.005\"} 1") !=
        std::string::npos);
  CHECK(text.find(
            "switchyard_model_call_duration_seconds_bucket{route=\"billing\",le=\"0.0025\"} 0") !=
        std::string::npos);
  CHECK(text.find("switchyard_model_call_duration_seconds_count{route=\"none\"} 1") !=
        std::string::npos);
  CHECK(text.find("switchyard_rejected_requests_total{kind=\"auth\"} 1") != std::string::npos);
  CHECK(m.total("switchyard_model_calls_total") == 2);
  CHECK(label_set({{"a", "x\"y\\z\n"}}) == "{a=\"x\\\"y\\\\z\\n\"}");
}

TEST_CASE("gateway metrics: the model service's resilience stats become counters and breaker gauges",
          "[gateway]") {
  auto text = resilience_metrics_text(
      R"({"calls": 12, "answered": 9, "retries": 3, "fallbacks": 2, "downgraded": 1,
          "blocked": 1, "cache": {"hits": 4, "misses": 8}, "in_flight": 2,
          "key_failovers": 5, "judge": {"calls": 6, "failures": 1},
          "embeddings": {"asked": 7, "failed": 2, "skipped": 3},
          "breakers": [{"endpoint": "gpt|oa|", "state": "open"},
                       {"endpoint": "claude|an|", "state": "closed"}]})");
  CHECK(text.find("# TYPE switchyard_resilience_retries_total counter\n"
                  "switchyard_resilience_retries_total 3\n") != std::string::npos);
  CHECK(text.find("switchyard_resilience_fallbacks_total 2") != std::string::npos);
  CHECK(text.find("switchyard_resilience_blocked_total 1") != std::string::npos);
  CHECK(text.find("switchyard_cache_hits_total 4") != std::string::npos);
  CHECK(text.find("switchyard_cache_misses_total 8") != std::string::npos);
  CHECK(text.find("switchyard_model_calls_in_flight 2") != std::string::npos);
  CHECK(text.find("switchyard_resilience_key_failovers_total 5") != std::string::npos);
  CHECK(text.find("switchyard_judge_calls_total 6") != std::string::npos);
  CHECK(text.find("switchyard_judge_failures_total 1") != std::string::npos);
  CHECK(text.find("switchyard_embeddings_asked_total 7") != std::string::npos);
  CHECK(text.find("switchyard_embeddings_failed_total 2") != std::string::npos);
  CHECK(text.find("switchyard_embeddings_skipped_total 3") != std::string::npos);
  CHECK(text.find("switchyard_breaker_state{endpoint=\"gpt|oa|\",state=\"open\"} 1") !=
        std::string::npos);
  CHECK(text.find("switchyard_breaker_state{endpoint=\"gpt|oa|\",state=\"closed\"} 0") !=
        std::string::npos);
  CHECK(text.find("switchyard_breaker_state{endpoint=\"claude|an|\",state=\"closed\"} 1") !=
        std::string::npos);
  // Counters the service did not report are left out, not invented as zero.
  CHECK(text.find("stream_switches") == std::string::npos);
  CHECK(resilience_metrics_text("not json").rfind("# model service resilience stats unavailable",
                                                   0) == 0);
}

TEST_CASE("gateway metrics: repeated calls add up on the same series as the first", "[gateway]") {
  // The per-call path finds its counters through a cache: the second and later calls of
  // a label combination must land where the first did, and no extra series appear.
  metrics_registry m;
  model_response ok;
  ok.usage.model_id = "small";
  ok.usage.tier = "local";
  ok.usage.route = "billing";
  ok.usage.input_tokens = 10;
  ok.usage.output_tokens = 4;
  ok.usage.cost_usd = 0.25;
  model_response failed = ok;
  failed.error.kind = "timeout";
  for (int i = 0; i < 3; ++i) m.record_model_call(ok, 0.003);
  m.record_model_call(failed, 0.2);
  m.record_model_call(failed, 0.2);
  auto downgraded = ok;
  downgraded.usage.downgraded = true;
  m.record_model_call(downgraded, 0.003);
  for (int i = 0; i < 4; ++i) m.record_request("/v1/chat/completions", 200, 0.004);
  m.record_request("/v1/chat/completions", 504, 0.2);
  auto text = m.render();
  CHECK(text.find("switchyard_model_calls_total{tier=\"local\",model=\"small\",route=\"billing\","
                  "outcome=\"ok\"} 4") != std::string::npos);
  CHECK(text.find("switchyard_model_calls_total{tier=\"local\",model=\"small\",route=\"billing\","
                  "outcome=\"timeout\"} 2") != std::string::npos);
  CHECK(text.find("switchyard_tokens_total{tier=\"local\",model=\"small\",route=\"billing\","
                  "direction=\"input\"} 40") != std::string::npos);
  CHECK(text.find("switchyard_cost_usd_total{tier=\"local\",model=\"small\",route=\"billing\"} 1") !=
        std::string::npos);
  CHECK(text.find("switchyard_errors_total{kind=\"timeout\"} 2") != std::string::npos);
  CHECK(text.find("switchyard_downgrades_total{tier=\"local\",route=\"billing\"} 1") !=
        std::string::npos);
  CHECK(text.find("switchyard_model_call_duration_seconds_count{route=\"billing\"} 6") !=
        std::string::npos);
  CHECK(text.find("switchyard_http_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"}"
                  " 4") != std::string::npos);
  CHECK(text.find("switchyard_http_requests_total{endpoint=\"/v1/chat/completions\",status=\"504\"}"
                  " 1") != std::string::npos);
  CHECK(text.find("switchyard_http_request_duration_seconds_count{endpoint=\"/v1/chat/"
                  "completions\"} 5") != std::string::npos);
  // Failed calls add no token or cost series of their own.
  CHECK(m.total("switchyard_tokens_total") == 4 * 14);
  CHECK(m.total("switchyard_model_calls_total") == 6);
}
