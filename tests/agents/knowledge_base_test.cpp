// Specification of the knowledge base and its BM25 index (agents/knowledge_base.hpp),
// on the bundled articles in examples/knowledge_base/.

#include "agents/knowledge_base.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <set>

using namespace switchyard;

namespace {

const knowledge_base& bundled() {
  static const knowledge_base kb = [] {
    std::vector<std::string> errors;
    auto loaded =
        knowledge_base::load_directory(SWITCHYARD_SOURCE_DIR "/examples/knowledge_base", errors);
    REQUIRE(errors.empty());
    return loaded;
  }();
  return kb;
}

std::string top(const std::string& query) {
  auto hits = bundled().search(query, 3);
  return hits.empty() ? "" : hits.front().id;
}

}  // namespace

TEST_CASE("kb: the bundled knowledge base has at least 30 articles with unique ids", "[kb]") {
  CHECK(bundled().size() >= 30);
  std::set<std::string> ids;
  for (const auto& a : bundled().articles()) ids.insert(a.id);
  CHECK(ids.size() == bundled().size());
  REQUIRE(bundled().find("password-recovery") != nullptr);
  CHECK(bundled().find("password-recovery")->title == "Resetting a forgotten password");
}

TEST_CASE("kb: customer questions find the article that answers them", "[kb]") {
  CHECK(top("I forgot my password and cannot log in") == "password-recovery");
  CHECK(top("do you deliver to Australia, will I pay customs duties?") == "international-shipping");
  CHECK(top("how many working days does delivery take to the Scottish Highlands") ==
        "delivery-times");
  CHECK(top("can I pay with Klarna or Apple Pay") == "payment-methods");
  CHECK(top("my card was declined at checkout") == "payment-problems");
  CHECK(top("I need a VAT invoice with my company name") == "invoices");
  CHECK(top("the refund was issued two weeks ago but my bank does not show it") ==
        "refund-tracking");
  CHECK(top("how do I unsubscribe from the newsletter emails") == "newsletter");
  CHECK(top("I want to delete my account and all my data") == "account-delete");
  CHECK(top("is my gift card still valid after a year") == "gift-cards");
  CHECK(top("I saw the same lamp cheaper elsewhere, do you price match") == "price-match");
  CHECK(top("the kettle stopped working after eight months, is it under warranty") == "warranty");
  CHECK(top("cancel my order please") == "order-cancellation");
  CHECK(top("I never received the confirmation email to sign up") == "signup-problems");
  CHECK(top("I want to speak to a real person") == "contact-human");
}

TEST_CASE("kb: scores are BM25 with k1 1.2 and b 0.75, best first", "[kb]") {
  knowledge_base kb;
  REQUIRE(kb.add({"a", "Refunds", "refund refund card", ""}).empty());
  REQUIRE(kb.add({"b", "Shipping", "parcel courier delivery", ""}).empty());
  REQUIRE(kb.add({"c", "Cards", "card payment", ""}).empty());
  auto hits = kb.search("refund", 5);
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].id == "a");
  // Article a: terms are title (refund) x2 + body (refund refund card) = 5 terms, tf 4;
  // average length (5 + 5 + 4) / 3; idf = ln(1 + (3 - 1 + 0.5) / (1 + 0.5)).
  const double idf = std::log(1.0 + 2.5 / 1.5);
  const double norm = 1.2 * (1 - 0.75 + 0.75 * 5.0 / (14.0 / 3.0));
  CHECK(hits[0].score == Approx(idf * 4 * 2.2 / (4 + norm)));
  auto two = kb.search("card refunds", 5);
  REQUIRE(two.size() == 2);
  CHECK(two[0].id == "a");
  CHECK(two[1].id == "c");
  CHECK(two[0].score > two[1].score);
}

TEST_CASE("kb: stemming matches plural and past forms", "[kb]") {
  CHECK(bm25_terms("Refunds refunded refunding") ==
        std::vector<std::string>{"refund", "refund", "refund"});
  CHECK(bm25_terms("shipped shipping deliveries cancellation") ==
        std::vector<std::string>{"ship", "ship", "delivery", "cancel"});
  CHECK(bm25_terms("delete deleting deleted") ==
        std::vector<std::string>{"delet", "delet", "delet"});
  CHECK(bm25_terms("where is my order") == std::vector<std::string>{"order"});
}

TEST_CASE("kb: an empty or unknown query returns no articles", "[kb]") {
  CHECK(bundled().search("", 5).empty());
  CHECK(bundled().search("the and of", 5).empty());
  CHECK(bundled().search("xylophone quasar", 5).empty());
  CHECK(bundled().search("refund", 0).empty());
  CHECK(bundled().search("refund", 2).size() == 2);
}

TEST_CASE("kb: malformed articles and duplicates are errors naming the file", "[kb]") {
  CHECK(parse_kb_article("no title\nid: x\n\nbody", "a.md").error ==
        "a.md: line 1 must be the title as \"# Title\", got \"no title\"");
  CHECK(parse_kb_article("# T\nname: x\n\nbody", "b.md").error ==
        "b.md: line 2 must be \"id: <article-id>\", got \"name: x\"");
  CHECK(parse_kb_article("# T\nid: Bad Id\n\nbody", "c.md").error ==
        "c.md: id must be lower-case letters, digits and dashes, got \"Bad Id\"");
  CHECK(parse_kb_article("# T\nid: ok\n\n", "d.md").error == "d.md: article \"ok\" has no body");
  auto good = parse_kb_article("# Title here\nid: good-1\n\nSome body.\n", "e.md");
  REQUIRE(good.ok());
  CHECK(good.article.title == "Title here");
  CHECK(good.article.body == "Some body.");
  knowledge_base kb;
  CHECK(kb.add(good.article).empty());
  CHECK(kb.add(good.article) == "duplicate article id \"good-1\"");
  std::vector<std::string> errors;
  knowledge_base::load_directory("/nonexistent-kb-dir", errors);
  CHECK(errors == std::vector<std::string>{"/nonexistent-kb-dir: not a directory"});
}
