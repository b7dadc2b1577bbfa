#include "runtime/handoff_log.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "runtime/run_result_json.hpp"

namespace switchyard {

std::string handoff_log::append(const std::string& path, const handoff_record& record) {
  auto line = to_json(record).dump();
  std::lock_guard<std::mutex> guard{mutex_};
  std::ofstream out{path, std::ios::app};
  if (!out) return "cannot open handoff file '" + path + "': " + std::strerror(errno);
  out << line << '\n';
  out.flush();
  if (!out) return "cannot write handoff file '" + path + "': " + std::strerror(errno);
  return {};
}

}  // namespace switchyard
