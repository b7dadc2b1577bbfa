#pragma once
// `switchyard router calibrate`: fit cascade thresholds per route from a labelled
// outcomes file (router/cascade.hpp) and optionally write them into a config file.

#include <string>

namespace CLI {
class App;
}

namespace switchyard::cli {

struct calibrate_options {
  std::string outcomes_path;
  double target = 0;
  std::string write_config;  // empty: print only
};

/// Adds `calibrate` with its options to the `router` subcommand; returns it.
CLI::App* add_calibrate_subcommand(CLI::App& router_cmd, calibrate_options& opts);

/// Exit status: 0 when every route reached the target (and the config was written, if
/// asked); 1 when some route cannot reach it (nothing is written); 2 for bad input.
int calibrate_command(const calibrate_options& opts);

}  // namespace switchyard::cli
