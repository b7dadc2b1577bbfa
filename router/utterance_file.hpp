#pragma once
// Labelled utterance files for training and evaluating the intent classifier:
//  - CSV (RFC 4180): a header naming a `text` column and a label column (`label`,
//    `route`, `intent` or `category`), fields optionally quoted, quotes doubled inside
//    quoted fields, commas and newlines allowed inside quotes, LF or CRLF line ends.
//  - JSONL: one object per line, {"text": "...", "label": "..."} (`route` also accepted).
// The format comes from the extension (.csv; .jsonl/.ndjson/.json) or, failing that,
// from the content (a first non-blank character of '{' means JSONL).

#include <string>
#include <string_view>
#include <vector>

#include "router/intent_classifier.hpp"

namespace switchyard {

struct utterance_file_result {
  std::vector<labeled_utterance> rows;
  /// Empty on success, else "<source>:<line>: <problem>".
  std::string error;
  bool ok() const { return error.empty(); }
};

/// Parses CSV text. `source` names it in errors.
utterance_file_result parse_utterance_csv(std::string_view text, const std::string& source);
/// Parses JSONL text. `source` names it in errors.
utterance_file_result parse_utterance_jsonl(std::string_view text, const std::string& source);
/// Reads `path` and parses it as CSV or JSONL (see above). An empty file, or one with
/// a header and no rows, is an error: there is nothing to train on or score.
utterance_file_result read_utterance_file(const std::string& path);

}  // namespace switchyard
