#include "workflows/workflow_registry.hpp"

namespace switchyard {

std::string workflow_registry::add(std::shared_ptr<const graph> g, std::string description) {
  if (!g) return "workflow registry: null graph";
  auto name = g->name();
  auto [it, added] =
      workflows_.emplace(name, registered_workflow{std::move(g), std::move(description)});
  if (!added) return "workflow registry: a workflow named '" + name + "' is already registered";
  return {};
}

std::string workflow_registry::add(const graph_builder& builder, std::string description) {
  auto built = builder.build();
  if (!built.ok()) return built.message();
  return add(built.value, std::move(description));
}

const registered_workflow* workflow_registry::find(const std::string& name) const {
  auto it = workflows_.find(name);
  return it == workflows_.end() ? nullptr : &it->second;
}

std::vector<std::string> workflow_registry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : workflows_) out.push_back(name);
  return out;
}

}  // namespace switchyard
