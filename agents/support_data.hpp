#pragma once
// Loading the support swarm's data named by the config's `support` section: the
// knowledge base and the order store. Paths resolve against the config's folder.

#include <memory>
#include <string>

#include "agents/knowledge_base.hpp"
#include "agents/order_store.hpp"
#include "runtime/config.hpp"

namespace switchyard {

/// `path` resolved against the config file's folder (absolute paths stay).
std::string support_path(const config& cfg, const std::string& path);

/// The knowledge base, or null with `error` naming the key, path and problems.
std::shared_ptr<const knowledge_base> load_support_knowledge_base(const config& cfg,
                                                                  std::string& error);

/// The order store, or null with `error` naming the key, path and problems.
std::shared_ptr<const order_store> load_support_orders(const config& cfg, std::string& error);

}  // namespace switchyard
