#pragma once
// Keeps decision traces small while a run holds them. A run keeps one trace per
// model call (compact, runtime/trace_codec.hpp: a few dozen bytes each) until it
// ends, and ten thousand runs may be in flight. Traces of one engine share most of
// their bytes (the catalog's models, tiers, verdicts), so each is packed against a
// reference: the first one this packer saw. One that differs from it in a few bytes
// in one place (another token count) is kept as that difference, found with a
// memcmp: short enough to stay inside std::string's own buffer, no heap block.
// Longer ones unlike it are LZ4-compressed with the reference as dictionary.
//
//   trace_packer packer;
//   std::string packed = packer.pack(trace_json);       // any thread
//   std::string back = packer.unpack(packed);            // == trace_json

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace switchyard {

class trace_packer {
 public:
  trace_packer() = default;
  ~trace_packer();
  trace_packer(const trace_packer&) = delete;
  trace_packer& operator=(const trace_packer&) = delete;

  /// The packed form of `text`. Thread-safe.
  std::string pack(std::string_view text);
  /// `text` again from what pack() returned. Thread-safe. A packed form that does not
  /// decode (not made by this packer) comes back as an empty string.
  std::string unpack(std::string_view packed) const;

  /// Bytes of the reference trace (0 until the first pack()).
  size_t reference_size() const;

 private:
  std::mutex set_reference_;
  std::atomic<const std::string*> reference_{nullptr};  // set once, owned below
  std::unique_ptr<const std::string> owned_reference_;
};

}  // namespace switchyard
