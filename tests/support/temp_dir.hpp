#pragma once
// A fresh directory under /tmp, removed with everything in it at scope exit.

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace switchyard::testing {

class temp_dir {
 public:
  explicit temp_dir(const std::string& tag = "sy") {
    std::string pattern = "/tmp/switchyard-" + tag + "-XXXXXX";
    path_ = mkdtemp(pattern.data()) ? pattern : std::string{};
  }
  ~temp_dir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace switchyard::testing
