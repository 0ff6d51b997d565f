// StagingBuffer: a DiffSink that stores records {addr, len, bytes} back to back
// in one private anonymous mapping reserved at construction (MAP_NORESERVE: only
// the part actually used costs memory). Never reallocates, never mallocs, so it
// is safe under the pause; Clear() keeps the touched pages for the next epoch.
//
// Signal safety: Reserve and Clear are async-signal-safe (no locks, no
// syscalls); construction and destruction are not.
#pragma once

#include <cstring>
#include <memory>

#include "runtime/base/status.h"
#include "runtime/dirty/diff_sink.h"

namespace respct::dirty {

class StagingBuffer final : public DiffSink {
 public:
  struct Header {
    uint64_t addr;
    uint64_t len;
  };

  // `capacity` bytes of address space. To hold any one epoch of ranges totalling
  // T bytes, 1.25 * T + 16 is enough (worst case: every other 64 B line changed,
  // 16 B header per 64 B record).
  static Result<std::unique_ptr<StagingBuffer>> Create(size_t capacity);
  ~StagingBuffer() override;
  StagingBuffer(const StagingBuffer&) = delete;
  StagingBuffer& operator=(const StagingBuffer&) = delete;

  std::byte* Reserve(uintptr_t addr, size_t len) override {
    const size_t need = sizeof(Header) + ((len + 7) & ~size_t{7});
    if (need > capacity_ - used_) return nullptr;
    std::byte* p = base_ + used_;
    const Header h{addr, len};
    std::memcpy(p, &h, sizeof(h));
    used_ += need;
    ++records_;
    payload_ += len;
    return p + sizeof(Header);
  }

  void Clear() { used_ = records_ = payload_ = 0; }

  // Calls f(addr, const std::byte* bytes, len) for each record in order.
  template <typename F>
  void ForEach(F&& f) const {
    for (size_t off = 0; off < used_;) {
      Header h;
      std::memcpy(&h, base_ + off, sizeof(h));
      f(static_cast<uintptr_t>(h.addr), base_ + off + sizeof(h), static_cast<size_t>(h.len));
      off += sizeof(Header) + ((h.len + 7) & ~uint64_t{7});
    }
  }

  size_t records() const { return records_; }
  size_t payload_bytes() const { return payload_; }
  size_t used_bytes() const { return used_; }
  size_t capacity() const { return capacity_; }

 private:
  StagingBuffer(std::byte* base, size_t capacity) : base_(base), capacity_(capacity) {}

  std::byte* const base_;
  const size_t capacity_;
  size_t used_ = 0;
  size_t records_ = 0;
  size_t payload_ = 0;
};

}  // namespace respct::dirty
