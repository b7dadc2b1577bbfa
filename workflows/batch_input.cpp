#include "workflows/batch_input.hpp"

#include <nlohmann/json.hpp>
#include <sstream>

namespace switchyard {

batch_parse_result parse_batch(const std::string& text, const std::string& path,
                               const std::string& workflow, const std::string& default_thread) {
  batch_parse_result out;
  std::istringstream lines{text};
  std::string line;
  size_t number = 0;
  auto bad = [&](const std::string& problem) {
    out.errors.push_back(path + ":" + std::to_string(number) + ": " + problem);
  };
  while (std::getline(lines, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto doc = nlohmann::json::parse(line, nullptr, false);
    if (doc.is_discarded()) {
      bad("not valid JSON");
      continue;
    }
    if (!doc.is_object()) {
      bad("must be a JSON object, got " + doc.dump());
      continue;
    }
    run_request req{workflow, {}, default_thread, {}};
    bool ok = true;
    for (const auto& [key, value] : doc.items()) {
      std::string* target = key == "input"       ? &req.input
                            : key == "thread_id" ? &req.thread_id
                            : key == "run_id"    ? &req.run_id
                                                 : nullptr;
      if (!target) {
        bad("unknown key '" + key + "' (allowed: input, thread_id, run_id)");
        ok = false;
      } else if (!value.is_string()) {
        bad("'" + key + "' must be a string, got " + value.dump());
        ok = false;
      } else {
        *target = value.get<std::string>();
      }
    }
    if (!doc.contains("input")) {
      bad("'input' is required");
      ok = false;
    }
    if (ok) out.requests.push_back(std::move(req));
  }
  if (!out.errors.empty()) out.requests.clear();
  return out;
}

}  // namespace switchyard
