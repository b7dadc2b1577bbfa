#include "agents/ticket_tags.hpp"

#include <array>
#include <cctype>
#include <unordered_set>

#include "agents/text_tokens.hpp"

namespace switchyard {

namespace {

using word_set = std::unordered_set<std::string_view>;

const word_set& positive_words() {
  static const word_set words = {
      "thanks",     "thank",     "great",   "love",    "excellent", "happy",     "amazing",
      "perfect",    "wonderful", "awesome", "helpful", "fantastic", "pleased",   "brilliant",
      "appreciate", "good",      "quick",   "fast",    "glad",      "satisfied", "lovely",
      "nice",       "danke",     "super",   "toll",    "prima",     "zufrieden", "merci",
      "génial",     "parfait",   "content", "ravi",    "gracias",   "excelente", "genial",
      "perfecto",   "encantado"};
  return words;
}

const word_set& negative_words() {
  static const word_set words = {
      "angry",         "terrible",     "awful",       "worst",        "disappointed",
      "disappointing", "unacceptable", "broken",      "ridiculous",   "furious",
      "scam",          "useless",      "hate",        "frustrated",   "frustrating",
      "annoyed",       "horrible",     "poor",        "bad",          "damaged",
      "wrong",         "missing",      "never",       "rude",         "complaint",
      "fraud",         "disgusted",    "upset",       "late",         "delayed",
      "schlecht",      "enttäuscht",   "ärgerlich",   "unverschämt",  "kaputt",
      "beschädigt",    "déçu",         "déçue",       "nul",          "inacceptable",
      "cassé",         "furieux",      "pésimo",      "decepcionado", "decepcionada",
      "roto",          "enfadado",     "inaceptable", "cracked",      "chipped",
      "ruined",        "rejected",     "declined",    "lost",         "unhappy",
      "nobody",        "complain",     "overcharged", "stolen",       "failed"};
  return words;
}

const word_set& negations() {
  static const word_set words = {"not",  "no",    "never", "isn", "wasn",   "don",
                                 "didn", "nicht", "kein",  "pas", "jamais", "nunca"};
  return words;
}

const word_set& high_urgency_words() {
  static const word_set words = {"urgent",   "urgently", "asap",  "immediately", "emergency",
                                 "dringend", "sofort",   "eilig", "urgente",     "inmediatamente"};
  return words;
}

constexpr std::array<std::string_view, 7> kHighUrgencyPhrases = {
    "right now",        "as soon as possible",    "within the hour", "tout de suite",
    "lo antes posible", "so schnell wie möglich", "last chance"};
// Frustration said without a negative word: "still nothing", "way too many".
constexpr std::array<std::string_view, 11> kNegativePhrases = {
    "still nothing", "still not", "still haven t", "still waiting", "still getting", "nothing at",
    "nothing like",  "too many",  "won t be",      "isn t helping", "not helping"};

constexpr std::array<std::string_view, 8> kLowUrgencyPhrases = {"no rush",
                                                                "no hurry",
                                                                "whenever",
                                                                "when you have time",
                                                                "just curious",
                                                                "not urgent",
                                                                "at your convenience",
                                                                "keine eile"};

struct language_lexicon {
  std::string_view code;
  word_set stopwords;
  std::vector<std::string_view> letters;  // UTF-8 letters typical of the language
};

const std::vector<language_lexicon>& languages() {
  static const std::vector<language_lexicon> lexicons = {
      {"en",
       {"the", "and",  "is",  "my",  "i",     "to",     "of",    "it",
        "you", "your", "for", "was", "have",  "with",   "this",  "that",
        "not", "what", "how", "can", "where", "please", "would", "are"},
       {}},
      {"de",
       {"der",   "die", "das",  "und",  "ist",  "ich",   "nicht", "mein",
        "meine", "ein", "eine", "mit",  "für",  "wie",   "wo",    "bitte",
        "sie",   "zu",  "auf",  "noch", "habe", "wurde", "kann",  "ihr"},
       {"ä", "ö", "ü", "ß"}},
      {"fr",
       {"le",  "la",   "les", "et",   "est",      "je",    "mon",  "ma",
        "mes", "une",  "des", "pour", "pas",      "avec",  "vous", "que",
        "qui", "dans", "sur", "ai",   "commande", "merci", "du",   "ne"},
       {"ç", "è", "ê", "à", "œ", "ù", "â", "î"}},
      {"es",
       {"el",    "los",     "las",  "y",   "es", "mi",     "mis",  "una",
        "por",   "para",    "con",  "que", "no", "pedido", "está", "como",
        "dónde", "gracias", "hola", "del", "al", "lo",     "muy",  "he"},
       {"ñ", "¿", "¡", "á", "í", "ó", "ú"}},
  };
  return lexicons;
}

size_t count_occurrences(std::string_view text, std::string_view needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string_view::npos;
       at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

}  // namespace

std::string_view to_string(sentiment s) {
  switch (s) {
    case sentiment::negative:
      return "negative";
    case sentiment::neutral:
      return "neutral";
    case sentiment::positive:
      return "positive";
  }
  return "neutral";
}

std::string_view to_string(urgency u) {
  switch (u) {
    case urgency::low:
      return "low";
    case urgency::normal:
      return "normal";
    case urgency::high:
      return "high";
  }
  return "normal";
}

ticket_tags tag_ticket(std::string_view text) {
  ticket_tags tags;
  const std::vector<std::string> words = word_tokens(text);
  std::string joined = " ";
  for (const auto& w : words) joined += w + " ";

  // Sentiment.
  for (size_t i = 0; i < words.size(); ++i) {
    int polarity = 0;
    if (positive_words().count(words[i])) polarity = 1;
    if (negative_words().count(words[i])) polarity = -1;
    if (polarity == 0) continue;
    bool negated =
        (i >= 1 && negations().count(words[i - 1])) || (i >= 2 && negations().count(words[i - 2]));
    // "never" is itself negative; "never again" should not become positive.
    if (negated && words[i] != "never") polarity = -polarity;
    tags.sentiment_score += polarity;
    tags.evidence.push_back(std::string(polarity > 0 ? "positive:" : "negative:") +
                            (negated ? "not-" : "") + words[i]);
  }
  for (auto phrase : kNegativePhrases) {
    if (joined.find(" " + std::string(phrase) + " ") != std::string::npos) {
      --tags.sentiment_score;
      tags.evidence.push_back("negative:" + std::string(phrase));
    }
  }
  // Shouting: mostly capitals is negative on its own; "!!" only sharpens a complaint.
  size_t letters = 0, capitals = 0;
  for (char c : text) {
    if (c >= 'a' && c <= 'z') ++letters;
    if (c >= 'A' && c <= 'Z') ++letters, ++capitals;
  }
  bool capitals_shouting = letters >= 12 && capitals * 10 >= letters * 7;
  // ...or a run of three or more words in capitals ("CANCEL MY ORDER NOW").
  size_t run = 0, run_letters = 0, word_letters = 0;
  bool word_upper = true;
  for (size_t i = 0; i <= text.size(); ++i) {
    char c = i < text.size() ? text[i] : ' ';
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (letter) {
      ++word_letters;
      word_upper = word_upper && c >= 'A' && c <= 'Z';
      continue;
    }
    if (word_letters > 0) {
      if (word_upper && word_letters >= 2) {
        ++run;
        run_letters += word_letters;
        if (run >= 3 && run_letters >= 10) capitals_shouting = true;
      } else {
        run = run_letters = 0;
      }
    }
    word_letters = 0;
    word_upper = true;
  }
  bool exclamations = text.find("!!") != std::string_view::npos;
  if (capitals_shouting || (exclamations && tags.sentiment_score < 0)) {
    --tags.sentiment_score;
    tags.evidence.push_back("negative:shouting");
  }
  tags.mood = tags.sentiment_score <= -1  ? sentiment::negative
              : tags.sentiment_score >= 1 ? sentiment::positive
                                          : sentiment::neutral;

  // Urgency: a high cue wins over a low one ("no rush... actually urgent").
  std::vector<std::string> high, low;
  for (const auto& w : words)
    if (high_urgency_words().count(w)) high.push_back(w);
  for (size_t at = text.find("!"); at != std::string_view::npos; at = text.find("!", at + 1)) {
    // "now!" / "NOW!!!": a demand, not a question.
    if (at >= 3) {
      std::string before(text.substr(at - 3, 3));
      for (char& c : before) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (before == "now" && (at == 3 || !std::isalpha(static_cast<unsigned char>(text[at - 4])))) {
        high.emplace_back("now!");
        break;
      }
    }
  }
  for (auto phrase : kHighUrgencyPhrases)
    if (joined.find(" " + std::string(phrase) + " ") != std::string::npos)
      high.emplace_back(phrase);
  for (auto phrase : kLowUrgencyPhrases)
    if (joined.find(" " + std::string(phrase) + " ") != std::string::npos) low.emplace_back(phrase);
  // "not urgent" contains "urgent": the low phrase overrides that one word.
  if (!low.empty() && high.size() == 1 && high[0] == "urgent" &&
      joined.find(" not urgent ") != std::string::npos)
    high.clear();
  if (!high.empty()) {
    tags.priority = urgency::high;
    for (const auto& h : high) tags.evidence.push_back("urgent:" + h);
  } else if (!low.empty()) {
    tags.priority = urgency::low;
    for (const auto& l : low) tags.evidence.push_back("not-urgent:" + l);
  }

  // Language.
  std::string best = "other", best_evidence;
  int best_score = 0, runner_up = 0;
  for (const auto& lang : languages()) {
    int score = 0;
    std::string first;
    for (const auto& w : words) {
      if (lang.stopwords.count(w)) {
        ++score;
        if (first.empty()) first = w;
      }
    }
    for (auto letter : lang.letters) {
      size_t n = count_occurrences(text, letter);
      score += static_cast<int>(2 * n);
      if (n > 0 && first.empty()) first = std::string(letter);
    }
    if (score > best_score) {
      runner_up = best_score;
      best_score = score;
      best = std::string(lang.code);
      best_evidence = first;
    } else if (score > runner_up) {
      runner_up = score;
    }
  }
  if (best_score >= 2 && best_score > runner_up) {
    tags.language = best;
    tags.evidence.push_back("lang:" + best + ":" + best_evidence);
  }
  return tags;
}

}  // namespace switchyard
