#pragma once
// The researcher's knowledge base: short help articles (examples/knowledge_base/*.md)
// and an Okapi BM25 index over them (k1 = 1.2, b = 0.75). Terms are lower-cased words
// without English stopwords, lightly stemmed ("refunds", "refunded" -> "refund").
//
// Article file format: the first line is "# Title", the second "id: some-id" (letters,
// digits and dashes), then a blank line and the body in markdown.

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace switchyard {

struct kb_article {
  std::string id;
  std::string title;
  std::string body;
  std::string source;  // file it came from, for error messages
};

struct kb_hit {
  std::string id;
  double score = 0;
};

/// Parses one article file. On failure `error` names the source and what is wrong.
struct kb_article_result {
  kb_article article;
  std::string error;
  bool ok() const { return error.empty(); }
};
kb_article_result parse_kb_article(std::string_view text, const std::string& source);

/// The index terms of `text`: lower-cased words, stopwords removed, suffixes -s, -es
/// after s/x/z/ch/sh, -ies, -ing, -ed and -ation stripped.
std::vector<std::string> bm25_terms(std::string_view text);

struct bm25_parameters {
  double k1 = 1.2;
  double b = 0.75;
};

class knowledge_base {
 public:
  explicit knowledge_base(bm25_parameters parameters = {}) : parameters_(parameters) {}

  /// Loads every *.md file of `directory` (sorted by name). Errors (unreadable file,
  /// bad format, duplicate id, no articles at all) are collected, one per problem.
  static knowledge_base load_directory(const std::string& directory,
                                       std::vector<std::string>& errors);

  /// Adds and indexes an article. Returns "" or an error (empty id, duplicate id).
  std::string add(kb_article article);

  /// The `k` best articles for `query`, best first, only those with a score > 0; ties
  /// by id so results are deterministic. O(query terms x postings); thread-safe
  /// (const, no caches).
  std::vector<kb_hit> search(std::string_view query, size_t k) const;

  const kb_article* find(std::string_view id) const;
  size_t size() const { return articles_.size(); }
  const std::vector<kb_article>& articles() const { return articles_; }

 private:
  struct posting {
    size_t article;
    unsigned frequency;
  };
  bm25_parameters parameters_;
  std::vector<kb_article> articles_;
  std::vector<size_t> lengths_;  // terms per article
  size_t total_length_ = 0;
  std::unordered_map<std::string, std::vector<posting>> postings_;
};

}  // namespace switchyard
