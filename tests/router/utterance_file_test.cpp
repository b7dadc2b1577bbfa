// Specification of labelled utterance files (router/utterance_file.hpp): CSV with
// RFC 4180 quoting and JSONL, and errors that name the file, the line and the problem.

#include "router/utterance_file.hpp"

#include <catch2/catch.hpp>

using namespace switchyard;

TEST_CASE("utterance csv: quoted fields keep commas, doubled quotes and newlines", "[utterances]") {
  const auto r = parse_utterance_csv(
      "text,label\n"
      "plain text,alpha\n"
      "\"one, two, three\",beta\n"
      "\"she said \"\"hi\"\" twice\",gamma\n"
      "\"first line\nsecond line\",delta\n"
      "\"\",\"quoted label\"\n",
      "t.csv");
  // The last row has empty text: that is an error, checked separately below.
  CHECK_FALSE(r.ok());
  CHECK(r.error == "t.csv:7: text is empty");

  const auto ok = parse_utterance_csv(
      "text,label\n"
      "plain text,alpha\n"
      "\"one, two, three\",beta\n"
      "\"she said \"\"hi\"\" twice\",gamma\n"
      "\"first line\nsecond line\",delta\n"
      "last,\"quoted label\"",
      "t.csv");
  REQUIRE(ok.ok());
  REQUIRE(ok.rows.size() == 5);
  CHECK(ok.rows[0].text == "plain text");
  CHECK(ok.rows[1].text == "one, two, three");
  CHECK(ok.rows[2].text == "she said \"hi\" twice");
  CHECK(ok.rows[3].text == "first line\nsecond line");
  CHECK(ok.rows[3].route == "delta");
  CHECK(ok.rows[4].route == "quoted label");  // no trailing newline at end of file
}

TEST_CASE("utterance csv: CRLF line ends, a BOM, blank lines and a category column",
          "[utterances]") {
  const auto r = parse_utterance_csv(
      "\xEF\xBB\xBF"
      "category,text\r\ncard_arrival,Where is my card?\r\n\r\n"
      "top_up,\"Top up, please\"\r\n",
      "b.csv");
  REQUIRE(r.ok());
  REQUIRE(r.rows.size() == 2);
  CHECK(r.rows[0].text == "Where is my card?");
  CHECK(r.rows[0].route == "card_arrival");
  CHECK(r.rows[1].text == "Top up, please");
}

TEST_CASE("utterance csv: an unclosed quote names the line where the field starts",
          "[utterances]") {
  const auto r = parse_utterance_csv("text,label\nfine,a\n\"never closed,b\nmore,c\n", "x.csv");
  CHECK_FALSE(r.ok());
  CHECK(r.error == "x.csv:3: quoted field is never closed (missing '\"')");
  CHECK(r.rows.empty());
}

TEST_CASE("utterance csv: malformed rows are reported with their line", "[utterances]") {
  SECTION("an unquoted comma makes a row too long") {
    const auto r = parse_utterance_csv("text,label\nok,a\nyes, no,b\n", "x.csv");
    CHECK(r.error ==
          "x.csv:3: expected 2 fields as in the header, got 3 (quote fields that "
          "contain commas)");
  }
  SECTION("a stray quote inside an unquoted field") {
    const auto r = parse_utterance_csv("text,label\nsay \"hi\",a\n", "x.csv");
    CHECK(r.error ==
          "x.csv:2: quote inside an unquoted field (quote the whole field and double the quote)");
  }
  SECTION("text after a closing quote") {
    const auto r = parse_utterance_csv("text,label\n\"a\"b,c\n", "x.csv");
    CHECK(r.error.rfind("x.csv:2: unexpected character 'b' after a closing quote", 0) == 0);
  }
  SECTION("an empty label") {
    const auto r = parse_utterance_csv("text,label\nhello,\n", "x.csv");
    CHECK(r.error == "x.csv:2: label is empty");
  }
  SECTION("a header without a label column") {
    const auto r = parse_utterance_csv("text,colour\nhello,red\n", "x.csv");
    CHECK(r.error.rfind("x.csv:1: header must name a 'text' column and a 'label'", 0) == 0);
  }
  SECTION("an empty file and a header with no rows") {
    CHECK(parse_utterance_csv("", "x.csv").error.rfind("x.csv:1: empty file", 0) == 0);
    CHECK(parse_utterance_csv("text,label\n", "x.csv").error ==
          "x.csv:2: no rows after the header");
  }
}

TEST_CASE("utterance jsonl: one object per line, blank lines skipped", "[utterances]") {
  const auto r = parse_utterance_jsonl(
      "{\"text\": \"hi, there\", \"label\": \"greet\"}\n\n{\"text\": \"bye\", \"route\": "
      "\"leave\"}\n",
      "u.jsonl");
  REQUIRE(r.ok());
  REQUIRE(r.rows.size() == 2);
  CHECK(r.rows[0].text == "hi, there");
  CHECK(r.rows[1].route == "leave");
}

TEST_CASE("utterance jsonl: bad lines are reported with their number", "[utterances]") {
  CHECK(parse_utterance_jsonl("{\"text\": \"a\", \"label\": \"x\"}\n{oops\n", "u.jsonl").error ==
        "u.jsonl:2: not valid JSON");
  CHECK(parse_utterance_jsonl("{\"text\": \"a\"}\n", "u.jsonl").error ==
        "u.jsonl:1: \"label\" is missing or not a string");
  CHECK(parse_utterance_jsonl("{\"text\": 3, \"label\": \"x\"}\n", "u.jsonl").error ==
        "u.jsonl:1: \"text\" is missing or not a string");
  CHECK(parse_utterance_jsonl("[1, 2]\n", "u.jsonl").error ==
        "u.jsonl:1: expected a JSON object {\"text\", \"label\"}");
}

TEST_CASE("utterance files: the format follows the extension, then the content", "[utterances]") {
  const std::string dir = SWITCHYARD_SOURCE_DIR "/tests/data/";
  const auto csv = read_utterance_file(dir + "intents_train.csv");
  REQUIRE(csv.ok());
  CHECK(csv.rows.size() == 40);
  const auto jsonl = read_utterance_file(dir + "intents_heldout.jsonl");
  REQUIRE(jsonl.ok());
  CHECK(jsonl.rows.size() == 10);
  const auto missing = read_utterance_file(dir + "no_such_file.csv");
  CHECK(missing.error == dir + "no_such_file.csv: cannot open for reading");
  const auto bad = read_utterance_file(dir + "intents_bad.csv");
  CHECK(bad.error == dir + "intents_bad.csv:3: quoted field is never closed (missing '\"')");
}
