#include "workflows/graph.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace switchyard {

int graph::index_of(const std::string& name) const {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].name == name) return static_cast<int>(i);
  return -1;
}

std::string graph::next_after(int node, const step_reply& reply) const {
  const auto& n = nodes_.at(static_cast<size_t>(node));
  for (const auto& b : n.branches)
    if (b.when(reply)) return b.to;
  return n.next.value_or(std::string{});
}

bool graph::may_call(int from, const std::string& to) const {
  const auto& calls = nodes_.at(static_cast<size_t>(from)).may_call;
  return std::find(calls.begin(), calls.end(), to) != calls.end();
}

std::string graph_build_result::message() const {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += '\n';
    out += e;
  }
  return out;
}

graph_builder::graph_builder(std::string name) : name_(std::move(name)) {}

graph_builder& graph_builder::agent(std::string name, agent_factory factory) {
  agents_.emplace_back(std::move(name), std::move(factory));
  return *this;
}

graph_builder& graph_builder::entry(std::string node) {
  entry_ = std::move(node);
  return *this;
}

graph_builder& graph_builder::edge(std::string from, std::string to) {
  edges_.push_back({std::move(from), std::move(to), {}, {}});
  return *this;
}

graph_builder& graph_builder::branch(std::string from, branch_condition when, std::string to,
                                     std::string description) {
  if (description.empty()) description = "branch to '" + to + "'";
  edges_.push_back({std::move(from), std::move(to), std::move(when), std::move(description)});
  return *this;
}

graph_builder& graph_builder::branch_on_label(std::string from, std::string label, std::string to) {
  auto description = "label == '" + label + "'";
  return branch(
      std::move(from), [label](const step_reply& r) { return r.label == label; }, std::move(to),
      std::move(description));
}

graph_builder& graph_builder::calls(std::string from, std::string to) {
  calls_.emplace_back(std::move(from), std::move(to));
  return *this;
}

graph_builder& graph_builder::escalation_agent(std::string node) {
  escalation_agents_.push_back(std::move(node));
  return *this;
}

graph_build_result graph_builder::build() const {
  std::vector<std::string> errors;
  auto err = [&](std::string text) { errors.push_back("graph '" + name_ + "': " + text); };
  if (name_.empty()) errors.push_back("graph: the name must not be empty");
  if (agents_.empty()) err("has no agents");

  auto g = std::make_shared<graph>();
  g->name_ = name_;
  std::map<std::string, size_t> index;
  for (const auto& [name, factory] : agents_) {
    if (name.empty() || name == graph_end) {
      err(fmt::format("'{}' is not a valid agent name", name));
      continue;
    }
    if (index.count(name)) {
      err(fmt::format("agent '{}' is defined twice", name));
      continue;
    }
    if (!factory) err(fmt::format("agent '{}' has no factory", name));
    index.emplace(name, g->nodes_.size());
    g->nodes_.push_back(graph_node{name, factory, {}, {}, {}, false});
  }
  auto known = [&](const std::string& n) { return index.count(n) > 0; };

  for (const auto& e : edges_) {
    bool conditional = static_cast<bool>(e.when);
    const char* what = conditional ? "branch" : "edge";
    bool ok = true;
    if (!known(e.from)) {
      err(fmt::format("{} from unknown node '{}' (to '{}')", what, e.from, e.to));
      ok = false;
    }
    if (e.to != graph_end && !known(e.to)) {
      err(fmt::format("{} target '{}' of node '{}' does not exist", what, e.to, e.from));
      ok = false;
    }
    if (!ok) continue;
    auto& node = g->nodes_[index[e.from]];
    if (conditional) {
      node.branches.push_back({e.when, e.to, e.description});
    } else if (node.next) {
      err(fmt::format("node '{}' has more than one default edge ('{}' and '{}')", e.from,
                      *node.next, e.to));
    } else {
      node.next = e.to;
    }
  }
  for (const auto& [from, to] : calls_) {
    if (!known(from))
      err(fmt::format("call declared from unknown node '{}' (to '{}')", from, to));
    else if (!known(to))
      err(fmt::format("call target '{}' of node '{}' does not exist", to, from));
    else
      g->nodes_[index[from]].may_call.push_back(to);
  }
  for (const auto& n : escalation_agents_) {
    if (!known(n))
      err(fmt::format("escalation agent '{}' does not exist", n));
    else
      g->nodes_[index[n]].escalation_handler = true;
  }
  for (const auto& node : g->nodes_)
    if (!node.branches.empty() && !node.next)
      err(
          fmt::format("node '{}' has branches but no default edge: add edge('{}', <node>) or "
                      "edge('{}', graph_end) so a reply that matches no branch has somewhere "
                      "to go",
                      node.name, node.name, node.name));

  if (!g->nodes_.empty()) {
    g->entry_ = entry_.empty() ? g->nodes_.front().name : entry_;
    if (!known(g->entry_)) {
      err(fmt::format("entry node '{}' does not exist", g->entry_));
    } else {
      // Reachability over edges, branches and declared calls, from the entry.
      std::vector<bool> seen(g->nodes_.size(), false);
      std::vector<size_t> todo{index[g->entry_]};
      seen[todo.back()] = true;
      auto visit = [&](const std::string& n) {
        auto it = index.find(n);
        if (it != index.end() && !seen[it->second]) {
          seen[it->second] = true;
          todo.push_back(it->second);
        }
      };
      while (!todo.empty()) {
        const auto& node = g->nodes_[todo.back()];
        todo.pop_back();
        for (const auto& b : node.branches) visit(b.to);
        if (node.next) visit(*node.next);
        for (const auto& c : node.may_call) visit(c);
      }
      for (size_t i = 0; i < g->nodes_.size(); ++i)
        if (!seen[i] && !g->nodes_[i].escalation_handler)
          err(fmt::format("node '{}' is unreachable from entry '{}'", g->nodes_[i].name,
                          g->entry_));
    }
  }

  graph_build_result result;
  if (errors.empty()) result.value = std::move(g);
  result.errors = std::move(errors);
  return result;
}

}  // namespace switchyard
