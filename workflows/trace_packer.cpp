#include "workflows/trace_packer.hpp"

#include <lz4.h>

#include <cstdint>

namespace switchyard {

namespace {

// Packed form: one tag byte, the text's size as a little-endian uint32, then the text
// (tag 0: stored as is, when compression would not pay) or its LZ4 block compressed
// with the reference as dictionary (tag 1).
constexpr char tag_stored = 0;
constexpr char tag_lz4_reference = 1;
constexpr size_t header_size = 5;
// Shorter texts are stored as they are: the header and LZ4's tokens would eat the gain.
constexpr size_t min_packed_size = 48;

// One LZ4 stream per thread: its 16 KB table is too big to set up per call.
struct thread_stream {
  LZ4_stream_t stream;
  thread_stream() { LZ4_initStream(&stream, sizeof stream); }
};

void put_header(std::string& out, char tag, uint32_t size) {
  out.push_back(tag);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((size >> (8 * i)) & 0xff));
}

}  // namespace

trace_packer::~trace_packer() = default;

size_t trace_packer::reference_size() const {
  const auto* ref = reference_.load(std::memory_order_acquire);
  return ref ? ref->size() : 0;
}

std::string trace_packer::pack(std::string_view text) {
  std::string out;
  const auto size = static_cast<uint32_t>(text.size());
  const std::string* ref = reference_.load(std::memory_order_acquire);
  if (!ref && !text.empty()) {
    std::lock_guard<std::mutex> guard{set_reference_};
    ref = reference_.load(std::memory_order_relaxed);
    if (!ref) {
      owned_reference_ = std::make_unique<const std::string>(text);
      ref = owned_reference_.get();
      reference_.store(ref, std::memory_order_release);
    }
  }
  if (text.size() >= min_packed_size && text.size() < (1u << 30) && ref) {
    thread_local thread_stream local;
    LZ4_resetStream_fast(&local.stream);
    LZ4_loadDict(&local.stream, ref->data(), static_cast<int>(ref->size()));
    const int bound = LZ4_compressBound(static_cast<int>(text.size()));
    out.resize(header_size + static_cast<size_t>(bound));
    const int written =
        LZ4_compress_fast_continue(&local.stream, text.data(), out.data() + header_size,
                                   static_cast<int>(text.size()), bound, 1);
    if (written > 0 && static_cast<size_t>(written) < text.size()) {
      out.resize(header_size + static_cast<size_t>(written));
      out[0] = tag_lz4_reference;
      for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<char>((size >> (8 * i)) & 0xff);
      out.shrink_to_fit();
      return out;
    }
    out.clear();
  }
  out.reserve(header_size + text.size());
  put_header(out, tag_stored, size);
  out.append(text);
  return out;
}

std::string trace_packer::unpack(std::string_view packed) const {
  if (packed.size() < header_size) return {};
  uint32_t size = 0;
  for (int i = 0; i < 4; ++i)
    size |= static_cast<uint32_t>(static_cast<unsigned char>(packed[1 + i])) << (8 * i);
  auto body = packed.substr(header_size);
  if (packed[0] == tag_stored) return body.size() == size ? std::string{body} : std::string{};
  const auto* ref = reference_.load(std::memory_order_acquire);
  if (packed[0] != tag_lz4_reference || !ref) return {};
  std::string out(size, '\0');
  const int got = LZ4_decompress_safe_usingDict(body.data(), out.data(),
                                                static_cast<int>(body.size()),
                                                static_cast<int>(size), ref->data(),
                                                static_cast<int>(ref->size()));
  if (got != static_cast<int>(size)) return {};
  return out;
}

}  // namespace switchyard
