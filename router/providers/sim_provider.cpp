#include "router/providers/sim_provider.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>

#include "router/token_estimate.hpp"

namespace switchyard {

namespace {

// -- deterministic hashing ----------------------------------------------------------

constexpr uint64_t fnv_offset_basis = 14695981039346656037ull;
constexpr uint64_t fnv_prime = 1099511628211ull;

// FNV-1a rather than std::hash: the value of std::hash<std::string> is unspecified and
// differs between standard libraries, and sim outcomes must be the same everywhere.
// Passing a previous result as `hash` hashes the concatenation.
uint64_t fnv1a(std::string_view bytes, uint64_t hash = fnv_offset_basis) {
  // Four bytes per turn of the loop (the same hash): it runs over every prompt.
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  for (; n >= 4; n -= 4, p += 4) {
    hash = (hash ^ p[0]) * fnv_prime;
    hash = (hash ^ p[1]) * fnv_prime;
    hash = (hash ^ p[2]) * fnv_prime;
    hash = (hash ^ p[3]) * fnv_prime;
  }
  for (; n > 0; --n, ++p) hash = (hash ^ *p) * fnv_prime;
  return hash;
}

// splitmix64's finaliser: a cheap, well-mixed 64-bit permutation.
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// A uniform draw in [0, 1) for the fault at `position` on call `index` of a model.
// Each fault gets its own draw so adding a fault does not shift the others.
double fault_draw(uint64_t seed, uint64_t model_hash, uint64_t index, uint64_t position) {
  uint64_t x = splitmix64(seed);
  x = splitmix64(x ^ model_hash);
  x = splitmix64(x ^ index);
  x = splitmix64(x ^ position);
  return static_cast<double>(x >> 11) * 0x1.0p-53;  // top 53 bits: exact in a double
}

// -- UTF-8 ----------------------------------------------------------------------------

constexpr bool is_continuation_byte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// Bytes in the longest prefix of `text` with at most `max_code_points` code points;
// cutting there never splits a code point.
size_t prefix_bytes(std::string_view text, uint64_t max_code_points) {
  uint64_t seen = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (is_continuation_byte(text[i])) continue;
    if (seen == max_code_points) return i;
    ++seen;
  }
  return text.size();
}

// -- the reply ------------------------------------------------------------------------

constexpr size_t quote_max_words = 12;
// Also cap the quote by length, so a prompt without spaces (CJK, a long URL) cannot
// make the quote alone dwarf the reply.
constexpr uint64_t quote_max_code_points = 80;
constexpr uint32_t reply_min_tokens = 12;
constexpr uint32_t reply_token_spread = 52;  // targets are 12..63 tokens

constexpr std::array<std::string_view, 12> filler_sentences = {
    "This is a simulated answer.",
    "No model was consulted to write it.",
    "The simulator derives every word from the request, so it repeats itself faithfully.",
    "A real provider would reason about the question here.",
    "Consider the question answered for the purposes of this run.",
    "The details would depend on context the simulator does not have.",
    "Further steps can build on this reply.",
    "Latency, tokens and faults are modelled; insight is not.",
    "Treat this text as a placeholder of realistic length.",
    "The same request always gets this same reply.",
    "Another model or another prompt would get a different one.",
    "Nothing here was checked against real data.",
};

// Code points of each filler sentence, counted once: a reply picks several per call.
const std::array<uint64_t, filler_sentences.size()>& filler_code_points() {
  static const auto counts = [] {
    std::array<uint64_t, filler_sentences.size()> out{};
    for (size_t i = 0; i < filler_sentences.size(); ++i)
      out[i] = count_code_points(filler_sentences[i]);
    return out;
  }();
  return counts;
}

bool is_ascii_space(char c) {
  // ' ', or one of '\t' '\n' '\v' '\f' '\r' (9 to 13): two compares, not six.
  return c == ' ' || static_cast<unsigned char>(c - '\t') <= '\r' - '\t';
}

// The message the reply answers: the last one from the user, else the last one.
std::string_view prompt_to_answer(const std::vector<chat_message>& messages) {
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    if (std::string_view{it->role} == "user") return it->content;  // no strlen call
  }
  return messages.empty() ? std::string_view{} : std::string_view{messages.back().content};
}

// Writes pieces into a string sized ahead (resized once, then copied into): a reply or a
// quote is a dozen or two short pieces, and a string append per piece cost more than
// the copying. Grows if the pieces outrun the size given (never for a reply, whose size
// is planned exactly).
class piece_writer {
 public:
  piece_writer(std::string& out, size_t expected) : out_(out) { out_.resize(expected); }
  void put(std::string_view piece) {
    if (piece.size() > out_.size() - size_)
      out_.resize(std::max(out_.size() * 2, size_ + piece.size()));
    std::memcpy(out_.data() + size_, piece.data(), piece.size());
    size_ += piece.size();
  }
  void put(char c) { put(std::string_view{&c, 1}); }
  void finish() { out_.resize(size_); }

 private:
  std::string& out_;
  size_t size_ = 0;
};

// The first words of `text`, whitespace collapsed, with "..." when some were dropped;
// `code_points` gets the quote's length in code points.
std::string quote_of(std::string_view text, uint64_t& quote_code_points) {
  std::string quote;
  piece_writer out{quote, std::min<size_t>(text.size(), quote_max_code_points * 4) + 3};
  size_t words = 0;
  uint64_t code_points = 0;
  size_t i = 0;
  bool truncated = false;
  while (i < text.size()) {
    while (i < text.size() && is_ascii_space(text[i])) ++i;
    if (i == text.size()) break;
    if (words == quote_max_words || code_points >= quote_max_code_points) {
      truncated = true;
      break;
    }
    size_t end = i;
    uint64_t word_code_points = 0;  // counted on the way: no second pass over the word
    while (end < text.size() && !is_ascii_space(text[end])) {
      if (!is_continuation_byte(text[end])) ++word_code_points;
      ++end;
    }
    if (words > 0) {
      out.put(' ');
      ++code_points;
    }
    std::string_view word = text.substr(i, end - i);
    const uint64_t room = quote_max_code_points - code_points;
    size_t keep = word.size();
    if (word_code_points > room) {
      keep = prefix_bytes(word, room);
      word_code_points = room;
    }
    out.put(word.substr(0, keep));
    code_points += word_code_points;
    ++words;
    if (keep < word.size()) {
      truncated = true;
      break;
    }
    i = end;
  }
  if (truncated) {
    out.put("...");
    code_points += 3;
  }
  out.finish();
  quote_code_points = code_points;
  return quote;
}

// The filler sentences a reply picks after its header, and its size: derived from the
// reply's hash alone, so the text can be written later from a few numbers (see
// sim_deferred_reply).
struct reply_plan {
  std::array<uint8_t, 64> picks{};
  size_t pick_count = 0;
  uint64_t code_points = 0;  // of the whole reply, header included
  size_t bytes = 0;
};

constexpr std::string_view label_open = "[sim ";
constexpr std::string_view label_close = "] Re: \"";
constexpr std::string_view quote_close = "\" \u2014";
// The labels are ASCII but for the dash (three bytes, one code point).
constexpr uint64_t label_code_points =
    label_open.size() + label_close.size() + quote_close.size() - 2;

// The reply's hash: of the model id and the prompt, one after the other; `model_hash` is
// the model id's (fnv1a(model_id)), which the faults hash too.
uint64_t reply_hash_of(uint64_t model_hash, std::string_view prompt) {
  return fnv1a(prompt, model_hash);
}

reply_plan plan_reply(const std::string& model_id, uint64_t reply_hash, std::string_view quote,
                      uint64_t quote_code_points) {
  const uint32_t target_tokens =
      reply_min_tokens + static_cast<uint32_t>(reply_hash % reply_token_spread);
  reply_plan plan;
  plan.code_points = label_code_points + count_code_points(model_id) + quote_code_points;
  plan.bytes =
      label_open.size() + model_id.size() + label_close.size() + quote.size() + quote_close.size();
  const auto& filler_points = filler_code_points();
  uint64_t state = reply_hash;
  size_t previous = filler_sentences.size();
  while (tokens_for_code_points(plan.code_points) < target_tokens &&
         plan.pick_count < plan.picks.size()) {
    state = splitmix64(state);
    size_t pick = state % filler_sentences.size();
    if (pick == previous) pick = (pick + 1) % filler_sentences.size();  // no stutter
    previous = pick;
    plan.picks[plan.pick_count++] = static_cast<uint8_t>(pick);
    plan.code_points += 1 + filler_points[pick];
    plan.bytes += 1 + filler_sentences[pick].size();
  }
  return plan;
}

// The reply's text, allocated once at its exact size (replies of in-flight calls are
// held while their latency runs), cut to `max_code_points` when the plan is longer.
std::string write_reply(const std::string& model_id, std::string_view quote, const reply_plan& plan,
                        uint64_t max_code_points) {
  std::string text;
  piece_writer out{text, plan.bytes};
  out.put(label_open);
  out.put(model_id);
  out.put(label_close);
  out.put(quote);
  out.put(quote_close);
  for (size_t i = 0; i < plan.pick_count; ++i) {
    out.put(' ');
    out.put(filler_sentences[plan.picks[i]]);
  }
  out.finish();
  if (plan.code_points > max_code_points) text.resize(prefix_bytes(text, max_code_points));
  return text;
}

// -- errors ---------------------------------------------------------------------------

sim_outcome failure(std::string kind, std::string message, std::chrono::milliseconds latency,
                    uint32_t retry_after_ms = 0) {
  sim_outcome out;
  out.error.kind = std::move(kind);
  out.error.message = std::move(message);
  out.error.retry_after_ms = retry_after_ms;
  out.latency = latency;
  return out;
}

bool fault_fires(const sim_fault& fault, uint64_t seed, uint64_t model_hash, uint64_t index,
                 uint64_t position) {
  if (fault.every > 0 && index % fault.every == 0) return true;
  return fault.probability > 0 && fault_draw(seed, model_hash, index, position) < fault.probability;
}

sim_outcome fault_outcome(const sim_fault& fault, const model_config& model, uint64_t index) {
  const auto base_latency = std::chrono::milliseconds{model.sim.latency_ms};
  const std::string where = "sim: " + model.id + " call #" + std::to_string(index);
  if (fault.kind == "rate_limited") {
    return failure("rate_limited",
                   where + " rate limited (HTTP 429), retry after " +
                       std::to_string(fault.retry_after_ms) + " ms",
                   base_latency, fault.retry_after_ms);
  }
  if (fault.kind == "timeout") {
    return failure("timeout",
                   where + " timed out after " + std::to_string(model.sim.timeout_ms) + " ms",
                   std::chrono::milliseconds{model.sim.timeout_ms});
  }
  if (fault.kind == "server_error") {
    return failure("server_error", where + " failed with an internal server error (HTTP 500)",
                   base_latency);
  }
  // Config validation rejects other kinds; fail loudly rather than ignore the fault.
  return failure("server_error", where + " has an unknown sim fault kind \"" + fault.kind + "\"",
                 base_latency);
}

// The slot of a request in the written replies: from the prompt's size and a few of its
// bytes (hashing all of it would cost what the slot saves), max_tokens and the model
// id's size. Slot contents are compared in full.
size_t written_slot_of(const std::string& model_id, std::string_view prompt, uint32_t max_tokens,
                       size_t slots) {
  uint64_t h = splitmix64(prompt.size() ^ (uint64_t{max_tokens} << 32) ^ (model_id.size() << 48));
  auto word_at = [&](size_t at) {
    uint64_t w = 0;
    std::memcpy(&w, prompt.data() + at, std::min<size_t>(8, prompt.size() - at));
    return w;
  };
  if (!prompt.empty()) {
    h = splitmix64(h ^ word_at(0));
    h = splitmix64(h ^ word_at(prompt.size() > 8 ? prompt.size() - 8 : 0));
    h = splitmix64(h ^ word_at(prompt.size() / 2));
  }
  return static_cast<size_t>(h % slots);
}

}  // namespace

// One block: this header, then the quote's bytes.
struct sim_deferred_reply::header {
  uint64_t reply_hash;
  uint32_t quote_code_points;
  uint32_t max_tokens;
  uint32_t input_tokens;
  uint32_t output_tokens;
  uint32_t quote_bytes;
  bool cut;
};

sim_provider::sim_provider(uint64_t seed) : seed_(seed) {}

sim_outcome sim_provider::call(const model_config& model, const std::vector<chat_message>& messages,
                               uint32_t max_tokens, std::chrono::milliseconds since_start) {
  return call(model, messages, max_tokens, since_start, estimate_prompt_tokens(messages));
}

sim_outcome sim_provider::call(const model_config& model, const std::vector<chat_message>& messages,
                               uint32_t max_tokens, std::chrono::milliseconds since_start,
                               uint32_t prompt_tokens, bool defer_text) {
  auto*& entry = last_.entry;
  if (entry == nullptr || entry->first != model.id) entry = &*calls_.try_emplace(model.id).first;
  const uint64_t index = ++entry->second;
  const sim_model_settings& sim = model.sim;
  const auto base_latency = std::chrono::milliseconds{sim.latency_ms};
  // Every way out returns `out`, so it is built where the caller holds the outcome (a
  // return of another object here cost a move of the outcome on every call).
  sim_outcome out;

  // An outage means the endpoint cannot be reached, so it wins over everything else.
  if (since_start.count() >= 0) {
    const auto now_ms = static_cast<uint64_t>(since_start.count());
    for (const sim_outage& outage : sim.outages) {
      if (outage.from_ms <= now_ms && now_ms < outage.to_ms) {
        out = failure("connection",
                      "sim: " + model.id + " is in an outage window [" +
                          std::to_string(outage.from_ms) + ", " + std::to_string(outage.to_ms) +
                          ") ms",
                      base_latency);
        return out;
      }
    }
  }

  // A request the endpoint would reject fails the same way on every call, before any
  // transient fault could hide it.
  if (max_tokens == 0) {
    out = failure("bad_request", "sim: " + model.id + ": max_tokens must be >= 1, got 0",
                  base_latency);
    return out;
  }
  const uint64_t needed = uint64_t{prompt_tokens} + max_tokens;
  if (needed > model.context_window) {
    out = failure("context_length",
                  "sim: " + model.id + ": prompt of " + std::to_string(prompt_tokens) +
                      " tokens + max_tokens " + std::to_string(max_tokens) + " = " +
                      std::to_string(needed) + " exceeds the context window of " +
                      std::to_string(model.context_window) + " tokens",
                  base_latency);
    return out;
  }

  const uint64_t model_hash = fnv1a(model.id);
  for (size_t position = 0; position < sim.faults.size(); ++position) {
    const sim_fault& fault = sim.faults[position];
    if (fault_fires(fault, seed_, model_hash, index, position)) {
      out = fault_outcome(fault, model, index);
      return out;
    }
  }

  const std::string_view prompt = prompt_to_answer(messages);
  const auto latency_for = [&](uint32_t output_tokens) {
    return base_latency +
           std::chrono::milliseconds{uint64_t{sim.ms_per_output_token} * output_tokens};
  };
  // A text written now (no latency to wait out first) may be one written before.
  const bool may_defer = defer_text && (sim.latency_ms > 0 || sim.ms_per_output_token > 0);
  written_reply* slot = nullptr;
  if (!may_defer && prompt.size() <= written_max_prompt) {
    if (written_.empty()) written_.resize(written_slots);
    slot = &written_[written_slot_of(model.id, prompt, max_tokens, written_slots)];
    if (slot->max_tokens == max_tokens && slot->prompt == prompt && slot->model_id == model.id &&
        max_tokens != 0) {
      out.text = slot->text;
      out.finish_reason = slot->cut ? "length" : "stop";
      out.input_tokens = prompt_tokens;
      out.output_tokens = slot->output_tokens;
      out.latency = latency_for(out.output_tokens);
      return out;
    }
  }
  const uint64_t reply_hash = reply_hash_of(model_hash, prompt);
  uint64_t quote_code_points = 0;
  const auto quote = quote_of(prompt, quote_code_points);
  const reply_plan plan = plan_reply(model.id, reply_hash, quote, quote_code_points);
  // ceil(n / 4) <= max_tokens exactly when n <= 4 * max_tokens code points.
  const uint64_t max_code_points = uint64_t{max_tokens} * 4;
  const bool cut = plan.code_points > max_code_points;
  out.finish_reason = cut ? "length" : "stop";
  out.input_tokens = prompt_tokens;
  out.output_tokens = tokens_for_code_points(cut ? max_code_points : plan.code_points);
  out.latency = latency_for(out.output_tokens);
  if (!defer_text || out.latency.count() <= 0) {
    out.text = write_reply(model.id, quote, plan, max_code_points);
    if (slot != nullptr) {
      slot->model_id = model.id;
      slot->prompt = prompt;
      slot->text = out.text;
      slot->max_tokens = max_tokens;
      slot->output_tokens = out.output_tokens;
      slot->cut = cut;
    }
    return out;
  }
  auto* h = static_cast<sim_deferred_reply::header*>(
      ::operator new(sizeof(sim_deferred_reply::header) + quote.size()));
  h->reply_hash = reply_hash;
  h->quote_code_points = static_cast<uint32_t>(quote_code_points);
  h->max_tokens = max_tokens;
  h->input_tokens = out.input_tokens;
  h->output_tokens = out.output_tokens;
  h->quote_bytes = static_cast<uint32_t>(quote.size());
  h->cut = cut;
  std::memcpy(h + 1, quote.data(), quote.size());
  out.deferred.block_.reset(h);
  return out;
}

void sim_deferred_reply::release::operator()(header* h) const {
  ::operator delete(h);  // trivially destructible
}

uint32_t sim_deferred_reply::input_tokens() const {
  return block_->input_tokens;
}

uint32_t sim_deferred_reply::output_tokens() const {
  return block_->output_tokens;
}

const char* sim_deferred_reply::finish_reason() const {
  return block_->cut ? "length" : "stop";
}

std::string sim_deferred_reply::write_text(const std::string& model_id) const {
  const header& h = *block_;
  const std::string_view quote{reinterpret_cast<const char*>(&h + 1), h.quote_bytes};
  const reply_plan plan = plan_reply(model_id, h.reply_hash, quote, h.quote_code_points);
  return write_reply(model_id, quote, plan, uint64_t{h.max_tokens} * 4);
}

uint64_t sim_provider::calls_made(const std::string& model_id) const {
  auto it = calls_.find(model_id);
  return it == calls_.end() ? 0 : it->second;
}

}  // namespace switchyard
