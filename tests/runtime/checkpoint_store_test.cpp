// The RocksDB checkpoint store on its own: formats, the ledger's once-only rule,
// locking, bad records, retention.

#include "runtime/checkpoint_store.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "runtime/run_result_json.hpp"
#include "runtime/trace_codec.hpp"
#include "tests/support/layout1_store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace switchyard;
using switchyard::testing::layout1_contents;
using switchyard::testing::stored_key_count;
using switchyard::testing::stored_layout_version;
using switchyard::testing::temp_dir;
using switchyard::testing::write_layout1_store;

namespace {

run_checkpoint a_state(const std::string& run_id, run_status status = run_status::running) {
  run_checkpoint c;
  c.run_id = run_id;
  c.workflow = "hello";
  c.input = "Where is my order?";
  c.thread_id = "t-1";
  c.own_thread = true;
  c.status = status;
  c.next_node = "intake";
  c.next_input = "Where is my order?";
  c.created_ms = 1000;
  c.updated_ms = 2000;
  return c;
}

step_record a_step(uint32_t n) {
  step_record s;
  s.step = n;
  s.agent = "answerer";
  s.output = "an answer";
  s.model = "mid-a";
  s.tier = "mid";
  s.model_calls = 1;
  s.input_tokens = 10;
  s.output_tokens = 20;
  s.cost_usd = 0.00005;
  return s;
}

ledger_entry a_call(const std::string& run_id, uint32_t step) {
  return {run_id + "/" + std::to_string(step) + ".0", run_id, "t-1", "mid-a", 30, 50000};
}

}  // namespace

TEST_CASE("store: a state round-trips through its versioned JSON (layouts 1 to 3)", "[store]") {
  auto c = a_state("r-1", run_status::blocked);
  c.waits_for = "sim";
  c.reason = "provider_down";
  c.next_step = 3;
  c.next_hops = 2;
  c.spent_nano_usd = 123456;
  std::string error;
  auto back = decode_checkpoint(encode_checkpoint_json(c), error);
  REQUIRE(back);
  CHECK(back->status == run_status::blocked);
  CHECK(back->waits_for == "sim");
  CHECK(back->next_step == 3);
  CHECK(back->next_hops == 2);
  CHECK(back->spent_nano_usd == 123456);
  CHECK(encode_checkpoint_json(c).find("\"v\":1") != std::string::npos);
}

TEST_CASE("store: a binary state (layout 4) round-trips every field", "[store]") {
  for (auto status : {run_status::running, run_status::blocked, run_status::completed,
                      run_status::escalated, run_status::failed}) {
    auto c = a_state("r-\"7\"", status);
    c.own_thread = status == run_status::blocked;
    c.reason = "hop_limit";
    c.detail = "more than 8 hops";
    c.waits_for = "sim";
    c.output = std::string{"bytes \xff\x00 kept as they are"};
    c.next_node = "closer";
    c.next_kind = step_kind::escalation;
    c.next_input = status == run_status::running ? c.input : "moved on";
    c.next_step = 300;
    c.next_hops = 7;
    c.hops = 6;
    c.steps = 300;
    c.input_tokens = 1ull << 40;
    c.output_tokens = 12;
    c.spent_nano_usd = -5;
    c.escalating = status == run_status::escalated;
    c.created_ms = 1795360006888;
    c.updated_ms = -1;
    c.seq = 70000;
    auto bytes = encode_checkpoint(c);
    CHECK(bytes[0] == '\x04');
    CHECK(bytes.size() < encode_checkpoint_json(c).size());
    std::string error;
    auto back = decode_checkpoint(bytes, error);
    INFO(error);
    REQUIRE(back);
    CHECK(back->run_id == c.run_id);
    CHECK(back->workflow == c.workflow);
    CHECK(back->input == c.input);
    CHECK(back->thread_id == c.thread_id);
    CHECK(back->own_thread == c.own_thread);
    CHECK(back->status == status);
    CHECK(back->reason == c.reason);
    CHECK(back->detail == c.detail);
    CHECK(back->waits_for == c.waits_for);
    CHECK(back->output == c.output);
    CHECK(back->next_node == c.next_node);
    CHECK(back->next_kind == c.next_kind);
    CHECK(back->next_input == c.next_input);
    CHECK(back->next_step == c.next_step);
    CHECK(back->next_hops == c.next_hops);
    CHECK(back->hops == c.hops);
    CHECK(back->steps == c.steps);
    CHECK(back->input_tokens == c.input_tokens);
    CHECK(back->output_tokens == c.output_tokens);
    CHECK(back->spent_nano_usd == c.spent_nano_usd);
    CHECK(back->escalating == c.escalating);
    CHECK(back->created_ms == c.created_ms);
    CHECK(back->updated_ms == c.updated_ms);
    CHECK(back->seq == c.seq);
    CHECK(encode_checkpoint(*back) == bytes);
  }
}

TEST_CASE("store: a binary state cut short, too long or of an unknown format names what is wrong",
          "[store]") {
  auto c = a_state("r-1");
  c.output = "the final answer";
  auto bytes = encode_checkpoint(c);
  std::string error;
  // Cut inside the output: its length runs past the end.
  auto at = bytes.find("the final");
  REQUIRE(at != std::string::npos);
  CHECK_FALSE(decode_checkpoint(bytes.substr(0, at + 3), error));
  CHECK_THAT(error, Catch::Contains("state: field 'output' at byte " + std::to_string(at - 1)));
  CHECK_THAT(error, Catch::Contains("runs past the end"));
  // Cut at the very end: the last field is missing.
  CHECK_FALSE(decode_checkpoint(bytes.substr(0, bytes.size() - 1), error));
  CHECK_THAT(error, Catch::Contains("field 'seq'"));
  CHECK_FALSE(decode_checkpoint(bytes + "xy", error));
  CHECK_THAT(error, Catch::Contains("2 bytes after the last field"));
  auto bad_status = bytes;
  auto status_at = 1 + 1 + c.run_id.size() + 1 + c.workflow.size() + 1 + c.input.size() + 1 +
                   c.thread_id.size();
  bad_status[status_at] = 9;
  CHECK_FALSE(decode_checkpoint(bad_status, error));
  CHECK_THAT(error, Catch::Contains("field 'status' at byte " + std::to_string(status_at) +
                                    ": unknown status 9"));
  CHECK_FALSE(decode_checkpoint(std::string{"\x09" "abc"}, error));
  CHECK_THAT(error, Catch::Contains("unknown format (first byte 0x09)"));
}

TEST_CASE("store: a state of another schema version or garbage does not decode, with a reason",
          "[store]") {
  std::string error;
  CHECK_FALSE(decode_checkpoint("{not json", error));
  CHECK(error.find("does not decode") != std::string::npos);
  auto text = encode_checkpoint_json(a_state("r-1"));
  text.replace(text.find("\"v\":1"), 5, "\"v\":9");
  CHECK_FALSE(decode_checkpoint(text, error));
  CHECK(error.find("schema version 9") != std::string::npos);
}

TEST_CASE("store: a step's write holds the state, that step only, and its calls once", "[store]") {
  temp_dir dir{"store"};
  auto opened = checkpoint_store::open({dir.sub("db")});
  REQUIRE(opened.ok());
  auto& store = *opened.store;
  auto first = store.write_step(a_state("r-1"), {a_step(0)}, {a_call("r-1", 0)});
  REQUIRE(first.ok());
  CHECK(first.ledger_added == 1);
  // The same step written again (an attempt after a crash) does not pay again.
  auto again = store.write_step(a_state("r-1"), {a_step(0)}, {a_call("r-1", 0)});
  REQUIRE(again.ok());
  CHECK(again.ledger_added == 0);
  REQUIRE(store.write_step(a_state("r-1"), {a_step(1)}, {a_call("r-1", 1)}).ok());
  auto steps = store.steps("r-1");
  REQUIRE(steps.size() == 2);
  CHECK(steps[1].step == 1);
  auto ledger = store.ledger("r-1");
  REQUIRE(ledger.size() == 2);
  CHECK(ledger[0].call_id == "r-1/0.0");
  CHECK(store.has_call("r-1/1.0"));
  // Runs whose ids share a prefix keep their own ledgers.
  REQUIRE(store.write_step(a_state("r-10"), {a_step(0)}, {a_call("r-10", 0)}).ok());
  CHECK(store.ledger("r-1").size() == 2);
  CHECK(store.steps("r-1").size() == 2);
}

TEST_CASE("store: a second process cannot open a database in use; the error names the path",
          "[store]") {
  temp_dir dir{"store"};
  auto first = checkpoint_store::open({dir.sub("db")});
  REQUIRE(first.ok());
  auto second = checkpoint_store::open({dir.sub("db")});
  REQUIRE_FALSE(second.ok());
  CHECK(second.locked);
  CHECK(second.error.find(dir.sub("db")) != std::string::npos);
  CHECK(second.error.find("locked by another process") != std::string::npos);
  // Read-only opening (runs list / show) works beside it.
  auto reader = checkpoint_store::open({dir.sub("db"), false, true});
  CHECK(reader.ok());
}

TEST_CASE("store: an undecodable state is listed with its reason, the others decode", "[store]") {
  temp_dir dir{"store"};
  auto opened = checkpoint_store::open({dir.sub("db")});
  REQUIRE(opened.ok());
  auto& store = *opened.store;
  REQUIRE(store.write_states({a_state("good")}).ok());
  REQUIRE(store.put_raw_state("bad", "\x01\x02 garbage").empty());
  auto all = store.list();
  REQUIRE(all.size() == 2);
  CHECK_FALSE(all[0].state);  // "bad" sorts first
  CHECK_FALSE(all[0].error.empty());
  CHECK(all[1].state);
}

TEST_CASE("store: gc deletes ended runs older than the cutoff with their steps and ledger",
          "[store]") {
  temp_dir dir{"store"};
  auto opened = checkpoint_store::open({dir.sub("db")});
  REQUIRE(opened.ok());
  auto& store = *opened.store;
  auto old_done = a_state("old", run_status::completed);
  old_done.updated_ms = 1000;
  auto old_blocked = a_state("waiting", run_status::blocked);
  old_blocked.updated_ms = 1000;
  auto fresh = a_state("fresh", run_status::completed);
  fresh.updated_ms = 9000;
  REQUIRE(store.write_step(old_done, {a_step(0)}, {a_call("old", 0)}).ok());
  REQUIRE(store.write_states({old_blocked, fresh}).ok());
  CHECK(store.erase_ended_before(5000) == 1);
  CHECK_FALSE(store.load("old"));
  CHECK(store.steps("old").empty());
  CHECK_FALSE(store.has_call("old/0.0"));
  CHECK(store.load("waiting"));  // not ended: never collected
  CHECK(store.load("fresh"));
}

TEST_CASE("store: a failing write reports the path and changes nothing", "[store]") {
  temp_dir dir{"store"};
  auto opened = checkpoint_store::open({dir.sub("db")});
  REQUIRE(opened.ok());
  auto& store = *opened.store;
  store.set_write_hook([](size_t) { return std::string{"No space left on device"}; });
  auto out = store.write_step(a_state("r-1"), {a_step(0)}, {a_call("r-1", 0)});
  CHECK_FALSE(out.ok());
  CHECK(out.error.find(dir.sub("db")) != std::string::npos);
  CHECK(out.error.find("No space left") != std::string::npos);
  CHECK_FALSE(store.load("r-1"));
  CHECK_FALSE(store.has_call("r-1/0.0"));
}

TEST_CASE(
    "store: text with quotes, control characters, Unicode and invalid UTF-8 round-trips "
    "as valid JSON",
    "[store]") {
  auto c = a_state("r-\"1\"");
  c.input = "line 1\nline 2\t\"quoted\" back\\slash \x01 caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
  c.output = std::string{"bad \xff byte and cut \xe2\x82"};
  std::string error;
  auto back = decode_checkpoint(encode_checkpoint_json(c), error);
  INFO(error);
  REQUIRE(back);
  CHECK(back->run_id == c.run_id);
  CHECK(back->input == c.input);
  CHECK(back->output == "bad \xef\xbf\xbd byte and cut \xef\xbf\xbd\xef\xbf\xbd");
  // The binary state (layout 4) keeps every byte as it was.
  back = decode_checkpoint(encode_checkpoint(c), error);
  REQUIRE(back);
  CHECK(back->input == c.input);
  CHECK(back->output == c.output);
  auto s = a_step(7);
  s.output = "say \"hi\"\n";
  s.error = "timeout: took\ttoo long";
  s.caller = "intake";
  s.latency_ms = 12.345;
  auto step = decode_step(encode_step(s), error);
  INFO(error);
  REQUIRE(step);
  CHECK(step->output == s.output);
  CHECK(step->error == s.error);
  CHECK(step->caller == "intake");
  CHECK(step->cost_usd == s.cost_usd);
  CHECK(step->latency_ms == s.latency_ms);
  // Routing survives a checkpoint: runs show prints decision traces after a restart.
  s.route = "billing";
  s.downgraded = true;
  s.decisions.bytes = json_trace(R"({"outcome":"routed","route":"billing","candidates":[]})");
  step = decode_step(encode_step(s), error);
  REQUIRE(step);
  CHECK(step->route == "billing");
  CHECK(step->downgraded);
  CHECK(step->decisions == s.decisions);
  CHECK(traces_json_array(step->decisions.bytes) ==
        R"([{"outcome":"routed","route":"billing","candidates":[]}])");
}

TEST_CASE("store: a group write lands several runs at once and fails refused writes alone",
          "[store]") {
  temp_dir dir;
  auto opened = checkpoint_store::open({dir.path() + "/db"});
  REQUIRE(opened.ok());
  auto& store = *opened.store;
  // The hook refuses the one write of 7777 bytes or more: run r-2's.
  store.set_write_hook([](size_t bytes) { return bytes >= 7777 ? std::string{"disk full"} : ""; });
  std::vector<prepared_write> writes;
  writes.push_back(checkpoint_store::prepare_step(a_state("r-1"), {a_step(0)}, {a_call("r-1", 0)},
                                                  std::nullopt, false));
  auto big = a_step(0);
  big.output.assign(8000, 'x');
  writes.push_back(
      checkpoint_store::prepare_step(a_state("r-2"), {big}, {a_call("r-2", 0)}, std::nullopt, false));
  // r-1's call again (a resumed attempt): counted once, even inside one group.
  writes.push_back(checkpoint_store::prepare_step(a_state("r-3"), {a_step(0)}, {a_call("r-1", 0)},
                                                  std::nullopt, true));
  auto outcomes = store.write_group(writes);
  REQUIRE(outcomes.size() == 3);
  CHECK(outcomes[0].ok());
  CHECK(outcomes[0].ledger_added == 1);
  CHECK_FALSE(outcomes[1].ok());
  CHECK(outcomes[1].error.find("disk full") != std::string::npos);
  CHECK(outcomes[2].ok());
  CHECK(outcomes[2].ledger_added == 0);
  // Running states with a step are carried by the step record (layout 2).
  CHECK(store.steps("r-1").size() == 1);
  CHECK(store.steps("r-2").empty());
  CHECK_FALSE(store.load("r-2"));
  CHECK(store.steps("r-3").size() == 1);
  CHECK(store.ledger("r-1").size() == 1);
  CHECK(store.ledger("r-2").empty());
}

TEST_CASE("store: a prepared write holds what write_step would write", "[store]") {
  temp_dir dir;
  auto opened = checkpoint_store::open({dir.path() + "/db"});
  REQUIRE(opened.ok());
  auto& store = *opened.store;
  auto s = a_step(1);
  s.route = "billing";
  s.decisions.bytes = json_trace(R"({"outcome":"routed","route":"billing"})");
  auto outcomes = store.write_group(
      {checkpoint_store::prepare_step(a_state("r-9"), {a_step(0), s}, {a_call("r-9", 1)})});
  REQUIRE(outcomes.at(0).ok());
  auto steps = store.steps("r-9");
  REQUIRE(steps.size() == 2);
  CHECK(steps[1].route == "billing");
  CHECK(steps[1].decisions == s.decisions);
  CHECK(store.has_call("r-9/1.0"));
}

TEST_CASE("store: a state leaves out fields at their default and still decodes whole",
          "[store]") {
  auto c = a_state("r-5");
  c.own_thread = false;
  auto text = encode_checkpoint_json(c);
  CHECK(text.find("own_thread") == std::string::npos);
  CHECK(text.find("\"reason\"") == std::string::npos);
  CHECK(text.find("escalating") == std::string::npos);
  // next.input equals the run's input before the run has moved: left out too.
  CHECK(text.find("Where is my order?") == text.rfind("Where is my order?"));
  std::string error;
  auto back = decode_checkpoint(text, error);
  REQUIRE(back);
  CHECK(back->next_input == c.input);
  CHECK_FALSE(back->own_thread);
  CHECK(back->reason.empty());
  CHECK(back->hops == 0);
  // A document with every field written out (as earlier builds wrote) decodes the same.
  auto full = nlohmann::json::parse(text);
  full["own_thread"] = false;
  full["reason"] = "";
  full["detail"] = "";
  full["waits_for"] = "";
  full["output"] = "";
  full["next"]["input"] = c.input;
  full["hops"] = 0;
  full["steps"] = 0;
  full["input_tokens"] = 0;
  full["output_tokens"] = 0;
  full["nano_usd"] = 0;
  full["escalating"] = false;
  auto old = decode_checkpoint(full.dump(), error);
  REQUIRE(old);
  CHECK(encode_checkpoint_json(*old) == text);
}

TEST_CASE("store: step records keep decision traces compact, and older JSON ones still decode",
          "[store][trace]") {
  std::string error;
  auto s = a_step(3);
  s.route = "billing";
  // Two calls' traces, compact, as the run holds them.
  s.decisions.bytes = json_trace(R"({"outcome":"routed","model":"mid-a"})") +
                      json_trace(R"({"outcome":"blocked","model":""})");
  auto bytes = encode_step(s);
  CHECK(bytes.find("decisions") == std::string::npos);  // not as JSON
  auto back = decode_step(bytes, error);
  INFO(error);
  REQUIRE(back);
  CHECK(back->decisions == s.decisions);
  CHECK(traces_json_array(back->decisions.bytes) ==
        R"([{"outcome":"routed","model":"mid-a"},{"outcome":"blocked","model":""}])");

  // A record as builds before the compact form wrote it (main eb2bbab): the traces a
  // JSON array in "decisions". Its traces read back as that JSON, for runs show.
  const std::string older =
      R"({"step":1,"kind":"node","agent":"b","hops":1,"output":"done","model":"sim-bench",)"
      R"("tier":"local","model_calls":1,"input_tokens":14,"output_tokens":9,"cost_usd":0,)"
      R"("latency_ms":0.412,"route":"faq","decisions":[{"outcome":"routed","route":"faq",)"
      R"("route_source":"default","target_tier":"local","tier_source":"route","model":)"
      R"("sim-bench","tier":"local","complexity":{"prompt_tokens":14},"candidates":[{"model":)"
      R"("sim-bench","tier":"local","verdict":"chosen","estimated_usd":0}],"also_eligible":0}]})";
  auto old = decode_step(older, error);
  INFO(error);
  REQUIRE(old);
  CHECK(old->route == "faq");
  CHECK(old->model_calls == 1);
  auto rendered = nlohmann::json::parse(traces_json_array(old->decisions.bytes));
  CHECK(rendered == nlohmann::json::parse(older)["decisions"]);
  CHECK(to_json(*old)["decisions"] == nlohmann::json::parse(older)["decisions"]);
  // Written again by this build, it keeps those traces.
  auto again = decode_step(encode_step(*old), error);
  REQUIRE(again);
  CHECK(again->decisions == old->decisions);

  // Traces that do not decode: the record does not, with the reason.
  auto broken = s;
  broken.decisions.bytes = std::string("\x01\x00\x02", 3);  // a trace cut short
  CHECK_FALSE(decode_step(encode_step(broken), error));
  CHECK_THAT(error, Catch::Contains("step record 3: decision traces do not decode"));

  // The same checks on a record as layout 1 and 2 wrote it (JSON, NUL, traces).
  bytes = encode_step_json(s);
  CHECK(bytes.find("decisions") == std::string::npos);
  back = decode_step(bytes, error);
  REQUIRE(back);
  CHECK(back->decisions == s.decisions);
  auto cut = bytes.substr(0, bytes.size() - 3);
  CHECK_FALSE(decode_step(cut, error));
  CHECK_THAT(error, Catch::Contains("step record 3: decision traces do not decode"));
  auto other_version = bytes;
  other_version[other_version.find('\0') + 1] = 9;
  CHECK_FALSE(decode_step(other_version, error));
  CHECK_THAT(error, Catch::Contains("unknown version"));
  CHECK_FALSE(decode_step(bytes.substr(0, bytes.find('\0') + 2), error));
  CHECK_THAT(error, Catch::Contains("none after the version byte"));
}

TEST_CASE("store: a running step's write carries the state in its record, the newest one counts",
          "[store]") {
  temp_dir dir{"store"};
  auto opened = checkpoint_store::open({dir.sub("db")});
  REQUIRE(opened.ok());
  auto& store = *opened.store;
  auto start = a_state("r-1");
  start.seq = 1;
  REQUIRE(store.write_states({start}).ok());
  // Step 1 (a nested call) closes before step 0: its write is older (seq 2) though its
  // number is higher; step 0's write (seq 3) moves the run on to step 2.
  auto after_call = a_state("r-1");
  after_call.seq = 2;
  after_call.steps = 2;
  after_call.spent_nano_usd = 50000;
  auto write = checkpoint_store::prepare_step(after_call, {a_step(1)}, {a_call("r-1", 1)},
                                              std::nullopt, false);
  CHECK(write.state.empty());     // no `runs` key: the record carries it
  CHECK(write.call_ids.empty());  // the call is inside the record
  REQUIRE(store.write_group({write}).at(0).ok());
  auto after_node = a_state("r-1");
  after_node.seq = 3;
  after_node.next_node = "answerer";
  after_node.next_input = "an answer";  // step 0's output: left out of the record
  after_node.next_step = 2;
  after_node.next_hops = 1;
  after_node.hops = 1;
  after_node.steps = 2;
  after_node.spent_nano_usd = 100000;
  auto out = store.write_step(after_node, {a_step(0)}, {a_call("r-1", 0)}, std::nullopt, false);
  REQUIRE(out.ok());
  CHECK(out.ledger_added == 1);
  auto loaded = store.load("r-1");
  REQUIRE(loaded);
  REQUIRE(loaded->state);
  CHECK(loaded->state->seq == 3);
  CHECK(loaded->state->status == run_status::running);
  CHECK(loaded->state->next_node == "answerer");
  CHECK(loaded->state->next_input == "an answer");
  CHECK(loaded->state->next_step == 2);
  CHECK(loaded->state->spent_nano_usd == 100000);
  CHECK(loaded->state->input == "Where is my order?");  // from the state at the start
  auto listed = store.list();
  REQUIRE(listed.size() == 1);
  REQUIRE(listed[0].state);
  CHECK(listed[0].state->next_step == 2);
  auto ledger = store.ledger("r-1");
  REQUIRE(ledger.size() == 2);
  CHECK(ledger[0].call_id == "r-1/0.0");
  CHECK(ledger[1].nano_usd == 50000);
  CHECK(ledger[1].thread_id == "t-1");
  CHECK(store.has_call("r-1/1.0"));
  CHECK_FALSE(store.has_call("r-1/1.1"));
  CHECK(store.steps("r-1").size() == 2);
  // Parking writes the whole state again: it is newer than every continuation.
  auto parked = after_node;
  parked.seq = 4;
  parked.status = run_status::blocked;
  parked.waits_for = "sim";
  REQUIRE(store.write_step(parked, {}, {}).ok());
  loaded = store.load("r-1");
  REQUIRE(loaded->state);
  CHECK(loaded->state->status == run_status::blocked);
  CHECK(loaded->state->waits_for == "sim");
}

TEST_CASE("store: a step written again by a resumed run keeps the earlier calls counted once",
          "[store]") {
  temp_dir dir{"store"};
  auto opened = checkpoint_store::open({dir.sub("db")});
  REQUIRE(opened.ok());
  auto& store = *opened.store;
  auto s = a_state("r-1");
  s.seq = 1;
  REQUIRE(store.write_step(s, {a_step(0)}, {a_call("r-1", 0)}, std::nullopt, false).ok());
  s.seq = 2;
  REQUIRE(store.write_step(s, {a_step(1)}, {a_call("r-1", 1)}, std::nullopt, false).ok());
  // A later attempt writes step 0 again with a call of the same id: not counted again,
  // and the first attempt's entry stands.
  auto again = a_call("r-1", 0);
  again.nano_usd = 7;
  s.seq = 3;
  auto out = store.write_step(s, {a_step(0)}, {again}, std::nullopt, true);
  REQUIRE(out.ok());
  CHECK(out.ledger_added == 0);
  auto ledger = store.ledger("r-1");
  REQUIRE(ledger.size() == 2);
  CHECK(ledger[0].nano_usd == 50000);
  // It ends after one step: step 1's record goes, the call it paid stays counted.
  auto done = a_state("r-1", run_status::completed);
  done.seq = 4;
  REQUIRE(store.write_step(done, {}, {}, 1u).ok());
  CHECK(store.steps("r-1").size() == 1);
  ledger = store.ledger("r-1");
  REQUIRE(ledger.size() == 2);
  CHECK(ledger[1].call_id == "r-1/1.0");
  CHECK(store.has_call("r-1/1.0"));
  // gc takes all of it.
  CHECK(store.erase("r-1").empty());
  CHECK(store.ledger("r-1").empty());
  CHECK_FALSE(store.has_call("r-1/1.0"));
}

TEST_CASE("store: a layout-1 database opens, reads as before and is upgraded to layout 5",
          "[store]") {
  temp_dir dir{"store"};
  layout1_contents old;
  auto state = a_state("r-old");
  state.next_node = "answerer";
  state.next_step = 1;
  state.steps = 1;
  state.spent_nano_usd = 50000;
  old.states.push_back(state);
  old.steps.emplace_back("r-old", a_step(0));
  old.calls.push_back(a_call("r-old", 0));
  REQUIRE(write_layout1_store(dir.sub("db"), old).empty());
  {
    auto opened = checkpoint_store::open({dir.sub("db")});
    INFO(opened.error);
    REQUIRE(opened.ok());
    auto& store = *opened.store;
    auto loaded = store.load("r-old");
    REQUIRE(loaded);
    REQUIRE(loaded->state);
    CHECK(loaded->state->next_node == "answerer");
    CHECK(loaded->state->next_step == 1);
    CHECK(loaded->state->seq == 0);
    CHECK(store.steps("r-old").size() == 1);
    REQUIRE(store.ledger("r-old").size() == 1);
    CHECK(store.has_call("r-old/0.0"));
    // The run goes on in layout 3: its next step carries the state.
    auto next = *loaded->state;
    next.seq = 1;
    next.next_step = 2;
    next.steps = 2;
    auto out = store.write_step(next, {a_step(1)}, {a_call("r-old", 1)}, std::nullopt, false);
    REQUIRE(out.ok());
    CHECK(store.load("r-old")->state->next_step == 2);
    CHECK(store.ledger("r-old").size() == 2);
  }
  CHECK(stored_layout_version(dir.sub("db")) == "5");
  // Read-only opening of a layout-1 database (runs list beside an old process) works
  // and changes nothing.
  temp_dir other{"store"};
  REQUIRE(write_layout1_store(other.sub("db"), old).empty());
  auto reader = checkpoint_store::open({other.sub("db"), false, true});
  REQUIRE(reader.ok());
  CHECK(reader.store->ledger("r-old").size() == 1);
  reader.store.reset();
  CHECK(stored_layout_version(other.sub("db")) == "1");
}

TEST_CASE("store: a database of an unknown layout version is refused with both versions named",
          "[store]") {
  temp_dir dir{"store"};
  layout1_contents future;
  future.schema_version = "6";
  REQUIRE(write_layout1_store(dir.sub("db"), future).empty());
  auto opened = checkpoint_store::open({dir.sub("db")});
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error.find("schema version 6") != std::string::npos);
  CHECK(opened.error.find("versions 1 to 5") != std::string::npos);
  CHECK(opened.error.find(dir.sub("db")) != std::string::npos);
}

// Memtable insert hints (per run) in `steps`: RocksDB 7.8 aborted when a run's records
// were deleted with a range delete and more records followed; deletes are per key now.
TEST_CASE("store: records of many runs written, erased, dropped and written again read back whole",
          "[store]") {
  temp_dir dir{"store"};
  std::string path = dir.sub("db");
  {
    auto opened = checkpoint_store::open({path});
    REQUIRE(opened.ok());
    auto& store = *opened.store;
    std::vector<run_checkpoint> started;  // checkpoint 0, as a batch writes it
    for (int r = 0; r < 40; ++r) started.push_back(a_state("r-" + std::to_string(r)));
    REQUIRE(store.write_states(started).ok());
    for (uint32_t step = 0; step < 4; ++step)
      for (int r = 0; r < 40; ++r) {
        auto id = "r-" + std::to_string(r);
        auto state =
            a_state(id, step == 3 && r % 2 == 0 ? run_status::completed : run_status::running);
        state.updated_ms = 1000;
        state.seq = step + 1;
        REQUIRE(
            store.write_step(state, {a_step(step)}, {a_call(id, step)}, std::nullopt, false).ok());
      }
    CHECK(store.erase_ended_before(5000) == 20);  // the even runs, with their records
    // An odd run resumed at step 1 ends there: its records from step 2 on are dropped.
    auto ended = a_state("r-1", run_status::completed);
    ended.seq = 9;
    REQUIRE(store.write_step(ended, {a_step(1)}, {}, 2u, true).ok());
    for (int r = 3; r < 40; r += 2) {
      auto id = "r-" + std::to_string(r);
      auto state = a_state(id);
      state.seq = 5;
      REQUIRE(store.write_step(state, {a_step(4)}, {a_call(id, 4)}, std::nullopt, false).ok());
    }
    CHECK(store.steps("r-0").empty());
    CHECK(store.steps("r-1").size() == 2);
    CHECK(store.steps("r-3").size() == 5);
    CHECK(store.ledger("r-1").size() == 4);  // dropped records' calls stay counted
  }
  // Reopened: the WAL (point deletes only) replays to the same records.
  auto opened = checkpoint_store::open({path});
  REQUIRE(opened.ok());
  CHECK(opened.store->list().size() == 20);
  CHECK(opened.store->steps("r-1").size() == 2);
  CHECK(opened.store->steps("r-39").size() == 5);
  CHECK(opened.store->steps("r-38").empty());
}

TEST_CASE("store: a binary step record round-trips every field, with its calls and continuation",
          "[store]") {
  temp_dir dir{"store"};
  auto opened = checkpoint_store::open({dir.sub("db")});
  REQUIRE(opened.ok());
  auto& store = *opened.store;
  REQUIRE(store.write_states({a_state("r-b")}).ok());
  auto s = a_step(0);
  s.kind = step_kind::call;
  s.caller = "intake";
  s.hops = 3;
  s.output = std::string("bytes \0 and \xff and \"quotes\"", 26);
  s.label = "billing";
  s.error = "timeout: took\ttoo long";
  s.route = "billing";
  s.downgraded = true;
  s.latency_ms = 12.345;
  s.cost_usd = 0.1 + 0.2;  // not a short decimal: kept bit for bit
  s.decisions.bytes = json_trace(R"({"outcome":"routed","route":"billing"})");
  auto state = a_state("r-b");
  state.seq = 1;
  state.next_node = "answerer";
  state.next_kind = step_kind::escalation;
  state.next_input = "handed on";
  state.next_step = 1;
  state.next_hops = 4;
  state.hops = 3;
  state.steps = 1;
  state.input_tokens = 10;
  state.output_tokens = 20;
  state.spent_nano_usd = -5;  // signed: a refund would be negative
  state.escalating = true;
  state.reason = "hop_limit";
  state.detail = "4 hops";
  state.updated_ms = 1795360006903;
  auto call = a_call("r-b", 0);
  call.nano_usd = 300000000000;
  auto out = store.write_step(state, {s}, {call}, std::nullopt, false);
  REQUIRE(out.ok());
  auto steps = store.steps("r-b");
  REQUIRE(steps.size() == 1);
  const auto& back = steps[0];
  CHECK(back.kind == step_kind::call);
  CHECK(back.caller == "intake");
  CHECK(back.hops == 3);
  CHECK(back.output == s.output);
  CHECK(back.label == "billing");
  CHECK(back.model == "mid-a");
  CHECK(back.tier == "mid");
  CHECK(back.error == s.error);
  CHECK(back.route == "billing");
  CHECK(back.downgraded);
  CHECK(back.latency_ms == s.latency_ms);
  CHECK(back.cost_usd == s.cost_usd);
  CHECK(back.input_tokens == 10);
  CHECK(back.output_tokens == 20);
  CHECK(back.decisions == s.decisions);
  CHECK(to_json(back) == to_json(s));  // what runs show prints
  auto loaded = store.load("r-b");
  REQUIRE(loaded);
  REQUIRE(loaded->state);
  const auto& c = *loaded->state;
  CHECK(c.seq == 1);
  CHECK(c.next_node == "answerer");
  CHECK(c.next_kind == step_kind::escalation);
  CHECK(c.next_input == "handed on");
  CHECK(c.next_step == 1);
  CHECK(c.next_hops == 4);
  CHECK(c.hops == 3);
  CHECK(c.steps == 1);
  CHECK(c.output_tokens == 20);
  CHECK(c.spent_nano_usd == -5);
  CHECK(c.escalating);
  CHECK(c.reason == "hop_limit");
  CHECK(c.detail == "4 hops");
  CHECK(c.updated_ms == 1795360006903);
  auto ledger = store.ledger("r-b");
  REQUIRE(ledger.size() == 1);
  CHECK(ledger[0].call_id == "r-b/0.0");
  CHECK(ledger[0].nano_usd == 300000000000);
  CHECK(ledger[0].model == "mid-a");
  CHECK(store.has_call("r-b/0.0"));
  // A next input equal to the step's output is left out, and read back as it.
  state.seq = 2;
  state.escalating = false;
  state.next_input = "the next output";
  auto next = a_step(1);
  next.output = "the next output";
  REQUIRE(store.write_step(state, {next}, {}, std::nullopt, false).ok());
  CHECK(store.load("r-b")->state->next_input == "the next output");
  CHECK_FALSE(store.load("r-b")->state->escalating);
  CHECK(out.bytes < encode_step_layout2(s, {call}, &state).size());
}

TEST_CASE("store: a binary step record cut short or of an unknown format names what is wrong",
          "[store]") {
  auto s = a_step(5);
  s.output = std::string(300, 'o');
  auto bytes = encode_step(s);
  std::string error;
  REQUIRE(decode_step(bytes, error));
  // Cut inside the output: its length runs past the end.
  CHECK_FALSE(decode_step(bytes.substr(0, 40), error));
  CHECK_THAT(error, Catch::Contains("step record 5: field 'output'"));
  CHECK_THAT(error, Catch::Contains("runs past the end"));
  // Cut right after the step's fields: the calls are missing.
  auto fields = bytes.substr(0, bytes.size() - 2);
  CHECK_FALSE(decode_step(fields, error));
  CHECK_THAT(error, Catch::Contains("field 'calls'"));
  // Bytes after the end.
  CHECK_FALSE(decode_step(bytes + "xy", error));
  CHECK_THAT(error, Catch::Contains("2 bytes after the continuation"));
  // A step kind this build does not know.
  auto kind = bytes;
  kind[2] = 7;
  CHECK_FALSE(decode_step(kind, error));
  CHECK_THAT(error, Catch::Contains("unknown step kind 7"));
  CHECK_FALSE(decode_step(std::string{"\x09rest"}, error));
  CHECK_THAT(error, Catch::Contains("unknown format (first byte 0x09)"));
  CHECK_FALSE(decode_step(std::string{}, error));
  CHECK_THAT(error, Catch::Contains("empty"));
  CHECK_FALSE(decode_step(std::string{"\x03"}, error));
  CHECK_THAT(error, Catch::Contains("step record: field 'step'"));
}

TEST_CASE("store: a layout-2 database opens, its JSON records read as before, upgraded to 5",
          "[store]") {
  temp_dir dir{"store"};
  layout1_contents old;
  old.schema_version = "2";
  auto start = a_state("r-two");
  old.states.push_back(start);
  auto carried = start;
  carried.seq = 1;
  carried.next_node = "answerer";
  carried.next_input = "an answer";
  carried.next_step = 1;
  carried.steps = 1;
  carried.spent_nano_usd = 50000;
  old.layout2_steps.push_back({"r-two", a_step(0), {a_call("r-two", 0)}, carried});
  REQUIRE(write_layout1_store(dir.sub("db"), old).empty());
  {
    auto opened = checkpoint_store::open({dir.sub("db")});
    INFO(opened.error);
    REQUIRE(opened.ok());
    auto& store = *opened.store;
    auto loaded = store.load("r-two");
    REQUIRE(loaded);
    REQUIRE(loaded->state);
    CHECK(loaded->state->seq == 1);
    CHECK(loaded->state->next_node == "answerer");
    CHECK(loaded->state->next_input == "an answer");
    CHECK(loaded->state->spent_nano_usd == 50000);
    REQUIRE(store.steps("r-two").size() == 1);
    CHECK(store.steps("r-two")[0].output == "an answer");
    CHECK(store.has_call("r-two/0.0"));
    // It goes on in layout 3; the newest continuation (binary) counts, the ledger holds
    // the call of each layout once.
    auto next = *loaded->state;
    next.seq = 2;
    next.next_node = "closer";
    next.next_step = 2;
    next.steps = 2;
    REQUIRE(store.write_step(next, {a_step(1)}, {a_call("r-two", 1)}, std::nullopt, false).ok());
    CHECK(store.load("r-two")->state->next_node == "closer");
    CHECK(store.ledger("r-two").size() == 2);
    CHECK(store.steps("r-two").size() == 2);
    CHECK(store.list().size() == 1);
  }
  CHECK(stored_layout_version(dir.sub("db")) == "5");
}

TEST_CASE("store: a layout-3 database opens, its JSON states read as before, upgraded to 5",
          "[store]") {
  temp_dir dir{"store"};
  layout1_contents old;
  old.schema_version = "3";
  auto blocked = a_state("r-parked", run_status::blocked);
  blocked.reason = "provider_down";
  blocked.waits_for = "sim";
  blocked.seq = 2;
  blocked.steps = 1;
  blocked.next_step = 1;
  old.states.push_back(blocked);
  auto done = a_state("r-done", run_status::completed);
  done.output = "all done";
  done.seq = 3;
  old.states.push_back(done);
  old.binary_steps.emplace_back("r-parked", a_step(0));
  old.binary_steps.emplace_back("r-done", a_step(0));
  REQUIRE(write_layout1_store(dir.sub("db"), old).empty());
  {
    // Read-only (runs list beside an older process): reads, changes nothing.
    auto reader = checkpoint_store::open({dir.sub("db"), false, true});
    REQUIRE(reader.ok());
    CHECK(reader.store->list().size() == 2);
  }
  CHECK(stored_layout_version(dir.sub("db")) == "3");
  {
    auto opened = checkpoint_store::open({dir.sub("db")});
    INFO(opened.error);
    REQUIRE(opened.ok());
    auto& store = *opened.store;
    auto all = store.list();
    REQUIRE(all.size() == 2);
    REQUIRE(all[0].state);
    CHECK(all[0].state->status == run_status::completed);
    CHECK(all[0].state->output == "all done");
    REQUIRE(all[1].state);
    CHECK(all[1].state->status == run_status::blocked);
    CHECK(all[1].state->waits_for == "sim");
    CHECK(store.steps("r-parked").size() == 1);
    // The parked run resumes and ends in layout 4: its state is written binary and reads
    // back beside the JSON one of the other run.
    auto resumed = *all[1].state;
    resumed.status = run_status::running;
    resumed.seq = 3;
    REQUIRE(store.write_states({resumed}).ok());
    auto ended = resumed;
    ended.status = run_status::completed;
    ended.output = "resumed answer";
    ended.seq = 4;
    ended.steps = 2;
    REQUIRE(store.write_step(ended, {a_step(1)}, {a_call("r-parked", 1)}, std::nullopt, false)
                .ok());
    auto loaded = store.load("r-parked");
    REQUIRE(loaded);
    REQUIRE(loaded->state);
    CHECK(loaded->state->status == run_status::completed);
    CHECK(loaded->state->output == "resumed answer");
    CHECK(store.steps("r-parked").size() == 2);
    CHECK(store.load("r-done")->state->output == "all done");
    CHECK(store.erase_ended_before(INT64_MAX) == 2);
    CHECK(store.list().empty());
  }
  CHECK(stored_layout_version(dir.sub("db")) == "5");
}

TEST_CASE("store: an ended run's last records ride inside its state, and every read sees them",
          "[store]") {
  temp_dir dir{"store"};
  {
    auto opened = checkpoint_store::open({dir.sub("db")});
    REQUIRE(opened.ok());
    auto& store = *opened.store;
    auto start = a_state("r-1");
    start.seq = 1;
    REQUIRE(store.write_states({start}).ok());
    auto running = start;
    running.seq = 2;
    running.steps = 1;
    running.next_step = 1;
    REQUIRE(store.write_step(running, {a_step(0)}, {a_call("r-1", 0)}, std::nullopt, false).ok());
    // The end: step 1 and step 2 (an open step, marked unfinished) with the final state.
    auto ended = running;
    ended.seq = 3;
    ended.status = run_status::completed;
    ended.output = "all done";
    ended.steps = 3;
    auto last = a_step(1);
    last.output = "the last answer";
    auto unfinished = a_step(2);
    unfinished.error = "unfinished";
    auto write = checkpoint_store::prepare_step(ended, {last, unfinished}, {a_call("r-1", 1)},
                                                std::nullopt, false);
    CHECK(write.step_keys.empty());  // no keys of their own
    CHECK(write.state_steps == std::vector<uint32_t>{1, 2});
    auto out = store.write_group({write}).at(0);
    REQUIRE(out.ok());
    CHECK(out.ledger_added == 1);
    CHECK(out.bytes == write.run_id.size() + write.state.size());

    auto loaded = store.load("r-1");
    REQUIRE(loaded);
    REQUIRE(loaded->state);
    CHECK(loaded->state->status == run_status::completed);
    CHECK(loaded->state->output == "all done");
    CHECK(loaded->state->seq == 3);
    auto listed = store.list();
    REQUIRE(listed.size() == 1);
    REQUIRE(listed[0].state);
    CHECK(listed[0].state->status == run_status::completed);
    std::vector<std::string> errors;
    auto steps = store.steps("r-1", &errors);
    CHECK(errors.empty());
    REQUIRE(steps.size() == 3);
    CHECK(steps[0].step == 0);
    CHECK(steps[1].step == 1);
    CHECK(steps[1].output == "the last answer");
    CHECK(steps[2].error == "unfinished");
    auto result = stored_result(*loaded->state, steps);
    CHECK(result.input_tokens == 30);
    auto ledger = store.ledger("r-1");
    REQUIRE(ledger.size() == 2);
    CHECK(ledger[1].call_id == "r-1/1.0");
    CHECK(ledger[1].nano_usd == 50000);
    CHECK(store.has_call("r-1/1.0"));
    CHECK_FALSE(store.has_call("r-1/2.0"));
    CHECK_FALSE(store.has_call("r-1/1.1"));
    // A run with an id that shares the prefix does not see them.
    CHECK(store.steps("r-10").empty());
  }
  CHECK(stored_key_count(dir.sub("db"), "runs") == 1);
  CHECK(stored_key_count(dir.sub("db"), "steps") == 1);  // step 0 only
  {
    auto opened = checkpoint_store::open({dir.sub("db")});
    REQUIRE(opened.ok());
    CHECK(opened.store->erase_ended_before(INT64_MAX) == 1);
    CHECK(opened.store->steps("r-1").empty());
    CHECK_FALSE(opened.store->has_call("r-1/1.0"));
    CHECK(opened.store->list().empty());
  }
}

TEST_CASE("store: a record inside an ended state replaces an earlier attempt's, calls kept once",
          "[store]") {
  temp_dir dir{"store"};
  auto opened = checkpoint_store::open({dir.sub("db")});
  REQUIRE(opened.ok());
  auto& store = *opened.store;
  auto running = a_state("r-1");
  running.seq = 2;
  running.steps = 2;
  // An earlier attempt wrote step 1 with its call, then crashed.
  REQUIRE(store
              .write_step(running, {a_step(0), a_step(1)}, {a_call("r-1", 0), a_call("r-1", 1)},
                          std::nullopt, false)
              .ok());
  // The resumed attempt ends at step 1, its answer different; its call is the same one.
  auto ended = running;
  ended.seq = 3;
  ended.status = run_status::escalated;
  ended.reason = "hop_limit";
  auto again = a_step(1);
  again.output = "another answer";
  auto out = store.write_step(ended, {again}, {a_call("r-1", 1)}, std::nullopt, true);
  REQUIRE(out.ok());
  CHECK(out.ledger_added == 0);  // counted by the earlier attempt
  auto steps = store.steps("r-1");
  REQUIRE(steps.size() == 2);
  CHECK(steps[1].output == "another answer");
  CHECK(store.ledger("r-1").size() == 2);
  CHECK(store.has_call("r-1/1.0"));
  CHECK(store.load("r-1")->state->status == run_status::escalated);
}

TEST_CASE("store: a state with records inside it cut short names the record that does not fit",
          "[store]") {
  auto c = a_state("r-1", run_status::completed);
  auto bytes = encode_checkpoint_with_steps(c, {encode_step(a_step(3))});
  std::string error;
  auto decoded = decode_checkpoint(bytes, error);
  INFO(error);
  REQUIRE(decoded);
  CHECK(decoded->status == run_status::completed);
  CHECK_FALSE(decode_checkpoint(bytes.substr(0, bytes.size() - 4), error));
  CHECK_THAT(error, Catch::Contains("state: field 'step record' at byte"));
  CHECK_THAT(error, Catch::Contains("runs past the end"));
  CHECK_FALSE(decode_checkpoint(bytes + "z", error));
  CHECK_THAT(error, Catch::Contains("1 bytes after the last field"));
}

TEST_CASE("store: a layout-4 database opens, its ended runs' records read as before, upgraded to 5",
          "[store]") {
  temp_dir dir{"store"};
  layout1_contents old;
  old.schema_version = "4";
  old.binary_states = true;
  auto done = a_state("r-done", run_status::completed);
  done.output = "all done";
  done.seq = 4;
  done.steps = 2;
  old.states.push_back(done);
  auto running = a_state("r-run");
  running.seq = 1;
  old.states.push_back(running);
  old.binary_steps.emplace_back("r-done", a_step(0));
  old.binary_steps.emplace_back("r-done", a_step(1));
  old.calls.push_back(a_call("r-done", 1));
  REQUIRE(write_layout1_store(dir.sub("db"), old).empty());
  {
    auto reader = checkpoint_store::open({dir.sub("db"), false, true});
    REQUIRE(reader.ok());
    CHECK(reader.store->steps("r-done").size() == 2);
  }
  CHECK(stored_layout_version(dir.sub("db")) == "4");
  {
    auto opened = checkpoint_store::open({dir.sub("db")});
    INFO(opened.error);
    REQUIRE(opened.ok());
    auto& store = *opened.store;
    auto all = store.list();
    REQUIRE(all.size() == 2);
    REQUIRE(all[0].state);
    CHECK(all[0].state->status == run_status::completed);
    CHECK(all[0].state->output == "all done");
    CHECK(store.steps("r-done").size() == 2);
    CHECK(store.has_call("r-done/1.0"));
    // The running run ends in layout 5, beside the layout-4 one.
    auto ended = running;
    ended.seq = 2;
    ended.status = run_status::failed;
    ended.reason = "bad_input";
    ended.steps = 1;
    REQUIRE(store.write_step(ended, {a_step(0)}, {a_call("r-run", 0)}, std::nullopt, false).ok());
    CHECK(store.load("r-run")->state->reason == "bad_input");
    CHECK(store.steps("r-run").size() == 1);
    CHECK(store.ledger("r-run").size() == 1);
    CHECK(store.load("r-done")->state->output == "all done");
    CHECK(store.ledger("r-done").size() == 1);
  }
  CHECK(stored_layout_version(dir.sub("db")) == "5");
}
