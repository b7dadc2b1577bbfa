#include "workflows/graph.hpp"

#include <algorithm>
#include <catch2/catch.hpp>

#include "agents/function_agent.hpp"

using namespace switchyard;

namespace {

agent_factory echo() {
  return function_agent([](const step_request& r) { return step_reply{r.input, {}, {}, {}}; });
}

bool has_error(const graph_build_result& r, const std::string& text) {
  return std::any_of(r.errors.begin(), r.errors.end(),
                     [&](const std::string& e) { return e.find(text) != std::string::npos; });
}

}  // namespace

TEST_CASE("graph: a valid graph builds and starts at the first agent", "[graph]") {
  graph_builder g{"ok"};
  g.agent("a", echo()).agent("b", echo()).edge("a", "b");
  auto built = g.build();
  INFO(built.message());
  REQUIRE(built.ok());
  CHECK(built.value->entry() == "a");
  CHECK(built.value->nodes().size() == 2);
}

TEST_CASE("graph: edges naming unknown nodes are reported with both ends", "[graph]") {
  graph_builder g{"bad"};
  g.agent("a", echo()).edge("a", "nowhere").edge("ghost", "a");
  auto built = g.build();
  REQUIRE_FALSE(built.ok());
  CHECK(has_error(built, "edge target 'nowhere' of node 'a' does not exist"));
  CHECK(has_error(built, "edge from unknown node 'ghost'"));
  CHECK(has_error(built, "graph 'bad'"));
}

TEST_CASE("graph: a branch target that does not exist is named", "[graph]") {
  graph_builder g{"bad"};
  g.agent("a", echo()).agent("b", echo()).branch_on_label("a", "x", "missing").edge("a", "b");
  auto built = g.build();
  REQUIRE_FALSE(built.ok());
  CHECK(has_error(built, "branch target 'missing' of node 'a' does not exist"));
}

TEST_CASE("graph: unreachable nodes are reported", "[graph]") {
  graph_builder g{"bad"};
  g.agent("a", echo()).agent("b", echo()).agent("island", echo()).edge("a", "b");
  auto built = g.build();
  REQUIRE_FALSE(built.ok());
  CHECK(has_error(built, "node 'island' is unreachable from entry 'a'"));
  CHECK(built.errors.size() == 1);
}

TEST_CASE("graph: nodes reached only by declared calls or as escalation agents are reachable",
          "[graph]") {
  graph_builder g{"ok"};
  g.agent("a", echo()).agent("helper", echo()).agent("safety", echo());
  g.calls("a", "helper").escalation_agent("safety");
  auto built = g.build();
  INFO(built.message());
  CHECK(built.ok());
}

TEST_CASE("graph: every problem is reported at once", "[graph]") {
  graph_builder g{"bad"};
  g.agent("a", echo())
      .agent("a", echo())
      .agent("b", echo())
      .agent("c", echo())
      .edge("a", "b")
      .edge("a", "c")
      .calls("b", "zzz")
      .entry("start");
  auto built = g.build();
  REQUIRE_FALSE(built.ok());
  CHECK(has_error(built, "agent 'a' is defined twice"));
  CHECK(has_error(built, "node 'a' has more than one default edge"));
  CHECK(has_error(built, "call target 'zzz' of node 'b' does not exist"));
  CHECK(has_error(built, "entry node 'start' does not exist"));
  CHECK(built.errors.size() == 4);
}

TEST_CASE("graph: branches need a default edge", "[graph]") {
  graph_builder g{"bad"};
  g.agent("a", echo()).agent("b", echo()).branch_on_label("a", "yes", "b");
  auto built = g.build();
  REQUIRE_FALSE(built.ok());
  CHECK(has_error(built, "node 'a' has branches but no default edge"));
}

TEST_CASE("graph: an empty graph and a missing factory are errors", "[graph]") {
  CHECK(has_error(graph_builder{"empty"}.build(), "has no agents"));
  graph_builder g{"nofactory"};
  g.agent("a", nullptr);
  CHECK(has_error(g.build(), "agent 'a' has no factory"));
}

TEST_CASE("graph: branches are tested in order, then the default edge, then the end", "[graph]") {
  graph_builder g{"route"};
  g.agent("a", echo()).agent("b", echo()).agent("c", echo()).agent("d", echo());
  g.branch(
       "a", [](const step_reply& r) { return r.output.size() > 3; }, "b", "long")
      .branch_on_label("a", "urgent", "c")
      .edge("a", "d")
      .edge("c", graph_end);
  auto built = g.build();
  INFO(built.message());
  REQUIRE(built.ok());
  const auto& graph = *built.value;
  auto a = graph.index_of("a");
  CHECK(graph.next_after(a, step_reply{"long text", "urgent", {}, {}}) == "b");
  CHECK(graph.next_after(a, step_reply{"hi", "urgent", {}, {}}) == "c");
  CHECK(graph.next_after(a, step_reply{"hi", "", {}, {}}) == "d");
  CHECK(graph.next_after(graph.index_of("c"), step_reply{}) == graph_end);
  CHECK(graph.next_after(graph.index_of("d"), step_reply{}).empty());
}
