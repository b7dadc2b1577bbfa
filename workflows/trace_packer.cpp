#include "workflows/trace_packer.hpp"

#include <lz4.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace switchyard {

namespace {

// Packed form: one tag byte, the text's size as a little-endian uint32, then the text
// (tag 0: stored as is, when compression would not pay), its LZ4 block compressed
// with the reference as dictionary (tag 1), or (tag 2) the lengths of the prefix and
// the suffix it shares with the reference (LEB128) followed by the bytes in between.
constexpr char tag_stored = 0;
constexpr char tag_lz4_reference = 1;
constexpr char tag_reference_delta = 2;
constexpr size_t header_size = 5;
// Shorter texts are not given to LZ4: the header and its tokens would eat the gain.
constexpr size_t min_packed_size = 48;
// A text that differs from the reference in at most this many bytes in one place (a
// trace of the same route and models with another token count, say: most of them) is
// packed as a delta: a memcmp instead of LZ4, whose dictionary set-up clears a 16 KB
// table on every call, and a packed form at least as small.
constexpr size_t max_delta_bytes = 48;

// One LZ4 stream per thread: its 16 KB table is too big to set up per call.
struct thread_stream {
  LZ4_stream_t stream;
  thread_stream() { LZ4_initStream(&stream, sizeof stream); }
};

void put_header(std::string& out, char tag, uint32_t size) {
  out.push_back(tag);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((size >> (8 * i)) & 0xff));
}

size_t varint_size(size_t x) {
  size_t n = 1;
  for (; x >= 0x80; x >>= 7) ++n;
  return n;
}

// Reads a varint at `pos`, advancing it; false when the bytes run out or it is too long.
bool get_varint(std::string_view in, size_t& pos, size_t& x) {
  x = 0;
  for (int shift = 0; shift < 35 && pos < in.size(); shift += 7) {
    auto b = static_cast<unsigned char>(in[pos++]);
    x |= static_cast<size_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// Bytes `a` and `b` share at their start, compared eight at a time.
size_t common_prefix(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) break;
  }
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// Bytes `a` and `b` share at their end, at most `limit`.
size_t common_suffix(std::string_view a, std::string_view b, size_t limit) {
  size_t i = 0;
  const char* ea = a.data() + a.size();
  const char* eb = b.data() + b.size();
  for (; i + 8 <= limit; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, ea - i - 8, 8);
    std::memcpy(&y, eb - i - 8, 8);
    if (x != y) break;
  }
  while (i < limit && ea[-1 - static_cast<ptrdiff_t>(i)] == eb[-1 - static_cast<ptrdiff_t>(i)]) ++i;
  return i;
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
  if (!text.empty() && text.size() < (1u << 30) && ref) {
    const size_t prefix = common_prefix(text, *ref);
    const size_t suffix = common_suffix(text, *ref, std::min(text.size(), ref->size()) - prefix);
    const size_t middle = text.size() - prefix - suffix;
    // Short texts too: a delta of a few bytes stays inside std::string's own buffer,
    // where the text itself would take a heap block.
    if (middle <= max_delta_bytes &&
        middle + varint_size(prefix) + varint_size(suffix) < text.size()) {
      // Written into a buffer, then one string made of it (most fit std::string's own
      // buffer): a push_back per byte cost more than the rest of the packing.
      char buffer[header_size + 20 + max_delta_bytes];
      char* at = buffer;
      *at++ = tag_reference_delta;
      for (int i = 0; i < 4; ++i) *at++ = static_cast<char>((size >> (8 * i)) & 0xff);
      for (size_t x : {prefix, suffix}) {
        for (; x >= 0x80; x >>= 7) *at++ = static_cast<char>((x & 0x7f) | 0x80);
        *at++ = static_cast<char>(x);
      }
      std::memcpy(at, text.data() + prefix, middle);
      at += middle;
      return std::string(buffer, static_cast<size_t>(at - buffer));
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
  if (packed[0] == tag_reference_delta && ref) {
    size_t pos = 0, prefix = 0, suffix = 0;
    if (!get_varint(body, pos, prefix) || !get_varint(body, pos, suffix)) return {};
    auto middle = body.substr(pos);
    if (prefix > ref->size() || suffix > ref->size() - prefix ||
        size_t{size} != prefix + middle.size() + suffix)
      return {};
    // Sized once and copied into: three appends were three library calls.
    std::string out(size, '\0');
    std::memcpy(out.data(), ref->data(), prefix);
    std::memcpy(out.data() + prefix, middle.data(), middle.size());
    std::memcpy(out.data() + prefix + middle.size(), ref->data() + ref->size() - suffix, suffix);
    return out;
  }
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
