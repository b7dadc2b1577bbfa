#include <catch2/catch.hpp>

#include "workflows/batch_input.hpp"

using namespace switchyard;

TEST_CASE("batch: each line becomes a run of the workflow, blank lines skipped", "[batch]") {
  auto parsed = parse_batch(
    "{\"input\": \"one\"}\n\n{\"input\": \"two\", \"thread_id\": \"t2\", \"run_id\": \"r2\"}\n",
    "b.jsonl", "hello", "default-thread");
  REQUIRE(parsed.errors.empty());
  REQUIRE(parsed.requests.size() == 2);
  CHECK(parsed.requests[0].workflow == "hello");
  CHECK(parsed.requests[0].input == "one");
  CHECK(parsed.requests[0].thread_id == "default-thread");
  CHECK(parsed.requests[1].thread_id == "t2");
  CHECK(parsed.requests[1].run_id == "r2");
}

TEST_CASE("batch: every bad line is reported with its number and nothing runs", "[batch]") {
  auto parsed = parse_batch(
    "{\"input\": \"ok\"}\n{broken\n[1,2]\n{\"text\": \"x\"}\n{\"input\": 5}\n", "b.jsonl", "hello",
    "");
  CHECK(parsed.requests.empty());
  REQUIRE(parsed.errors.size() == 5);
  CHECK(parsed.errors[0] == "b.jsonl:2: not valid JSON");
  CHECK_THAT(parsed.errors[1], Catch::StartsWith("b.jsonl:3: must be a JSON object"));
  CHECK_THAT(parsed.errors[2], Catch::StartsWith("b.jsonl:4: unknown key 'text'"));
  CHECK(parsed.errors[3] == "b.jsonl:4: 'input' is required");
  CHECK(parsed.errors[4] == "b.jsonl:5: 'input' must be a string, got 5");
}
