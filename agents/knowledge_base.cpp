#include "agents/knowledge_base.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_set>

#include "agents/text_tokens.hpp"

namespace switchyard {

namespace {

const std::unordered_set<std::string_view>& stopwords() {
  static const std::unordered_set<std::string_view> words = {
      "a",     "an",     "the",    "and",   "or",    "but",   "if",    "of",   "to",     "in",
      "on",    "at",     "by",     "for",   "with",  "from",  "as",    "is",   "are",    "was",
      "were",  "be",     "been",   "am",    "it",    "its",   "this",  "that", "these",  "those",
      "i",     "me",     "my",     "we",    "our",   "you",   "your",  "he",   "she",    "they",
      "them",  "their",  "do",     "does",  "did",   "have",  "has",   "had",  "can",    "could",
      "will",  "would",  "should", "may",   "might", "what",  "which", "who",  "how",    "when",
      "where", "why",    "so",     "than",  "then",  "there", "here",  "not",  "no",     "yes",
      "just",  "about",  "into",   "any",   "all",   "some",  "up",    "out",  "please", "hi",
      "hello", "thanks", "thank",  "until", "many",  "much",  "want",  "need", "get",    "also",
      "very",  "s",      "t",      "m",     "ll",    "ve",    "d"};
  return words;
}

bool ends_with(const std::string& w, std::string_view suffix) {
  return w.size() >= suffix.size() &&
         w.compare(w.size() - suffix.size(), suffix.size(), suffix.data(), suffix.size()) == 0;
}

bool is_vowel(char c) {
  return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

// Undoes the doubled consonant left by -ing/-ed: "shipp" -> "ship", "cancell" -> "cancel".
void undouble(std::string& w) {
  size_t n = w.size();
  if (n >= 4 && w[n - 1] == w[n - 2] && !is_vowel(w[n - 1]) && w[n - 1] != 's' && w[n - 1] != 'z')
    w.pop_back();
}

std::string stem(std::string w) {
  if (w.size() > 7 && ends_with(w, "ation")) {
    w.resize(w.size() - 5);
    undouble(w);
  } else if (w.size() > 4 && ends_with(w, "ies")) {
    w.resize(w.size() - 3);
    w += 'y';
  } else if (w.size() > 5 && ends_with(w, "ing")) {
    w.resize(w.size() - 3);
    undouble(w);
  } else if (w.size() > 4 && ends_with(w, "ed")) {
    w.resize(w.size() - 2);
    undouble(w);
  } else if (w.size() > 4 && (ends_with(w, "ses") || ends_with(w, "xes") || ends_with(w, "zes") ||
                              ends_with(w, "ches") || ends_with(w, "shes"))) {
    w.resize(w.size() - 2);
  } else if (w.size() > 3 && ends_with(w, "s") && !ends_with(w, "ss") && !ends_with(w, "us")) {
    w.pop_back();
  }
  // A final silent e goes too, so "delete" and "deleting" both become "delet".
  if (w.size() > 4 && ends_with(w, "e")) w.pop_back();
  return w;
}

std::string trim(std::string_view s) {
  size_t begin = 0, end = s.size();
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (begin < end && blank(s[begin])) ++begin;
  while (end > begin && blank(s[end - 1])) --end;
  return std::string(s.substr(begin, end - begin));
}

bool valid_id(std::string_view id) {
  if (id.empty()) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

}  // namespace

std::vector<std::string> bm25_terms(std::string_view text) {
  std::vector<std::string> terms;
  for (auto& word : word_tokens(text)) {
    if (stopwords().count(word)) continue;
    terms.push_back(stem(std::move(word)));
  }
  return terms;
}

kb_article_result parse_kb_article(std::string_view text, const std::string& source) {
  kb_article_result result;
  auto line_end = [&](size_t from) {
    size_t at = text.find('\n', from);
    return at == std::string_view::npos ? text.size() : at;
  };
  size_t first_end = line_end(0);
  std::string title_line = trim(text.substr(0, first_end));
  if (title_line.rfind("# ", 0) != 0 || trim(title_line.substr(2)).empty()) {
    result.error = source + ": line 1 must be the title as \"# Title\", got \"" +
                   title_line.substr(0, 60) + "\"";
    return result;
  }
  size_t second_begin = std::min(first_end + 1, text.size());
  size_t second_end = line_end(second_begin);
  std::string id_line = trim(text.substr(second_begin, second_end - second_begin));
  if (id_line.rfind("id:", 0) != 0) {
    result.error =
        source + ": line 2 must be \"id: <article-id>\", got \"" + id_line.substr(0, 60) + "\"";
    return result;
  }
  std::string id = trim(std::string_view(id_line).substr(3));
  if (!valid_id(id)) {
    result.error =
        source + ": id must be lower-case letters, digits and dashes, got \"" + id + "\"";
    return result;
  }
  std::string body = trim(text.substr(std::min(second_end + 1, text.size())));
  if (body.empty()) {
    result.error = source + ": article \"" + id + "\" has no body";
    return result;
  }
  result.article = kb_article{id, trim(title_line.substr(2)), body, source};
  return result;
}

knowledge_base knowledge_base::load_directory(const std::string& directory,
                                              std::vector<std::string>& errors) {
  knowledge_base kb;
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(directory, ec)) {
    errors.push_back(directory + ": not a directory");
    return kb;
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(directory, ec))
    if (entry.is_regular_file() && entry.path().extension() == ".md") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      errors.push_back(path.string() + ": cannot be read");
      continue;
    }
    std::stringstream content;
    content << in.rdbuf();
    auto parsed = parse_kb_article(content.str(), path.string());
    if (!parsed.ok()) {
      errors.push_back(parsed.error);
      continue;
    }
    std::string error = kb.add(std::move(parsed.article));
    if (!error.empty()) errors.push_back(path.string() + ": " + error);
  }
  if (files.empty()) errors.push_back(directory + ": no *.md articles");
  return kb;
}

std::string knowledge_base::add(kb_article article) {
  if (!valid_id(article.id))
    return "article id must be lower-case letters, digits and dashes, got \"" + article.id + "\"";
  if (find(article.id) != nullptr) return "duplicate article id \"" + article.id + "\"";
  // The title counts twice: it is the article's own summary of what it is about.
  std::vector<std::string> terms = bm25_terms(article.title);
  std::vector<std::string> body_terms = bm25_terms(article.title + "\n" + article.body);
  terms.insert(terms.end(), body_terms.begin(), body_terms.end());
  std::map<std::string, unsigned> frequency;
  for (const auto& t : terms) ++frequency[t];
  size_t index = articles_.size();
  for (const auto& [term, tf] : frequency) postings_[term].push_back(posting{index, tf});
  lengths_.push_back(terms.size());
  total_length_ += terms.size();
  articles_.push_back(std::move(article));
  return "";
}

std::vector<kb_hit> knowledge_base::search(std::string_view query, size_t k) const {
  std::vector<kb_hit> hits;
  if (articles_.empty() || k == 0) return hits;
  std::vector<std::string> terms = bm25_terms(query);
  std::sort(terms.begin(), terms.end());
  terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
  const double n = static_cast<double>(articles_.size());
  const double average_length = static_cast<double>(total_length_) / n;
  std::vector<double> scores(articles_.size(), 0.0);
  for (const auto& term : terms) {
    auto it = postings_.find(term);
    if (it == postings_.end()) continue;
    const double df = static_cast<double>(it->second.size());
    const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
    for (const auto& p : it->second) {
      const double tf = p.frequency;
      const double norm =
          parameters_.k1 *
          (1.0 - parameters_.b +
           parameters_.b * static_cast<double>(lengths_[p.article]) / average_length);
      scores[p.article] += idf * tf * (parameters_.k1 + 1.0) / (tf + norm);
    }
  }
  for (size_t i = 0; i < scores.size(); ++i)
    if (scores[i] > 0) hits.push_back(kb_hit{articles_[i].id, scores[i]});
  std::sort(hits.begin(), hits.end(), [](const kb_hit& a, const kb_hit& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  });
  if (hits.size() > k) hits.resize(k);
  return hits;
}

const kb_article* knowledge_base::find(std::string_view id) const {
  for (const auto& a : articles_)
    if (a.id == id) return &a;
  return nullptr;
}

}  // namespace switchyard
