#pragma once
// The gatekeeper's ticket tags: sentiment, urgency and language from small lexicons.
// Explainable on purpose: every tag comes with the words that decided it, so a
// support lead can read why a ticket was marked urgent.

#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

enum class sentiment { negative, neutral, positive };
enum class urgency { low, normal, high };

std::string_view to_string(sentiment s);
std::string_view to_string(urgency u);

struct ticket_tags {
  sentiment mood = sentiment::neutral;
  int sentiment_score = 0;  // positive words minus negative words (negation flips a word)
  urgency priority = urgency::normal;
  std::string language = "other";  // en, de, fr, es or other
  /// Why: entries such as "negative:refund-not-received", "urgent:asap", "lang:de:und".
  std::vector<std::string> evidence;
};

/// Tags `text`. Rules:
/// - sentiment: +1 per positive lexicon word, -1 per negative one, the sign flipped when
///   one of the two words before it is a negation ("not happy"); score <= -1 is
///   negative, >= +1 positive (a "!!" or all-caps shouting adds -1 when already negative).
/// - urgency: any high-urgency cue ("urgent", "asap", "immediately", "sofort", ...) is
///   high; else a low cue ("no rush", "whenever") is low; else normal.
/// - language: stopwords score 1 each, language-specific letters (ß, ñ, ç...) 2 each;
///   the best language needs a score >= 2 and must beat the runner-up, else "other".
/// O(n) in the text; no allocation beyond the word list.
ticket_tags tag_ticket(std::string_view text);

}  // namespace switchyard
