#include "gateway/audit_log.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace switchyard::gateway {

audit_log::audit_log(std::string path, uint64_t max_bytes, uint32_t keep_files)
    : path_(std::move(path)), max_bytes_(max_bytes), keep_files_(keep_files) {
  file_ = std::fopen(path_.c_str(), "ab");
  if (!file_) {
    error_ = "audit log: cannot open '" + path_ + "': " + std::strerror(errno);
    return;
  }
  std::error_code ec;
  auto size = std::filesystem::file_size(path_, ec);
  size_ = ec ? 0 : size;
}

audit_log::~audit_log() {
  if (file_) std::fclose(file_);
}

void audit_log::rotate() {
  std::fclose(file_);
  file_ = nullptr;
  std::error_code ec;
  if (keep_files_ == 0) {
    std::filesystem::remove(path_, ec);
  } else {
    std::filesystem::remove(path_ + "." + std::to_string(keep_files_), ec);
    for (uint32_t i = keep_files_; i > 1; --i)
      std::filesystem::rename(path_ + "." + std::to_string(i - 1), path_ + "." + std::to_string(i),
                              ec);
    std::filesystem::rename(path_, path_ + ".1", ec);
  }
  file_ = std::fopen(path_.c_str(), "ab");
  size_ = 0;
  if (!file_) error_ = "audit log: cannot reopen '" + path_ + "': " + std::strerror(errno);
}

void audit_log::write(const nlohmann::json& record) {
  auto line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard<std::mutex> lock{mu_};
  if (!file_) return;
  if (size_ > 0 && size_ + line.size() > max_bytes_) {
    rotate();
    if (!file_) return;
  }
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
  size_ += line.size();
  ++lines_;
}

uint64_t audit_log::lines() const {
  std::lock_guard<std::mutex> lock{mu_};
  return lines_;
}

}  // namespace switchyard::gateway
