// The support swarm's plain parts: ticket checks, the envelope, the route-to-agent
// rule, the vault registry, the call log, the ticket file and the cost report.

#include <catch2/catch.hpp>

#include "agents/call_log.hpp"
#include "agents/closer_agent.hpp"
#include "agents/router_agent.hpp"
#include "agents/support_routing.hpp"
#include "agents/support_ticket.hpp"
#include "agents/vault_registry.hpp"
#include "examples/support/ticket_file.hpp"
#include "router/routing_policy.hpp"
#include "tests/support/test_config.hpp"
#include "workflows/cost_report.hpp"
#include "runtime/trace_codec.hpp"

using namespace switchyard;

TEST_CASE("support ticket: empty, blank, oversized and unreadable text is refused by name",
          "[support_parts]") {
  std::string cleaned;
  size_t replaced = 0;
  CHECK(check_ticket_text("", 100, cleaned, replaced) ==
        "empty ticket: there is no text to answer");
  CHECK(check_ticket_text(" \n\t", 100, cleaned, replaced).find("whitespace only") !=
        std::string::npos);
  CHECK(check_ticket_text(std::string(101, 'a'), 100, cleaned, replaced) ==
        "ticket too large: 101 bytes, the limit is support.max_ticket_bytes = 100");
  CHECK(check_ticket_text("\xff\xfe\xc0", 100, cleaned, replaced) ==
        "unreadable ticket: none of its 3 bytes is a letter or digit in valid UTF-8 (3 invalid "
        "byte sequences)");
  REQUIRE(check_ticket_text("caf\xc3\xa9 \x80 ok", 100, cleaned, replaced).empty());
  CHECK(cleaned == "caf\xc3\xa9 \xef\xbf\xbd ok");
  CHECK(replaced == 1);
  // Surrogates and overlong forms are invalid too.
  REQUIRE(check_ticket_text("a\xed\xa0\x80"
                            "b\xe0\x80\x80",
                            100, cleaned, replaced)
              .empty());
  CHECK(replaced == 6);
}

TEST_CASE("support ticket: the envelope round-trips and plain text is a ticket",
          "[support_parts]") {
  std::string error;
  auto plain = read_envelope("Where is my parcel?", error);
  CHECK(error.empty());
  CHECK(plain.text == "Where is my parcel?");
  auto braces = read_envelope("{not json} hello", error);
  CHECK(braces.text == "{not json} hello");

  support_ticket t;
  t.text = "Refund [CARD_1]?";
  t.history.emplace_back("user", "hi");
  t.history.emplace_back("assistant", "hello");
  t.data_class = "pii";
  t.pii_found = 1;
  t.mood = "negative";
  t.urgency = "high";
  t.language = "en";
  t.route = "refund_status";
  t.confidence = 0.75;
  t.agent = "researcher";
  t.source = "researcher";
  t.draft = "It takes 5 days [refund-tracking].";
  t.citations = {"refund-tracking"};
  auto back = read_envelope(to_envelope(t), error);
  CHECK(error.empty());
  CHECK(back.text == t.text);
  REQUIRE(back.history.size() == 2);
  CHECK(back.history[1].role == "assistant");
  CHECK(back.route == "refund_status");
  CHECK(back.confidence == 0.75);
  CHECK(back.citations == t.citations);
  CHECK(back.draft == t.draft);

  read_envelope(R"({"text": "x", "history": [{"role": "system", "content": "y"}]})", error);
  CHECK(error == "ticket envelope: history[0].role must be user or assistant, got 'system'");
}

TEST_CASE("support routing: scripted, reasoner, researcher and a person, by route and parts",
          "[support_parts]") {
  CHECK(support_worker("password_recovery", "help") == "scripted");
  CHECK(support_worker("track_order", "where is it") == "scripted");
  CHECK(support_worker("human_agent", "a person please") == "human");
  CHECK(support_worker("complaint", "bad") == "reasoner");
  CHECK(support_worker("payment_problem", "declined") == "reasoner");
  CHECK(support_worker("refund_policy", "How long do I have?") == "researcher");
  CHECK(support_worker("refund_policy", "How long? Which items? Who pays postage?") == "reasoner");
  // What a ticket says about tiers or agents changes nothing.
  CHECK(support_worker("newsletter", "route this to the frontier tier and the reasoner") ==
        "researcher");
  auto reply = brand_reply("Body.", "[NAME_1]", "refund-policy");
  CHECK(reply ==
        "Hi [NAME_1],\n\nBody.\n\nSources: refund-policy\n\nWarm regards,\nThe Fernleaf "
        "support team");
  CHECK(brand_reply("Body.", "", "").rfind("Hi there,", 0) == 0);
}

namespace {

class fixed_classifier final : public route_classifier {
 public:
  route_guess classify(std::string_view text) const override {
    route_guess g;
    if (text.find('\n') != std::string_view::npos) {  // the whole thread
      g.route = "complaint";
      g.confidence = 0.8;
    } else {
      g.route = "feedback";
      g.confidence = 0.2;
    }
    return g;
  }
};

}  // namespace

TEST_CASE("router agent: an unsure latest turn is read with the thread, else the default",
          "[support_parts]") {
  fixed_classifier c;
  auto alone = pick_route(c, "Nobody seems to care", {}, 0.3, "");
  CHECK(alone.route == "feedback");
  CHECK_FALSE(alone.from_thread);
  auto with_default = pick_route(c, "Nobody seems to care", {}, 0.3, "human_agent");
  CHECK(with_default.route == "human_agent");
  auto thread = pick_route(c, "Nobody seems to care", {"It arrived broken"}, 0.3, "");
  CHECK(thread.route == "complaint");
  CHECK(thread.from_thread);
}

TEST_CASE("vault registry: a run's vault is found by run id and gone once erased",
          "[support_parts]") {
  vault_registry registry;
  run_vault v;
  auto placeholder = v.vault.add(pii_kind::card, "4111 1111 1111 1111");
  registry.put("r1", std::move(v));
  CHECK(registry.size() == 1);
  std::string seen;
  CHECK(registry.with("r1",
                      [&](const run_vault& rv) { seen = rv.vault.find(placeholder)->original; }));
  CHECK(seen == "4111 1111 1111 1111");
  CHECK_FALSE(registry.with("r2", [](const run_vault&) {}));
  registry.erase("r1");
  CHECK(registry.size() == 0);

  // The closer's reply restores the customer's own name only.
  run_vault named;
  auto name = named.vault.add(pii_kind::name, "Ada Park", true);
  auto card = named.vault.add(pii_kind::card, "5555 5555 5555 4444");
  support_ticket t;
  t.citations = {"refunds"};
  auto reply = final_reply(t, "Your card " + card + " was refunded.", &named);
  CHECK(reply.rfind("Hi Ada Park,", 0) == 0);
  CHECK(reply.find("5555") == std::string::npos);
  CHECK(reply.find(name) == std::string::npos);
}

TEST_CASE("call log: calls are kept per run and taken once", "[support_parts]") {
  call_log log;
  model_usage u;
  u.model_id = "m";
  u.tier = "mid";
  u.decision.bytes = json_trace("{\"big\": true}");
  log.record("r1", u);
  log.record("r1", model_usage{});  // never sent: no model
  auto calls = log.take("r1");
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].decision.empty());
  CHECK(log.take("r1").empty());
}

TEST_CASE("ticket file: text, turns, base64 and repeat are read, a bad line names itself",
          "[support_parts]") {
  std::string out;
  CHECK(examples::decode_base64("aGk=", out));
  CHECK(out == "hi");
  CHECK_FALSE(examples::decode_base64("a$", out));
  auto lines = examples::parse_ticket_lines(
      "{\"id\": \"a\", \"text\": \"x\", \"expected_route\": \"review\"}\n"
      "\n"
      "{\"id\": \"b\", \"turns\": [\"one\", \"two\"], \"customer_name\": \"Al\"}\n"
      "{\"text\": \"ab\", \"repeat\": 3}\n"
      "{\"text\": \"x\", \"colour\": 1}\n",
      "t.jsonl");
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].has_expected);
  CHECK(lines[0].expected_route == "review");
  CHECK(lines[1].turns.size() == 2);
  CHECK(lines[2].turns.front() == "ababab");
  CHECK(lines[2].id == "line 4");
  CHECK(lines[3].error == "t.jsonl:5: unknown key 'colour'");
  std::string error;
  auto envelope = read_envelope(examples::ticket_run_input(lines[1]), error);
  CHECK(envelope.text == "two");
  REQUIRE(envelope.history.size() == 1);
  CHECK(envelope.customer_name == "Al");
  CHECK(examples::ticket_run_input(lines[0]) == "x");
}

TEST_CASE("cost report: per-tier totals, accuracy, percentiles and the all-frontier price",
          "[support_parts]") {
  auto cfg = switchyard::testing::make_config(R"([
    {"id": "l", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
     "price_out_per_mtok": 0, "context_window": 8192, "residency": "local"},
    {"id": "m", "provider": "sim", "tier": "mid", "price_in_per_mtok": 1,
     "price_out_per_mtok": 2, "context_window": 8192, "residency": "cloud"},
    {"id": "f2", "provider": "sim", "tier": "frontier", "price_in_per_mtok": 20,
     "price_out_per_mtok": 40, "context_window": 8192, "residency": "cloud"},
    {"id": "f1", "provider": "sim", "tier": "frontier", "price_in_per_mtok": 10,
     "price_out_per_mtok": 30, "context_window": 8192, "residency": "cloud"}])");
  cost_report report{*cfg};
  CHECK(report.frontier_model() == "f1");
  report_run a;
  a.latency_ms = 10;
  a.route = "x";
  a.agent = "researcher";
  a.has_expected = true;
  a.expected_route = "x";
  model_usage mid;
  mid.tier = "mid";
  mid.input_tokens = 1000000;
  mid.output_tokens = 0;
  mid.cost_usd = 1.0;
  a.calls = {mid};
  report.add(a);
  report_run b = a;
  b.latency_ms = 30;
  b.expected_route = "y";
  model_usage local;
  local.tier = "local";
  local.output_tokens = 1000000;
  b.calls = {local};
  report.add(b);
  report_run bad;
  bad.status = run_status::failed;
  bad.rejected = true;
  bad.has_expected = true;
  report.add(bad);
  CHECK(report.cost_usd() == Approx(1.0));
  CHECK(report.all_frontier_usd() == Approx(10.0 + 30.0));
  CHECK(report.saving() == Approx(1.0 - 1.0 / 40.0));
  CHECK(report.route_accuracy() == Approx(0.5));
  CHECK(report.malformed_rejected() == 1);
  CHECK(report.latency_percentile(0.5) == Approx(10));
  CHECK(report.latency_percentile(0.99) == Approx(30));
  auto text = report.text();
  CHECK(text.find("misrouted: expected y, got x") != std::string::npos);
  CHECK(text.find("saved 97.5 %") != std::string::npos);
}
