// Specification of the gatekeeper's sentiment, urgency and language tags
// (agents/ticket_tags.hpp).

#include "agents/ticket_tags.hpp"

#include <algorithm>
#include <catch2/catch.hpp>

using namespace switchyard;

namespace {
bool has_evidence(const ticket_tags& t, const std::string& e) {
  return std::find(t.evidence.begin(), t.evidence.end(), e) != t.evidence.end();
}
}  // namespace

TEST_CASE("tags: an angry ticket is negative and says which words decided it", "[tags]") {
  auto t =
      tag_ticket("This is unacceptable, the parcel arrived damaged and your support is useless.");
  CHECK(t.mood == sentiment::negative);
  CHECK(t.sentiment_score == -3);
  CHECK(has_evidence(t, "negative:unacceptable"));
  CHECK(has_evidence(t, "negative:damaged"));
}

TEST_CASE("tags: thanks and praise are positive", "[tags]") {
  auto t = tag_ticket("Thank you so much, the delivery was fast and the jacket is perfect!");
  CHECK(t.mood == sentiment::positive);
  CHECK(to_string(t.mood) == "positive");
}

TEST_CASE("tags: a negation flips the word after it", "[tags]") {
  CHECK(tag_ticket("I am not happy with this order").mood == sentiment::negative);
  CHECK(tag_ticket("The box was not damaged at all").mood == sentiment::positive);
}

TEST_CASE("tags: a plain question is neutral with normal urgency", "[tags]") {
  auto t = tag_ticket("Which payment methods do you accept?");
  CHECK(t.mood == sentiment::neutral);
  CHECK(t.priority == urgency::normal);
  CHECK(to_string(t.priority) == "normal");
}

TEST_CASE("tags: urgency cues make a ticket high, relaxed ones low", "[tags]") {
  auto urgent = tag_ticket("I need this fixed ASAP, the wedding is tomorrow");
  CHECK(urgent.priority == urgency::high);
  CHECK(has_evidence(urgent, "urgent:asap"));
  CHECK(tag_ticket("Please cancel it right now").priority == urgency::high);
  CHECK(tag_ticket("Bitte sofort stornieren").priority == urgency::high);
  CHECK(tag_ticket("No rush, just wondering about your newsletter").priority == urgency::low);
  CHECK(tag_ticket("It is not urgent, whenever you can").priority == urgency::low);
}

TEST_CASE("tags: shouting makes a negative ticket more negative", "[tags]") {
  auto calm = tag_ticket("the parcel is broken");
  auto loud = tag_ticket("THE PARCEL IS BROKEN AGAIN!!");
  CHECK(loud.sentiment_score < calm.sentiment_score);
}

TEST_CASE("tags: language comes from stopwords and letters", "[tags]") {
  CHECK(tag_ticket("Where is my parcel? I ordered it last week and it has not arrived.").language ==
        "en");
  CHECK(tag_ticket("Wo ist meine Bestellung? Ich habe sie vor einer Woche bezahlt.").language ==
        "de");
  CHECK(tag_ticket("Größe ändern").language == "de");
  CHECK(tag_ticket("Bonjour, je n'ai pas reçu ma commande, pouvez-vous vérifier ?").language ==
        "fr");
  CHECK(tag_ticket("Hola, ¿dónde está mi pedido? Lo pagué hace una semana.").language == "es");
  auto german = tag_ticket("Die Lieferung ist nicht angekommen und ich bin enttäuscht.");
  CHECK(german.mood == sentiment::negative);
}

TEST_CASE("tags: too little evidence, empty text and other languages are other", "[tags]") {
  CHECK(tag_ticket("").language == "other");
  CHECK(tag_ticket("").mood == sentiment::neutral);
  CHECK(tag_ticket("SY-10234").language == "other");
  CHECK(tag_ticket("Waar is mijn bestelling? Dank je wel").language == "other");
  CHECK(tag_ticket(std::string("\xFF\xFE\xC3")).language == "other");
}

TEST_CASE("tags: a run of words in capitals is shouting even in a longer ticket", "[tags]") {
  auto t = tag_ticket("CANCEL MY ORDER NOW!!! I have asked three times already");
  CHECK(t.mood == sentiment::negative);
  CHECK(t.priority == urgency::high);
  CHECK(tag_ticket("I ordered from the UK via DPD").mood == sentiment::neutral);
}

TEST_CASE("tags: frustration without a negative word still counts", "[tags]") {
  CHECK(tag_ticket("It's been 12 days and I still haven't seen the money.").mood ==
        sentiment::negative);
  CHECK(tag_ticket("You send way too many emails").mood == sentiment::negative);
}
