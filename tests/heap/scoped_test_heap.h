// ScopedTestHeap: a Heap at a test-specific fixed address, destroyed at scope
// exit. Each test uses its own address (0x2000'0000'0000 + k TiB, k from the
// list in each test file) so tests never collide, even in one process.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>

#include "runtime/heap/heap.h"

namespace respct::heap {

inline void* TestHeapAddress(unsigned k) {
  return reinterpret_cast<void*>(uintptr_t{0x2000'0000'0000} + uintptr_t{k} * (uintptr_t{1} << 40));
}

class ScopedTestHeap {
 public:
  explicit ScopedTestHeap(unsigned k, size_t reserve = size_t{16} << 30) {
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
