#pragma once
// Workflows by name, so the CLI and the gateway can start them.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "workflows/graph.hpp"

namespace switchyard {

struct registered_workflow {
  std::shared_ptr<const graph> definition;
  std::string description;
};

class workflow_registry {
 public:
  /// Registers a built graph under its name. Returns an error message when the
  /// name is taken, else an empty string.
  std::string add(std::shared_ptr<const graph> g, std::string description);
  /// Builds `builder` and registers the result; returns the build errors, if any.
  std::string add(const graph_builder& builder, std::string description);

  const registered_workflow* find(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::map<std::string, registered_workflow>& all() const { return workflows_; }

 private:
  std::map<std::string, registered_workflow> workflows_;
};

}  // namespace switchyard
