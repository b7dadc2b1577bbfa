#include "server/cli_common.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "runtime/logging.hpp"

namespace switchyard::cli {

std::shared_ptr<const config> load_config_and_logging(const std::string& path,
                                                      const std::string& log_level) {
  auto loaded = load_config_file(path);
  if (!loaded.ok()) {
    std::cerr << loaded.message() << '\n';
    return nullptr;
  }
  auto cfg = std::make_shared<const config>(std::move(*loaded.value));
  init_logging(log_level.empty() ? cfg->runtime.log_level : log_level);
  return cfg;
}

bool read_file(const std::string& path, std::string& out) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return false;
  std::ifstream in{path, std::ios::binary};
  if (!in) return false;
  std::ostringstream buf;
  buf << in.rdbuf();
  out = buf.str();
  return true;
}

}  // namespace switchyard::cli
