#include "workflows/thin_vector.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <memory>
#include <string>

using switchyard::thin_vector;

TEST_CASE("thin_vector: one pointer wide, nothing allocated while empty", "[thin_vector]") {
  STATIC_REQUIRE(sizeof(thin_vector<std::string>) == sizeof(void*));
  thin_vector<std::string> v;
  CHECK(v.empty());
  CHECK(v.capacity() == 0);
  CHECK(v.begin() == v.end());
}

TEST_CASE("thin_vector: keeps order and values across growth, erase and clear", "[thin_vector]") {
  thin_vector<std::string> v;
  v.reserve(2);
  CHECK(v.capacity() == 2);
  for (int i = 0; i < 20; ++i) v.emplace_back("value number " + std::to_string(i));
  REQUIRE(v.size() == 20);
  CHECK(v.capacity() >= 20);
  CHECK(v.front() == "value number 0");
  CHECK(v[19] == "value number 19");
  auto it = std::find(v.begin(), v.end(), "value number 5");
  REQUIRE(it != v.end());
  v.erase(it);
  REQUIRE(v.size() == 19);
  CHECK(v[4] == "value number 4");
  CHECK(v[5] == "value number 6");
  CHECK(v[18] == "value number 19");
  v.erase(v.begin());
  CHECK(v.front() == "value number 1");
  v.clear();
  CHECK(v.empty());
  v.push_back("again");
  CHECK(v.size() == 1);
  CHECK(v[0] == "again");
}

TEST_CASE("thin_vector: move-only elements and moving the vector itself", "[thin_vector]") {
  thin_vector<std::pair<uint32_t, std::unique_ptr<int>>> v;
  for (uint32_t i = 0; i < 5; ++i)
    v.emplace_back(i, std::make_unique<int>(static_cast<int>(i * 10)));
  thin_vector<std::pair<uint32_t, std::unique_ptr<int>>> w{std::move(v)};
  CHECK(v.empty());
  REQUIRE(w.size() == 5);
  CHECK(*w[3].second == 30);
  auto it = std::find_if(w.begin(), w.end(), [](const auto& p) { return p.first == 2; });
  w.erase(it);
  CHECK(w.size() == 4);
  CHECK(w[2].first == 3);
  CHECK(*w[2].second == 30);
}

TEST_CASE("thin_vector: small elements share the first block", "[thin_vector]") {
  thin_vector<uint32_t> v;
  v.push_back(7);
  CHECK(v.capacity() == 2);  // 8-byte header + 2 x 4 bytes: jemalloc's 16-byte class
  v.push_back(8);
  v.push_back(9);
  CHECK(v.size() == 3);
  CHECK(v[0] + v[1] + v[2] == 24);
}
