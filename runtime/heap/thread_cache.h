// ThreadCache: one slot of a heap's per-thread cache table, and the thread's
// binding to its slot.
//
// The slots live in the heap region (a fixed table in the Heap object), so a
// checkpoint captures the blocks a thread holds in its cache, and a recovered
// thread that re-binds its slot (Heap::BindThreadSlot) gets them back. Only
// the owning thread touches its slot's lists, so the fast paths use no
// atomics; a slot changes hands only through its atomic state word.
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/heap/size_class.h"

namespace respct::heap {

enum class SlotState : uint32_t {
  kFree = 0,       // unclaimed; its lists are empty
  kOwned = 1,      // a live thread uses it
  kOrphaned = 2,   // owned by a thread of a previous process (after Attach):
                   // keeps its blocks until re-bound or flushed
  kAbandoned = 3,  // owned by a thread that vanished in fork(); its lists may
                   // have been mid-update, so it is never reused (leaked)
};

// A class's cached blocks: a LIFO list linked through each block's first word.
struct FreeList {
  void* head;
  uint32_t count;
  uint32_t unused;
};

struct alignas(64) ThreadCache {
  FreeList lists[kNumSizeClasses];
  // Blocks allocated minus blocks freed through this slot, per class. A
  // cross-thread free makes one slot's count go negative; the sum over all
  // slots is the number of live blocks. Written only by the owner, read by
  // Stats() from any thread, hence relaxed atomic_ref accesses (plain moves).
  int64_t net_allocs[kNumSizeClasses];
  uint32_t state;  // SlotState, through atomic_ref

  std::atomic_ref<uint32_t> state_word() { return std::atomic_ref<uint32_t>(state); }
  void CountAlloc(unsigned c) { AddNet(c, 1); }
  void CountFree(unsigned c) { AddNet(c, -1); }
  int64_t NetAllocs(unsigned c) const {
    return std::atomic_ref<const int64_t>(net_allocs[c]).load(std::memory_order_relaxed);
  }

 private:
  void AddNet(unsigned c, int64_t d) {
    std::atomic_ref<int64_t> r(net_allocs[c]);
    r.store(r.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  }
};

// Process-local (not persisted): which slot of which heap instance the
// calling thread uses. A heap instance gets a registry index and a fresh
// generation every time it is created or attached in this process; a binding
// is valid only if its generation matches, so a destroyed heap's index can be
// reused without stale bindings pointing into unmapped memory.
struct ThreadBinding {
  ThreadCache* cache;   // nullptr with a matching generation: no slot was free
  uint64_t generation;
};

inline constexpr unsigned kMaxHeapInstances = 8;

// Initial-exec TLS: this code runs inside an LD_PRELOADed library, loaded at
// start-up, so its TLS sits in the static TLS block and is reached with one
// %fs-relative load, without __tls_get_addr (which may call malloc).
// Zero-initialised (.tbss), so valid before any constructor runs.
extern thread_local ThreadBinding tls_thread_bindings[kMaxHeapInstances]
    __attribute__((tls_model("initial-exec")));

}  // namespace respct::heap
