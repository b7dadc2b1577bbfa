#pragma once
// The one place that builds Switchyard's actor system: every message type is
// registered, the middleman is loaded (remote actors need it, and CAF 0.17 aborts
// without it when io features are used), the scheduler policy and worker count come
// from the config.

#include <memory>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "runtime/config.hpp"

namespace switchyard {

/// CAF configuration with every Switchyard message type registered.
class actor_config : public caf::actor_system_config {
 public:
  explicit actor_config(const runtime_settings& settings);
};

/// Owns the configuration and the actor system built from it, in that order: the
/// config must outlive the system. Destruction waits for every actor to finish.
class actor_runtime {
 public:
  explicit actor_runtime(const runtime_settings& settings);
  actor_runtime(const actor_runtime&) = delete;
  actor_runtime& operator=(const actor_runtime&) = delete;

  caf::actor_system& system() { return *system_; }

 private:
  actor_config config_;
  std::unique_ptr<caf::actor_system> system_;
};

}  // namespace switchyard
