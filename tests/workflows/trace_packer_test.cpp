// Decision traces held packed by runs in flight come back byte for byte, and traces
// like the first one seen take a small fraction of their size.

#include "workflows/trace_packer.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

using namespace switchyard;

namespace {

std::string a_trace(int n, const std::string& route) {
  return R"([{"outcome":"routed","route":")" + route +
         R"(","route_source":"classifier","classifier":{"route":")" + route +
         R"(","confidence":0.)" + std::to_string(900 + n) +
         R"(,"runner_up":"refund","runner_up_confidence":0.031,"threshold":0.3},)"
         R"("complexity":{"prompt_tokens":)" + std::to_string(40 + n) +
         R"(,"score":0.21,"tier":"local"},"data_class":"public","latency_class":"interactive",)"
         R"("target_tier":"local","tier_source":"route","budget":{"tokens_left":120000},)"
         R"("candidates":[{"model":"sim-local-a","tier":"local","verdict":"chosen","usd":0.00012},)"
         R"({"model":"sim-cloud-b","tier":"frontier","verdict":"filtered","by":"compliance"}],)"
         R"("chosen_model":"sim-local-a","chosen_tier":"local"}])";
}

}  // namespace

TEST_CASE("trace packer: traces come back exactly", "[trace_packer]") {
  trace_packer packer;
  std::vector<std::string> traces{a_trace(1, "billing"), a_trace(2, "billing"),
                                  a_trace(3, "lost_card"), "", "[]", std::string(5000, 'z'),
                                  "not json at all \xff\xfe bytes"};
  for (const auto& t : traces) CHECK(packer.unpack(packer.pack(t)) == t);
  CHECK(packer.reference_size() == traces[0].size());
}

TEST_CASE("trace packer: a trace like the reference packs to a small fraction", "[trace_packer]") {
  trace_packer packer;
  auto first = a_trace(1, "billing");
  (void)packer.pack(first);
  auto similar = a_trace(7, "card_arrival");
  auto packed = packer.pack(similar);
  INFO("packed " << packed.size() << " of " << similar.size() << " bytes");
  CHECK(packed.size() * 4 < similar.size());
  CHECK(packer.unpack(packed) == similar);
}

TEST_CASE("trace packer: a trace that differs from the reference in one number packs to a delta",
          "[trace_packer]") {
  trace_packer packer;
  auto first = a_trace(1, "billing");
  (void)packer.pack(first);
  for (const char* tokens : {"42", "7", "1234"}) {
    auto similar = first;
    similar.replace(similar.find("\"prompt_tokens\":41") + 16, 2, tokens);
    auto packed = packer.pack(similar);
    INFO("packed " << packed.size() << " of " << similar.size() << " bytes");
    CHECK(packed.size() < 24);
    CHECK(packer.unpack(packed) == similar);
  }
  // The reference itself, and one that only grows or shrinks at an end.
  CHECK(packer.unpack(packer.pack(first)) == first);
  auto longer = first + "  ";
  CHECK(packer.unpack(packer.pack(longer)) == longer);
  auto shorter = first.substr(0, first.size() - 3);
  CHECK(packer.unpack(packer.pack(shorter)) == shorter);
}

TEST_CASE("trace packer: bytes it did not make unpack to nothing", "[trace_packer]") {
  trace_packer packer;
  (void)packer.pack(a_trace(1, "billing"));
  CHECK(packer.unpack("").empty());
  CHECK(packer.unpack(std::string("\x01\x40\x00\x00\x00garbage", 12)).empty());
  CHECK(packer.unpack(std::string("\x07\x01\x00\x00\x00x", 6)).empty());
  // A delta whose lengths do not fit the reference or the size.
  CHECK(packer.unpack(std::string("\x02\x10\x00\x00\x00\xff\x7f\x00", 8)).empty());
  CHECK(packer.unpack(std::string("\x02\x10\x00\x00\x00\x01\x01zz", 9)).empty());
  CHECK(packer.unpack(std::string("\x02\x10\x00\x00\x00\x81", 6)).empty());
}

TEST_CASE("trace packer: threads pack and unpack at once", "[trace_packer]") {
  trace_packer packer;
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        auto trace = a_trace(i, t % 2 ? "billing" : "refund");
        if (packer.unpack(packer.pack(trace)) != trace) ++bad[static_cast<size_t>(t)];
      }
    });
  for (auto& th : threads) th.join();
  CHECK(bad == std::vector<int>(4, 0));
}

TEST_CASE("trace packer: a short compact trace like the reference fits std::string's buffer",
          "[trace_packer]") {
  trace_packer packer;
  // A compact trace (runtime/trace_codec.hpp) is a few dozen bytes; another call's
  // differs in its token count.
  std::string first(
      "\x01\x00\x02\x00\x09\x01\x05local\x06\x01\x09sim-bench\x18\x00\x00"
      "\x00\x00\x00\x2a\x00\x00\x00\x01\x18\x19\x07\x00\x00\x00",
      40);
  std::string other = first;
  other[26] = '\x2b';
  packer.pack(first);
  auto packed = packer.pack(other);
  CHECK(packed.size() <= 15);
  CHECK(packer.unpack(packed) == other);
  // A trace shorter than what a delta would take is kept as it is.
  CHECK(packer.unpack(packer.pack("\x01")) == "\x01");
}
