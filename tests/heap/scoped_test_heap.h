// ScopedTestHeap: a Heap at a test-specific fixed address, destroyed at scope
// exit. Each test uses its own address (0x2000'0000'0000 + k TiB, k from the
// list in each test file, k < 64) so tests never collide, even in one process.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>

#include "runtime/heap/heap.h"

namespace respct::heap {

#if defined(RESPCT_TSAN)
// ThreadSanitizer (gcc 12's and clang 14's runtimes alike) refuses mappings
// outside its application ranges, and 0x2000'0000'0000 lies in its shadow gap. Its low range below
// 0x80'0000'0000 is free above 64 GiB, so tests step through it 7 GiB at a
// time with heaps of at most 4 GiB.
inline constexpr uintptr_t kTestHeapBase = 0x10'0000'0000;
inline constexpr uintptr_t kTestHeapStep = uintptr_t{7} << 30;
inline constexpr size_t kDefaultTestReserve = size_t{4} << 30;
#else
inline constexpr uintptr_t kTestHeapBase = 0x2000'0000'0000;
inline constexpr uintptr_t kTestHeapStep = uintptr_t{1} << 40;
inline constexpr size_t kDefaultTestReserve = size_t{16} << 30;
#endif

inline void* TestHeapAddress(unsigned k) {
  return reinterpret_cast<void*>(kTestHeapBase + uintptr_t{k} * kTestHeapStep);
}

class ScopedTestHeap {
 public:
  explicit ScopedTestHeap(unsigned k, size_t reserve = kDefaultTestReserve) {
    Result<Heap*> r = Heap::Create(TestHeapAddress(k), reserve);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    heap_ = r.ok() ? r.value() : nullptr;
  }
  ~ScopedTestHeap() {
    if (heap_ != nullptr) {
      EXPECT_TRUE(Heap::Destroy(heap_).ok());
    }
  }
  ScopedTestHeap(const ScopedTestHeap&) = delete;
  ScopedTestHeap& operator=(const ScopedTestHeap&) = delete;

  Heap* operator->() const { return heap_; }
  Heap* get() const { return heap_; }

 private:
  Heap* heap_;
};

}  // namespace respct::heap
