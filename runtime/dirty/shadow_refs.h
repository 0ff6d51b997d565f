// ShadowRefs: a zero-copy DiffSink. It records {addr, pointer into the
// differ's shadow, len} per changed range, in one private anonymous mapping
// reserved at construction (no malloc, no reallocation: safe under the pause).
// Ship its records before the next Diff of the same ranges (see diff_sink.h).
//
// Signal safety: Reference, Clear and ForEach are async-signal-safe;
// construction and destruction are not.
#pragma once

#include <memory>

#include "runtime/base/status.h"
#include "runtime/dirty/diff_sink.h"

namespace respct::dirty {

class ShadowRefs final : public DiffSink {
 public:
  struct Ref {
    uintptr_t addr;
    const std::byte* bytes;
    size_t len;
  };

  // Room for `max_refs` records. A range of T bytes needs at most T / 128 of
  // them (every other 64 B line changed).
  static Result<std::unique_ptr<ShadowRefs>> Create(size_t max_refs);
  ~ShadowRefs() override;
  ShadowRefs(const ShadowRefs&) = delete;
  ShadowRefs& operator=(const ShadowRefs&) = delete;

  bool references_shadow() const override { return true; }
  bool Reference(uintptr_t addr, const std::byte* stable, size_t len) override {
    if (count_ == capacity_) return false;
    refs_[count_++] = Ref{addr, stable, len};
    payload_ += len;
    return true;
  }
  // Never called: references_shadow() is true.
  std::byte* Reserve(uintptr_t, size_t) override { return nullptr; }

  void Clear() { count_ = payload_ = 0; }
  const Ref* begin() const { return refs_; }
  const Ref* end() const { return refs_ + count_; }
  size_t records() const { return count_; }
  size_t payload_bytes() const { return payload_; }

 private:
  ShadowRefs(Ref* refs, size_t capacity) : refs_(refs), capacity_(capacity) {}

  Ref* const refs_;
  const size_t capacity_;
  size_t count_ = 0;
  size_t payload_ = 0;
};

}  // namespace respct::dirty
