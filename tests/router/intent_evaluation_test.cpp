// Specification of intent scoring (router/intent_evaluation.hpp).

#include "router/intent_evaluation.hpp"

#include <catch2/catch.hpp>

using namespace switchyard;

TEST_CASE("intent metrics: accuracy and macro-F1 match a hand count", "[intent_eval]") {
  // a: tp 2, fn 1 -> F1 = 4/5; b: tp 1, fp 1 -> F1 = 2/3; c: fn 1 (answered "no route").
  const auto m = score_intents({"a", "a", "a", "b", "c"}, {"a", "a", "b", "b", ""});
  CHECK(m.examples == 5);
  CHECK(m.accuracy == Approx(3.0 / 5));
  CHECK(m.macro_f1 == Approx((0.8 + 2.0 / 3 + 0.0) / 3));
  CHECK(m.no_route == 1);
  CHECK_FALSE(m.has_oos);
}

TEST_CASE("intent metrics: no route counts as the out-of-scope label when one is given",
          "[intent_eval]") {
  const auto m = score_intents({"oos", "oos", "oos", "a", "b"}, {"", "oos", "a", "a", ""}, "oos");
  REQUIRE(m.has_oos);
  CHECK(m.oos_examples == 3);
  CHECK(m.oos_recall == Approx(2.0 / 3));
  CHECK(m.in_scope_accuracy == Approx(1.0 / 2));  // "b" answered no route: out of scope, wrong
  CHECK(m.accuracy == Approx(3.0 / 5));
}

TEST_CASE("quantile: nearest rank", "[intent_eval]") {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);
  CHECK(quantile(v, 0.5) == 50);
  CHECK(quantile(v, 0.99) == 99);
  CHECK(quantile(v, 1.0) == 100);
  CHECK(quantile({}, 0.5) == 0);
}
