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
// Only the owning thread changes it. count is also read by Heap::ReadStats
// from other threads, so it goes through relaxed atomic_ref accesses, which
// compile to plain moves.
struct FreeList {
  void* head;
  uint32_t count;
  uint32_t unused;

  uint32_t Count() const {
    return std::atomic_ref<uint32_t>(const_cast<uint32_t&>(count)).load(std::memory_order_relaxed);
  }
  void SetCount(uint32_t n) { std::atomic_ref<uint32_t>(count).store(n, std::memory_order_relaxed); }
};

struct alignas(64) ThreadCache {
  FreeList lists[kNumSizeClasses];
  uint32_t state;  // SlotState, through atomic_ref

  std::atomic_ref<uint32_t> state_word() { return std::atomic_ref<uint32_t>(state); }
};

// Process-local (not persisted): which slot of which heap instance the
// calling thread uses. A heap instance gets a registry index and a fresh
// generation every time it is created or attached in this process; a binding
// is valid only if its generation matches, so a destroyed heap's index can be
// reused without stale bindings pointing into unmapped memory.
struct ThreadBinding {
  ThreadCache* cache = nullptr;  // nullptr with a matching generation: no slot was free
  uint64_t generation = 0;
};

inline constexpr unsigned kMaxHeapInstances = 8;

// Initial-exec TLS: this code runs inside an LD_PRELOADed library, loaded at
// start-up, so its TLS sits in the static TLS block and is reached with one
// %fs-relative load, without __tls_get_addr (which may call malloc).
// Zero-initialised (.tbss), so valid before any constructor runs; constinit
// tells every includer so, which spares the fast paths the check for a
// dynamic TLS initialiser (a weak-symbol test and a call through the PLT).
extern thread_local constinit ThreadBinding tls_thread_bindings[kMaxHeapInstances]
    __attribute__((tls_model("initial-exec")));

}  // namespace respct::heap
