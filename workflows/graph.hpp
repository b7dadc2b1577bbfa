#pragma once
// Workflow graphs, defined in C++.
//
//   graph_builder g{"hello"};
//   g.agent("intake", function_agent(classify))
//    .agent("answerer", model_agent({.tier = "mid"}))
//    .agent("acknowledger", model_agent({.tier = "local"}))
//    .branch_on_label("intake", "question", "answerer")
//    .edge("intake", "acknowledger");          // default when no branch matches
//   auto built = g.build();                    // validated graph, or every problem
//
// Semantics: a run starts at the entry node (the first agent added unless entry()
// says otherwise). After a node's step, its conditional branches are tested in the
// order they were added; the first that holds picks the next node, else its default
// edge does; a node without outgoing edges ends the run with its output. Moving
// along an edge is a hop, as is every agent-to-agent call (declared with calls()).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agents/agent.hpp"
#include "runtime/messages.hpp"

namespace switchyard {

/// Target meaning "the run ends here with this node's output".
inline const std::string graph_end = "$end";

using branch_condition = std::function<bool(const step_reply&)>;

struct graph_branch {
  branch_condition when;
  std::string to;
  std::string description;  // shown in validation errors and docs
};

struct graph_node {
  std::string name;
  agent_factory factory;
  std::vector<graph_branch> branches;  // conditional, tested in order
  std::optional<std::string> next;     // default edge
  std::vector<std::string> may_call;   // agents this one may ask (hops)
  bool escalation_handler = false;     // reached only by the supervisor
};

/// A validated graph. Immutable once built; shared by every run of the workflow.
class graph {
 public:
  const std::string& name() const { return name_; }
  const std::string& entry() const { return entry_; }
  const std::vector<graph_node>& nodes() const { return nodes_; }
  /// Index of the node called `name`, or -1.
  int index_of(const std::string& name) const;
  /// The node after `node` given its reply: a node name, graph_end, or empty when the
  /// node has no outgoing edge (the run ends).
  std::string next_after(int node, const step_reply& reply) const;
  /// True when `from` declared that it may call `to`.
  bool may_call(int from, const std::string& to) const;

 private:
  friend class graph_builder;
  std::string name_;
  std::string entry_;
  std::vector<graph_node> nodes_;
};

struct graph_build_result {
  std::shared_ptr<const graph> value;
  std::vector<std::string> errors;  // every problem found, each naming the node

  bool ok() const { return value != nullptr; }
  std::string message() const;
};

class graph_builder {
 public:
  explicit graph_builder(std::string name);

  /// Adds a node. The first node added is the entry unless entry() is called.
  graph_builder& agent(std::string name, agent_factory factory);
  graph_builder& entry(std::string node);
  /// Default (unconditional) edge. At most one per node; `to` may be graph_end.
  graph_builder& edge(std::string from, std::string to);
  /// Conditional edge, tested in order before the default edge.
  graph_builder& branch(std::string from, branch_condition when, std::string to,
                        std::string description = {});
  /// Branch taken when the step's reply has this label.
  graph_builder& branch_on_label(std::string from, std::string label, std::string to);
  /// Declares that `from` may ask `to` during a step (an agent-to-agent call).
  graph_builder& calls(std::string from, std::string to);
  /// Marks a node as the supervisor's escalation handler: it is exempt from the
  /// reachability check, since only escalations reach it.
  graph_builder& escalation_agent(std::string node);

  /// Validates and freezes the graph. Reports every problem: duplicate or unknown
  /// nodes, edges and branches whose source or target does not exist, nodes with
  /// branches but no default edge, several default edges, unreachable nodes.
  graph_build_result build() const;

 private:
  // Declarations are kept as written and resolved by build(), so nodes and edges
  // may be declared in any order.
  struct edge_decl {
    std::string from;
    std::string to;
    branch_condition when;  // empty for default edges
    std::string description;
  };
  std::string name_;
  std::string entry_;
  std::vector<std::pair<std::string, agent_factory>> agents_;
  std::vector<edge_decl> edges_;
  std::vector<std::pair<std::string, std::string>> calls_;
  std::vector<std::string> escalation_agents_;
};

}  // namespace switchyard
