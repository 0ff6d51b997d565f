// CentralFreeList: the shared pool of free blocks of one size class, from
// which thread caches refill and to which they overflow.
//
// Blocks live in their spans: each small span keeps a list of its freed
// blocks and a bump counter of blocks never handed out, and the central list
// links the spans that still have a block to give. Returning a block finds
// its span through the page map, so a span whose blocks all came back is
// given back to the page heap (except the last one of the class, kept to
// avoid churn when a thread cache oscillates around a batch boundary).
#pragma once

#include <cstdint>

#include "runtime/heap/futex_lock.h"
#include "runtime/heap/page_heap.h"

namespace respct::heap {

// A chain of blocks linked through their first word, ending in nullptr.
struct BlockChain {
  void* head;
  void* tail;
  uint32_t count;
};

class alignas(64) CentralFreeList {
 public:
  // Up to max_blocks blocks of size_class; fewer (possibly none) only when
  // the reserve is exhausted.
  BlockChain Remove(PageHeap& pages, unsigned size_class, uint32_t max_blocks);
  // Gives back count blocks linked from head (the chain's end is not read).
  void Insert(PageHeap& pages, unsigned size_class, void* head, uint32_t count);

  FutexLock& lock() { return lock_; }
  struct Counters {
    uint64_t spans;       // spans carved for this class
    uint64_t blocks_out;  // blocks given to thread caches or the application
  };
  Counters ReadCounters() {
    FutexLockGuard guard(lock_);
    return {span_count_, blocks_out_};
  }

 private:
  uint32_t NewSpanLocked(PageHeap& pages, unsigned size_class);
  void ReleaseSpanLocked(PageHeap& pages, uint32_t first, unsigned size_class);
  void LinkSpan(PageHeap& pages, uint32_t first);
  void UnlinkSpan(PageHeap& pages, uint32_t first);

  FutexLock lock_;
  uint32_t has_blocks_head_;  // first page + 1 of a span with blocks to give
  uint64_t span_count_;
  uint64_t blocks_out_;
};

}  // namespace respct::heap
