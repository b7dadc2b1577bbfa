#include "router/tfidf_encoder.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ostream>
#include <sstream>
#include <unordered_map>

namespace switchyard {

namespace {

constexpr char file_magic[8] = {'S', 'Y', 'T', 'F', 'I', 'D', 'F', '2'};

uint64_t mix(uint64_t x) {  // splitmix64 finaliser: spreads bits of combined hashes
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t fnv1a(std::string_view bytes, uint64_t basis) {
  uint64_t h = basis;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

constexpr uint64_t word_basis = 0xcbf29ce484222325ULL;
constexpr uint64_t char_basis = 0x84222325cbf29ce4ULL;

uint64_t nonzero(uint64_t h) {
  return h == 0 ? 1 : h;
}

bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Splits into lower-cased words without allocating one string per word.
void split_words(std::string_view text, std::string& buffer,
                 std::vector<std::pair<size_t, size_t>>& spans,
                 std::vector<std::string_view>& words) {
  buffer.clear();
  buffer.reserve(text.size() + 1);
  spans.clear();
  size_t i = 0;
  while (i < text.size()) {
    if (!is_word_byte(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    size_t start = buffer.size();
    while (i < text.size() && is_word_byte(static_cast<unsigned char>(text[i]))) {
      buffer.push_back(lower(text[i]));
      ++i;
    }
    spans.emplace_back(start, buffer.size() - start);
  }
  words.clear();
  for (auto [start, len] : spans) words.emplace_back(buffer.data() + start, len);
}

template <class T>
void write_pod(std::ostream& out, const T& value) {
  out.write(reinterpret_cast<const char*>(&value), sizeof(T));
}

template <class T>
bool read_pod(std::istream& in, T& value) {
  return static_cast<bool>(in.read(reinterpret_cast<char*>(&value), sizeof(T)));
}

// A found n-gram: feature index in the high half, IDF bits in the low half, so sorting
// orders by feature index and equal features are equal numbers.
uint64_t found_feature(uint32_t index, float idf) {
  uint32_t bits;
  std::memcpy(&bits, &idf, sizeof bits);
  return (static_cast<uint64_t>(index) << 32) | bits;
}

// Term frequencies of found features (found_feature), weighted by IDF,
// L2-normalised, scaled.
void weigh_block(std::vector<uint64_t>& found, bool sublinear, float block_weight,
                 std::vector<std::pair<uint32_t, float>>& out) {
  if (found.empty() || block_weight == 0.0f) return;
  std::sort(found.begin(), found.end());
  const size_t first = out.size();
  double norm2 = 0.0;
  for (size_t i = 0; i < found.size();) {
    size_t j = i;
    while (j < found.size() && found[j] == found[i]) ++j;
    const size_t count = j - i;
    // Most n-grams occur once in an utterance: skip the log for them.
    const double tf = count == 1 ? 1.0
                                 : (sublinear ? 1.0 + std::log(static_cast<double>(count))
                                              : static_cast<double>(count));
    float idf;
    const auto bits = static_cast<uint32_t>(found[i]);
    std::memcpy(&idf, &bits, sizeof idf);
    const double value = tf * idf;
    out.emplace_back(static_cast<uint32_t>(found[i] >> 32), static_cast<float>(value));
    norm2 += value * value;
    i = j;
  }
  const double scale = block_weight / std::sqrt(norm2);
  for (size_t k = first; k < out.size(); ++k) {
    out[k].second = static_cast<float>(out[k].second * scale);
  }
}

}  // namespace

std::string tfidf_options::problem() const {
  std::ostringstream why;
  if (word_ngram_min < 1 || word_ngram_max < word_ngram_min || word_ngram_max > 5) {
    why << "word n-gram orders must satisfy 1 <= min <= max <= 5, got " << word_ngram_min << ".."
        << word_ngram_max;
  } else if (char_ngram_min != 0 &&
             (char_ngram_min < 1 || char_ngram_max < char_ngram_min || char_ngram_max > 8)) {
    why << "char n-gram orders must be 0 (off) or satisfy 1 <= min <= max <= 8, got "
        << char_ngram_min << ".." << char_ngram_max;
  } else if (skip_pair_window < 0 || skip_pair_window > 16) {
    why << "skip pair window must be in [0, 16], got " << skip_pair_window;
  } else if (min_document_frequency < 1) {
    why << "min document frequency must be >= 1, got " << min_document_frequency;
  } else if (!(word_weight >= 0.0f) || !(char_weight >= 0.0f) ||
             word_weight + char_weight <= 0.0f) {
    why << "block weights must be >= 0 and not both 0, got word " << word_weight << ", char "
        << char_weight;
  }
  return why.str();
}

std::vector<std::string> tokenize_utterance(std::string_view text) {
  std::string buffer;
  std::vector<std::pair<size_t, size_t>> spans;
  std::vector<std::string_view> words;
  split_words(text, buffer, spans, words);
  return {words.begin(), words.end()};
}

// Buffers encode() reuses from call to call on one thread: no allocation per call
// once they have grown to the longest utterance seen.
struct tfidf_encoder::scratch {
  std::string buffer;
  std::vector<std::pair<size_t, size_t>> spans;
  std::vector<std::string_view> words;
  std::vector<uint64_t> word_hash;
  std::string padded;
  std::vector<uint64_t> word_grams, char_grams;
  std::vector<uint64_t> word_found, char_found;
};

void tfidf_encoder::ngram_hashes(std::string_view text, scratch& work,
                                 std::vector<uint64_t>& words_out,
                                 std::vector<uint64_t>& chars_out) const {
  auto& words = work.words;
  split_words(text, work.buffer, work.spans, words);

  auto& word_hash = work.word_hash;
  word_hash.resize(words.size());
  for (size_t i = 0; i < words.size(); ++i) word_hash[i] = fnv1a(words[i], word_basis);
  for (size_t i = 0; i < words.size(); ++i) {
    uint64_t h = static_cast<uint64_t>(options_.word_ngram_max);
    for (int n = 1; n <= options_.word_ngram_max && i + n <= words.size(); ++n) {
      h = mix(h ^ word_hash[i + n - 1]);
      if (n >= options_.word_ngram_min) words_out.push_back(nonzero(h));
    }
  }

  for (size_t i = 0; i < words.size(); ++i) {
    for (size_t j = i + 2; j < words.size() && j <= i + options_.skip_pair_window; ++j) {
      words_out.push_back(nonzero(mix(mix(0x5eedULL ^ word_hash[i]) ^ word_hash[j])));
    }
  }

  if (options_.char_ngram_min == 0) return;
  auto& padded = work.padded;
  const size_t nmin = static_cast<size_t>(options_.char_ngram_min);
  const size_t nmax = static_cast<size_t>(options_.char_ngram_max);
  auto char_ngrams = [&](std::string_view p) {
    // One FNV pass per start position yields every order from nmin to nmax.
    for (size_t start = 0; start + nmin <= p.size(); ++start) {
      uint64_t h = char_basis;
      for (size_t n = 1; n <= nmax && start + n <= p.size(); ++n) {
        h ^= static_cast<unsigned char>(p[start + n - 1]);
        h *= 0x100000001b3ULL;
        if (n >= nmin) chars_out.push_back(nonzero(h));
      }
    }
  };
  if (options_.char_within_words) {
    for (auto word : words) {
      padded.assign(1, ' ');
      padded.append(word);
      padded.push_back(' ');
      char_ngrams(padded);
    }
  } else {
    padded.assign(1, ' ');
    for (auto word : words) {
      padded.append(word);
      padded.push_back(' ');
    }
    char_ngrams(padded);
  }
}

std::shared_ptr<const tfidf_encoder> tfidf_encoder::fit(const std::vector<std::string>& texts,
                                                        const tfidf_options& options) {
  std::shared_ptr<tfidf_encoder> enc{new tfidf_encoder()};
  enc->options_ = options;
  std::unordered_map<uint64_t, uint32_t> document_frequency;
  std::vector<uint64_t> words, chars;
  scratch work;
  for (const auto& text : texts) {
    words.clear();
    chars.clear();
    enc->ngram_hashes(text, work, words, chars);
    words.insert(words.end(), chars.begin(), chars.end());
    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());
    for (auto h : words) ++document_frequency[h];
  }
  std::vector<uint64_t> kept;
  for (const auto& [hash, df] : document_frequency) {
    if (static_cast<int>(df) >= options.min_document_frequency) kept.push_back(hash);
  }
  std::sort(kept.begin(), kept.end());  // index order independent of hash-map iteration
  const double n = static_cast<double>(texts.size());
  enc->idf_.reserve(kept.size());
  for (auto h : kept) {
    const double df = document_frequency[h];
    enc->idf_.push_back(static_cast<float>(std::log((1.0 + n) / (1.0 + df)) + 1.0));
  }
  enc->build_table(kept);
  return enc;
}

void tfidf_encoder::build_table(const std::vector<uint64_t>& hashes) {
  hashes_ = hashes;
  size_t capacity = 16;
  while (capacity < hashes.size() * 2) capacity *= 2;  // load factor <= 0.5
  table_.assign(capacity, slot{});
  mask_ = capacity - 1;
  for (uint32_t i = 0; i < hashes.size(); ++i) {
    const uint64_t mixed = mix(hashes[i]);
    uint64_t pos = mixed & mask_;
    while (table_[pos].check != 0) pos = (pos + 1) & mask_;
    table_[pos] = slot{static_cast<uint32_t>(mixed >> 32) | 1u, i, idf_[i]};
  }
}

const tfidf_encoder::slot* tfidf_encoder::find(uint64_t mixed) const {
  const uint32_t check = static_cast<uint32_t>(mixed >> 32) | 1u;
  uint64_t pos = mixed & mask_;
  while (true) {
    const slot& s = table_[pos];
    if (s.check == check) return &s;
    if (s.check == 0) return nullptr;
    pos = (pos + 1) & mask_;
  }
}

sparse_vector tfidf_encoder::encode(std::string_view text) const {
  thread_local scratch work;
  auto& words = work.word_grams;
  auto& chars = work.char_grams;
  words.clear();
  chars.clear();
  ngram_hashes(text, work, words, chars);
  // Mix and prefetch every slot first so the cache misses overlap instead of queueing.
  for (auto* list : {&words, &chars}) {
    for (auto& h : *list) {
      h = mix(h);
      __builtin_prefetch(&table_[h & mask_]);
    }
  }
  auto& word_found = work.word_found;
  auto& char_found = work.char_found;
  word_found.clear();
  char_found.clear();
  for (auto m : words) {
    if (const slot* s = find(m)) word_found.push_back(found_feature(s->index, s->idf));
  }
  for (auto m : chars) {
    if (const slot* s = find(m)) char_found.push_back(found_feature(s->index, s->idf));
  }
  sparse_vector out;
  out.entries.reserve(word_found.size() + char_found.size());
  weigh_block(word_found, options_.sublinear_tf, options_.word_weight, out.entries);
  const auto middle = static_cast<std::ptrdiff_t>(out.entries.size());
  weigh_block(char_found, options_.sublinear_tf, options_.char_weight, out.entries);
  // Each block is sorted and their indices are disjoint: a merge orders the whole.
  std::inplace_merge(out.entries.begin(), out.entries.begin() + middle, out.entries.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

std::string tfidf_encoder::identity() const {
  std::ostringstream id;
  id << "tfidf-v1 words " << options_.word_ngram_min << '-' << options_.word_ngram_max
     << " skip pairs " << options_.skip_pair_window << " chars " << options_.char_ngram_min << '-'
     << options_.char_ngram_max << (options_.char_within_words ? " in words" : " across words")
     << " min_df " << options_.min_document_frequency
     << (options_.sublinear_tf ? " sublinear" : " linear") << " weights " << options_.word_weight
     << '/' << options_.char_weight << " features " << idf_.size();
  return id.str();
}

uint64_t tfidf_encoder::vocabulary_fingerprint() const {
  uint64_t h = word_basis;
  for (size_t i = 0; i < hashes_.size(); ++i) {
    uint32_t idf_bits;
    std::memcpy(&idf_bits, &idf_[i], sizeof idf_bits);
    h = mix(h ^ hashes_[i]);
    h = mix(h ^ idf_bits);
  }
  return h;
}

void tfidf_encoder::save(std::ostream& out) const {
  out.write(file_magic, sizeof file_magic);
  write_pod(out, static_cast<int32_t>(options_.word_ngram_min));
  write_pod(out, static_cast<int32_t>(options_.word_ngram_max));
  write_pod(out, static_cast<int32_t>(options_.char_ngram_min));
  write_pod(out, static_cast<int32_t>(options_.char_ngram_max));
  write_pod(out, static_cast<int32_t>(options_.min_document_frequency));
  write_pod(out, static_cast<int32_t>(options_.sublinear_tf ? 1 : 0));
  write_pod(out, static_cast<int32_t>(options_.skip_pair_window));
  write_pod(out, static_cast<int32_t>(options_.char_within_words ? 1 : 0));
  write_pod(out, options_.word_weight);
  write_pod(out, options_.char_weight);
  write_pod(out, static_cast<uint64_t>(hashes_.size()));
  for (size_t i = 0; i < hashes_.size(); ++i) {
    write_pod(out, hashes_[i]);
    write_pod(out, idf_[i]);
  }
}

std::shared_ptr<const tfidf_encoder> tfidf_encoder::load(std::istream& in, std::string& error) {
  char magic[sizeof file_magic];
  if (!in.read(magic, sizeof magic) || std::memcmp(magic, file_magic, sizeof magic) != 0) {
    error = "not a TF-IDF encoder section (bad magic)";
    return nullptr;
  }
  int32_t wmin, wmax, cmin, cmax, min_df, sublinear, skip_window, within_words;
  float ww, cw;
  uint64_t count;
  if (!read_pod(in, wmin) || !read_pod(in, wmax) || !read_pod(in, cmin) || !read_pod(in, cmax) ||
      !read_pod(in, min_df) || !read_pod(in, sublinear) || !read_pod(in, skip_window) ||
      !read_pod(in, within_words) || !read_pod(in, ww) || !read_pod(in, cw) ||
      !read_pod(in, count)) {
    error = "TF-IDF encoder header is truncated";
    return nullptr;
  }
  std::shared_ptr<tfidf_encoder> enc{new tfidf_encoder()};
  tfidf_options& o = enc->options_;
  o.word_ngram_min = wmin;
  o.word_ngram_max = wmax;
  o.skip_pair_window = skip_window;
  o.char_ngram_min = cmin;
  o.char_ngram_max = cmax;
  o.char_within_words = within_words != 0;
  o.min_document_frequency = min_df;
  o.sublinear_tf = sublinear != 0;
  o.word_weight = ww;
  o.char_weight = cw;
  if (auto why = enc->options_.problem(); !why.empty()) {
    error = "TF-IDF encoder options are invalid: " + why;
    return nullptr;
  }
  if (count > (1ULL << 28)) {
    error = "TF-IDF encoder claims " + std::to_string(count) + " features, more than allowed";
    return nullptr;
  }
  std::vector<uint64_t> hashes(count);
  enc->idf_.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    if (!read_pod(in, hashes[i]) || !read_pod(in, enc->idf_[i])) {
      error = "TF-IDF vocabulary is truncated at feature " + std::to_string(i) + " of " +
              std::to_string(count);
      return nullptr;
    }
    if (hashes[i] == 0 || (i > 0 && hashes[i] <= hashes[i - 1])) {
      error = "TF-IDF vocabulary is not strictly sorted at feature " + std::to_string(i);
      return nullptr;
    }
  }
  enc->build_table(hashes);
  return enc;
}

}  // namespace switchyard
