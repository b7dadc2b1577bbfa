#include "runtime/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace switchyard {

bool set_log_level(const std::string& name) {
  auto level = spdlog::level::from_str(name);
  // from_str answers "off" for anything it does not know; only accept a real "off".
  if (level == spdlog::level::off && name != "off") return false;
  spdlog::set_level(level);
  return true;
}

void init_logging(const std::string& level) {
  auto logger = spdlog::get("switchyard");
  if (!logger) logger = spdlog::stderr_color_mt("switchyard");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  set_log_level(level);
}

}  // namespace switchyard
