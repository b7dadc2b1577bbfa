#include "agents/support_data.hpp"

#include <fmt/format.h>

namespace switchyard {

std::string support_path(const config& cfg, const std::string& path) {
  if (path.empty() || path.front() == '/' || cfg.base_dir.empty()) return path;
  return cfg.base_dir + "/" + path;
}

std::shared_ptr<const knowledge_base> load_support_knowledge_base(const config& cfg,
                                                                  std::string& error) {
  if (cfg.support.knowledge_base.empty()) {
    error = "support.knowledge_base is not set in the config: the researcher has no articles";
    return nullptr;
  }
  auto path = support_path(cfg, cfg.support.knowledge_base);
  std::vector<std::string> errors;
  auto kb = knowledge_base::load_directory(path, errors);
  if (!errors.empty()) {
    error = fmt::format("support.knowledge_base '{}': {}", path, errors.front());
    if (errors.size() > 1) error += fmt::format(" (and {} more problems)", errors.size() - 1);
    return nullptr;
  }
  return std::make_shared<const knowledge_base>(std::move(kb));
}

std::shared_ptr<const order_store> load_support_orders(const config& cfg, std::string& error) {
  if (cfg.support.orders.empty()) {
    error = "support.orders is not set in the config: the scripted agent cannot track orders";
    return nullptr;
  }
  auto path = support_path(cfg, cfg.support.orders);
  std::vector<std::string> errors;
  auto orders = order_store::load_file(path, errors);
  if (!errors.empty()) {
    error = fmt::format("support.orders '{}': {}", path, errors.front());
    if (errors.size() > 1) error += fmt::format(" (and {} more problems)", errors.size() - 1);
    return nullptr;
  }
  return std::make_shared<const order_store>(std::move(orders));
}

}  // namespace switchyard
