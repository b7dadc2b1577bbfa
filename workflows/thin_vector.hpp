#pragma once
// A vector that is one pointer wide: its size and capacity live in the heap block,
// in front of the elements, and an empty one allocates nothing. A run's state holds
// three of them (its transcript, its open steps, its open calls) and ten thousand
// runs may be in flight: 16 bytes less each than std::vector's three pointers.
//
// Only what the run actor uses: no copies, no insert in the middle.

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace switchyard {

template <class T>
class thin_vector {
 public:
  using value_type = T;
  using iterator = T*;
  using const_iterator = const T*;

  thin_vector() = default;
  thin_vector(const thin_vector&) = delete;
  thin_vector& operator=(const thin_vector&) = delete;
  thin_vector(thin_vector&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}
  thin_vector& operator=(thin_vector&& other) noexcept {
    if (this != &other) {
      release();
      block_ = std::exchange(other.block_, nullptr);
    }
    return *this;
  }
  ~thin_vector() { release(); }

  size_t size() const { return block_ ? block_->size : 0; }
  size_t capacity() const { return block_ ? block_->capacity : 0; }
  bool empty() const { return size() == 0; }

  T* begin() { return data(); }
  T* end() { return data() + size(); }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size(); }
  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }
  T& front() { return data()[0]; }
  const T& front() const { return data()[0]; }
  T& back() { return data()[size() - 1]; }

  void reserve(size_t n) {
    if (n > capacity()) grow_to(n);
  }

  template <class... Args>
  T& emplace_back(Args&&... args) {
    if (size() == capacity()) grow_to(capacity() == 0 ? first_capacity : 2 * capacity());
    T* slot = data() + block_->size;
    new (slot) T(std::forward<Args>(args)...);
    ++block_->size;
    return *slot;
  }
  void push_back(T x) { emplace_back(std::move(x)); }

  /// Removes one element, keeping the order of the others.
  T* erase(T* pos) {
    T* last = end() - 1;
    for (T* p = pos; p != last; ++p) *p = std::move(*(p + 1));
    last->~T();
    --block_->size;
    return pos;
  }

  /// Destroys the elements and keeps the block, like std::vector.
  void clear() {
    if (!block_) return;
    for (T& x : *this) x.~T();
    block_->size = 0;
  }

 private:
  struct header {
    uint32_t size;
    uint32_t capacity;
  };
  static_assert(alignof(T) <= alignof(header) * 2 && sizeof(header) % alignof(T) == 0,
                "elements must fit right after the 8-byte header");
  // The first block fills at least jemalloc's 16-byte class.
  static constexpr size_t first_capacity = sizeof(T) >= 8 ? 1 : 8 / sizeof(T);

  T* data() const {
    return block_ ? reinterpret_cast<T*>(reinterpret_cast<char*>(block_) + sizeof(header))
                  : nullptr;
  }

  void grow_to(size_t n) {
    auto* fresh = static_cast<header*>(::operator new(sizeof(header) + n * sizeof(T)));
    fresh->size = 0;
    fresh->capacity = static_cast<uint32_t>(n);
    T* to = reinterpret_cast<T*>(reinterpret_cast<char*>(fresh) + sizeof(header));
    for (T& x : *this) {
      new (to + fresh->size) T(std::move(x));
      ++fresh->size;
    }
    release();
    block_ = fresh;
  }

  void release() {
    if (!block_) return;
    clear();
    ::operator delete(block_);
    block_ = nullptr;
  }

  header* block_ = nullptr;
};

}  // namespace switchyard
