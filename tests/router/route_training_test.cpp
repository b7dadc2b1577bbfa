// From config routes to a classifier the policy uses: examples inline and from files,
// a saved model reused only when the examples are unchanged.

#include "router/route_training.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "router/token_estimate.hpp"
#include "tests/support/test_config.hpp"

using namespace switchyard;

namespace {

struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/switchyard-routes-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~temp_dir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

const char* one_model = R"([
  {"id": "local-a", "provider": "sim", "tier": "local", "price_in_per_mtok": 0,
   "price_out_per_mtok": 0, "context_window": 8192, "residency": "local"},
  {"id": "mid-a", "provider": "sim", "tier": "mid", "price_in_per_mtok": 1,
   "price_out_per_mtok": 2, "context_window": 8192, "residency": "cloud"}])";

std::string router_with(const std::string& dir, const std::string& model_file) {
  return R"("router": {"routes": [
      {"name": "shipping", "tier": "local", "examples": ["where is my parcel",
       "when will my package arrive", "track my delivery", "has my order shipped",
       "delivery is late", "which courier has my parcel"]},
      {"name": "billing", "tier": "mid", "examples_file": ")" +
         dir + R"(/billing.txt"}],
    "threshold": 0.4, "default_route": "shipping")" +
         (model_file.empty() ? "" : R"(, "classifier_model": ")" + model_file + "\"") + "}";
}

void write_billing(const std::string& dir) {
  std::ofstream out(dir + "/billing.txt");
  out << "# billing questions\nI was charged twice\nrefund the double charge on my card\n"
         "why is my invoice wrong\nthe payment was taken two times\n\n"
         "my card was billed the wrong amount\nI need a corrected invoice\n";
}

}  // namespace

TEST_CASE("route training: examples from config and files train the policy's classifier",
          "[router][training]") {
  temp_dir dir;
  write_billing(dir.path);
  auto cfg = testing::make_config(one_model, router_with(dir.path, ""));
  std::string error;
  auto examples = route_examples(*cfg, error);
  CHECK(error.empty());
  CHECK(examples.size() == 12);  // comments and blank lines skipped
  auto policy = build_routing_policy(cfg);
  model_request req;
  req.messages = {{"user", "I think you charged my card twice"}};
  assume_healthy health;
  auto d = policy->decide({req, latest_user_text(req.messages), 12, {}}, health);
  CHECK(d.route == "billing");
  CHECK(d.trace.route_source == "classifier");
  CHECK(d.model->id == "mid-a");
}

TEST_CASE("route training: a saved classifier is reused only for the same examples",
          "[router][training]") {
  temp_dir dir;
  write_billing(dir.path);
  std::string model = dir.path + "/routes.model";
  auto cfg = testing::make_config(one_model, router_with(dir.path, model));
  auto first = train_route_classifier(*cfg);
  REQUIRE(first.classifier);
  CHECK_FALSE(first.loaded);
  auto second = train_route_classifier(*cfg);
  REQUIRE(second.classifier);
  CHECK(second.loaded);
  auto a = first.classifier->classify("where has my parcel gone");
  auto b = second.classifier->classify("where has my parcel gone");
  CHECK(a.route == b.route);
  CHECK(a.confidence == Approx(b.confidence));
  // New examples: the saved model no longer matches and is retrained.
  std::ofstream(dir.path + "/billing.txt", std::ios::app) << "invoice shows a wrong VAT rate\n";
  auto third = train_route_classifier(*cfg);
  REQUIRE(third.classifier);
  CHECK_FALSE(third.loaded);
}

TEST_CASE("route training: an unreadable examples file is named", "[router][training]") {
  temp_dir dir;  // billing.txt never written
  auto cfg = testing::make_config(one_model, router_with(dir.path, ""));
  auto result = train_route_classifier(*cfg);
  CHECK_FALSE(result.classifier);
  CHECK_THAT(result.error, Catch::Contains("router.routes 'billing': cannot read examples_file"));
  CHECK_THROWS_WITH(build_routing_policy(cfg), Catch::Contains("billing.txt"));
}
