// Heap: the persisted heap allocator. Every byte of its state, metadata
// included, lives inside the region it manages, so a byte copy of the region
// taken while no thread is inside a heap call is a consistent copy of the heap,
// and mapping that copy back at the same address in a new process (recovery)
// and calling Attach gives a working heap with every old block still live.
//
// Design (after mimalloc and tcmalloc): requests up to 32 KiB are rounded to
// one of 72 size classes (size_class.h) and served from per-thread caches;
// a cache refills from and overflows to per-class central lists (locked),
// which carve blocks from spans of pages obtained from the page heap (locked).
// Larger requests take page-aligned runs of 8 KiB pages directly from the page
// heap. Region layout: heap_layout.h. The Heap object itself is the header of
// its region: it is never constructed, only formatted in place (Create) or
// adopted (Attach).
//
// Fast paths (inline below) touch only the calling thread's cache slot: no
// atomics, no locks. Everything else is in clearly named out-of-line *Slow
// functions in heap.cc.
//
// Thread caches: the Heap holds a table of kNumThreadSlots cache slots. A
// thread claims a free slot on its first heap call and remembers it in an
// initial-exec thread_local (thread_cache.h); the runtime can instead pin a
// thread to slot i with BindThreadSlot (recovery recreates each thread in the
// slot it had). At thread exit the runtime calls ReleaseThreadCache. There is
// deliberately no automatic release: a pthread key destructor needs
// pthread_key_create (may allocate, and goes through interposed pthreads), and
// a thread_local object with a destructor is registered through
// __cxa_thread_atexit_impl, which in glibc 2.36 calls calloc, i.e. re-enters
// this allocator from inside it. A thread that exits without the call keeps
// its slot and its cached blocks (at most ~1 MiB) until the process ends.
// When every slot is taken, further threads allocate directly from the
// central lists (correct, slower).
//
// Thread safety: all functions may be called concurrently from any thread;
// a block may be freed by a thread other than the one that allocated it.
// Internal locks are FutexLocks (never pthread mutexes: the shim interposes
// those). Async-signal safety: NONE of the heap API may be called from a
// signal handler (a handler interrupting a fast path on the same thread would
// corrupt that thread's cache).
//
// Works before any constructor ran: the heap has no static constructors, its
// process-global registry and thread bindings are zero-initialised data, and
// it never calls malloc (only mmap/madvise/munmap/mincore/futex/write).
//
// Misuse detected (process aborts with one line on stderr, via write(2)):
// freeing a pointer inside the region but not at the start of a block; freeing
// a large block twice; freeing a small block that is already at the head of
// the calling thread's cache (immediate double free), or into a span that has
// no block out; freeing a pointer outside the region. NOT detected: a double
// free of a small block whose first free already left the thread cache head
// with other blocks of its span still out (it corrupts the free lists),
// writes past the end of a block, use after free.
//
// MADV_DONTNEED: large blocks of at least 1 MiB are given back to the kernel
// when freed. They read back as zero in this process, but the persisted image
// may still hold their old bytes (dropping a page is not a write a tracker
// sees), so such a span is not marked zeroed: a calloc or AllocatePages served
// from it writes its zeros, and those writes are shipped. Only pages never
// handed out are trusted to be zero here and in the image; Attach forgets
// every mark.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/base/status.h"
#include "runtime/heap/central_free_list.h"
#include "runtime/heap/heap_layout.h"
#include "runtime/heap/page_heap.h"
#include "runtime/heap/size_class.h"
#include "runtime/heap/thread_cache.h"

namespace respct::heap {

struct SizeClassStats {
  uint32_t block_size;
  uint64_t blocks_in_use;  // handed to the application and not freed (blocks
                           // out of the central list minus blocks in caches)
  uint64_t spans;          // spans currently carved for this class
};

struct HeapStats {
  uint64_t reserved_bytes;      // size of the region (virtual)
  uint64_t mapped_bytes;        // region bytes ever touched: header, metadata
                                // and data pages up to the frontier (upper bound:
                                // pages given back with MADV_DONTNEED count too)
  uint64_t released_bytes;      // cumulative bytes given back with MADV_DONTNEED
  uint64_t bytes_in_use;        // small blocks (at class size) + large blocks
  uint64_t small_bytes_in_use;
  uint64_t large_bytes_in_use;  // whole pages
  uint64_t large_allocations;
  SizeClassStats classes[kNumSizeClasses];
};

// A range of the region that may hold non-zero bytes (see WrittenRanges).
struct ByteRange {
  uintptr_t begin;
  size_t length;
};

class Heap {
 public:
  static constexpr uint64_t kMagic = 0x3150414548544352;  // "RCTHEAP1" little-endian
  static constexpr uint32_t kVersion = 1;
  static constexpr unsigned kNumThreadSlots = 1024;
  // Smallest reserve Create accepts: header, metadata and some data pages.
  static constexpr size_t kMinReserveBytes = 16u << 20;

  // Maps reserve_bytes of address space at base (MAP_FIXED_NOREPLACE |
  // MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE: nothing is committed until
  // used) and formats an empty heap there. base must be kHeapPageSize-aligned and
  // the range unmapped.
  static Result<Heap*> Create(void* base, size_t reserve_bytes);
  // Adopts a region already mapped at base whose bytes hold a formatted heap
  // (restored by recovery), after checking magic, version, address and
  // layout. Thread cache slots in use when the image was taken become
  // orphaned: BindThreadSlot re-adopts them, FlushOrphanedThreadCaches
  // returns the rest to the central lists.
  static Result<Heap*> Attach(void* base);
  // Unregisters the heap from this process and unmaps its region. No thread
  // may use it any more.
  static Status Destroy(Heap* heap);

  void* Malloc(size_t n) noexcept;
  void Free(void* p) noexcept;
  void* Calloc(size_t count, size_t size) noexcept;
  // glibc semantics: Realloc(nullptr, n) is Malloc(n); Realloc(p, 0) frees p
  // and returns nullptr. On failure returns nullptr and p stays valid.
  void* Realloc(void* p, size_t n) noexcept;
  // align: power of two (else nullptr). Serves posix_memalign, aligned_alloc,
  // memalign, valloc and pvalloc; the preload layer maps failures to errno.
  void* Memalign(size_t align, size_t n) noexcept;
  // A large block of at least n bytes (rounded up to whole 8 KiB pages)
  // whose start is aligned to align (a power of two, >= kHeapPageSize), reading
  // as zero: what an anonymous mmap served from the heap gets
  // (runtime/core/anonymous_maps.h). Null if the region has no room.
  void* AllocatePages(size_t n, size_t align) noexcept;
  // Bytes usable at p (>= the size requested); p must be a live block.
  size_t UsableSize(const void* p) noexcept;
  // True iff p lies inside this heap's region (a range check, nothing more).
  bool Owns(const void* p) const noexcept {
    return reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(this) < layout_.reserve_bytes;
  }

  // Flushes the calling thread's cache to the central lists and frees its
  // slot. Called by the runtime on its thread-exit path. Later calls from the
  // same thread still work but bypass the cache (they take the central list
  // locks) and never claim a slot; BindThreadSlot gives it a cache again.
  void ReleaseThreadCache();
  // Makes the calling thread use cache slot `slot` (adopting its blocks if it
  // is orphaned); fails if another live thread owns it.
  Status BindThreadSlot(unsigned slot);
  // Returns the blocks of every orphaned slot to the central lists and frees
  // those slots (after recovery, once all threads have re-bound).
  void FlushOrphanedThreadCaches();
  // Slot the calling thread uses, or -1 if it has none yet.
  int CurrentThreadSlot();

  // fork(): PrepareFork takes every heap lock, ParentAfterFork releases them,
  // ChildAfterFork re-arms them and abandons the cache slots of the threads
  // that do not exist in the child. Registered by the preload layer with
  // pthread_atfork.
  void PrepareFork();
  void ParentAfterFork();
  void ChildAfterFork();

  // Aggregated counters; approximate while other threads allocate.
  void ReadStats(HeapStats* out);
  // The parts of the region that may hold non-zero bytes (header, metadata
  // and data up to the frontier); everything else is untouched zero pages.
  // Copying these ranges while no thread is in a heap call captures the heap.
  unsigned WrittenRanges(ByteRange out[4]);

  uintptr_t base() const { return reinterpret_cast<uintptr_t>(this); }
  size_t reserve_bytes() const { return layout_.reserve_bytes; }

 private:
  Heap() = default;  // never constructed: formatted in place
  ~Heap() = default;

  ThreadCache* CurrentCache() {
    const ThreadBinding& b = tls_thread_bindings[instance_index_];
    return b.generation == instance_generation_ ? b.cache : nullptr;
  }

  void Format(const HeapLayout& layout);
  void ResetAfterRestore();
  Status Register();
  void* MallocSlow(size_t n) noexcept;
  void FreeSlow(void* p) noexcept;
  void* MallocLarge(size_t n, size_t align, bool zero) noexcept;
  ThreadCache* CacheForSlowPath();
  ThreadCache* ClaimFreeSlot();
  void FlushList(ThreadCache* tc, unsigned size_class, uint32_t keep);
  void FlushAllLists(ThreadCache* tc);
  size_t BlockSize(const void* p);

  // Line 0: identity, checked by Attach.
  uint64_t magic_;
  uint32_t version_;
  uint32_t header_bytes_;  // sizeof(Heap) when formatted
  uintptr_t base_address_;
  HeapLayout layout_;
  // Line 1: what the fast paths read. instance_* are process-local and
  // rewritten by Create/Attach.
  alignas(64) uintptr_t data_begin_;
  size_t data_bytes_;
  PageEntry* entries_;
  uint64_t instance_generation_;
  uint32_t instance_index_;
  uint32_t next_slot_hint_;  // where ClaimFreeSlot starts looking (a hint)

  // Own cache line: its lock is written by every span allocation, which must
  // not invalidate the line the fast paths read.
  alignas(64) PageHeap page_heap_;
  CentralFreeList central_[kNumSizeClasses];
  ThreadCache slots_[kNumThreadSlots];
};

inline void* Heap::Malloc(size_t n) noexcept {
  if (n <= kMaxSmallSize) [[likely]] {
    ThreadCache* tc = CurrentCache();
    if (tc != nullptr) [[likely]] {
      const unsigned c = SizeClassOf(n);
      FreeList& list = tc->lists[c];
      void* block = list.head;
      if (block != nullptr) [[likely]] {
        list.head = *static_cast<void**>(block);
        list.SetCount(list.Count() - 1);
        return block;
      }
    }
  }
  return MallocSlow(n);
}

inline void Heap::Free(void* p) noexcept {
  const uintptr_t offset = reinterpret_cast<uintptr_t>(p) - data_begin_;
  if (offset < data_bytes_) [[likely]] {
    const PageEntry e = entries_[offset >> kHeapPageShift];
    ThreadCache* tc = CurrentCache();
    if (e.class_plus_one != 0 && tc != nullptr) [[likely]] {
      const unsigned c = e.class_plus_one - 1u;
      const uint64_t in_span = (offset & (kHeapPageSize - 1)) + (uint64_t{e.page_in_span} << kHeapPageShift);
      FreeList& list = tc->lists[c];
      const uint32_t count = list.Count();
      if (IsBlockStartOffset(c, in_span) && p != list.head &&
          count < 2u * kSizeClasses.batch[c]) [[likely]] {
        *static_cast<void**>(p) = list.head;
        list.head = p;
        list.SetCount(count + 1);
        return;
      }
    }
  }
  FreeSlow(p);
}

}  // namespace respct::heap
