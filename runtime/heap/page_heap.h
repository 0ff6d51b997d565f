// PageHeap: hands out runs of data pages (spans) and takes them back,
// coalescing free neighbours. Lives inside the heap region, like everything
// the allocator knows.
//
// Free spans sit in bins by length (exact bins for 1..kNumBins-1 pages, one
// first-fit bin for longer spans); pages never handed out lie beyond the
// frontier and are taken in address order, so the used part of the region
// stays compact. One FutexLock guards it; callers that also hold a central
// list lock take that one first (order: central list, then page heap).
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/heap/futex_lock.h"
#include "runtime/heap/heap_layout.h"

namespace respct::heap {

inline constexpr uint32_t kNoPage = UINT32_MAX;

// A span handed out by PageHeap::Allocate.
struct SpanGrant {
  uint32_t first_page;  // kNoPage if the reserve is exhausted
  bool zeroed;          // every byte of the span reads as zero
};

class PageHeap {
 public:
  static constexpr unsigned kNumBins = 128;
  // Large frees of at least this many pages are given back to the kernel
  // with MADV_DONTNEED (1 MiB); the pages then read back as zero here, but
  // are not marked zeroed (an image may still hold their old bytes).
  static constexpr uint32_t kReleasePages = (1u << 20) / kHeapPageSize;

  // Called with each span about to be given back, outside the heap's lock
  // and before the pages are dropped: dropping them writes zeros that no
  // write fault reports, so the runtime tells its dirty tracker (the mprotect
  // tracker marks those chunks) and the image ships the zeros like any write.
  // Process-wide; null (the default) for none. The observer must be
  // async-signal-safe: free() may run in a signal handler.
  using ReleaseObserver = void (*)(void* addr, size_t len);
  static void SetReleaseObserver(ReleaseObserver observer);

  // Sets up an empty page heap over a zero-filled metadata area.
  void Format(PageEntry* entries, SpanDesc* descs, uintptr_t data_begin, uint32_t total_pages);
  // After a restore: forget a lock holder and stop trusting "zeroed" marks.
  void ResetAfterRestore();

  // A span of num_pages pages whose start is aligned to align_bytes (a power
  // of two; at least kHeapPageSize), marked with state (kSmall or kLarge).
  SpanGrant Allocate(uint32_t num_pages, size_t align_bytes, SpanState state, uint8_t size_class);
  // Returns a span to the free bins (used for emptied small-object spans).
  void Free(uint32_t first_page);
  // Frees the large allocation starting at p, aborting if p is not the start
  // of a live large allocation (invalid or double free).
  void FreeLarge(void* p);
  // Pages of the large allocation starting at p, or 0 if there is none.
  uint32_t LargePages(const void* p);

  uintptr_t PageAddress(uint32_t page) const { return data_begin_ + (uintptr_t{page} << kHeapPageShift); }
  uint32_t PageOf(const void* p) const {
    return static_cast<uint32_t>((reinterpret_cast<uintptr_t>(p) - data_begin_) >> kHeapPageShift);
  }
  SpanDesc& Desc(uint32_t page) { return descs_[page]; }
  PageEntry* entries() const { return entries_; }

  FutexLock& lock() { return lock_; }

  struct Counters {
    uint32_t frontier_pages;   // pages ever handed out (high-water mark)
    uint64_t large_bytes_in_use;
    uint64_t large_allocations;
    uint64_t released_bytes;   // cumulative MADV_DONTNEED
  };
  Counters ReadCounters();

 private:
  SpanGrant TakeSpanLocked(uint32_t num_pages);
  void FreeLocked(uint32_t first, uint32_t num_pages, bool zeroed);
  void MarkSpan(uint32_t first, uint32_t num_pages, SpanState state);
  void UnmarkSpan(uint32_t first, uint32_t num_pages);
  void InsertFree(uint32_t first);
  void RemoveFree(uint32_t first);
  uint32_t& BinHead(uint32_t num_pages) {
    return bins_[num_pages < kNumBins ? num_pages - 1 : kNumBins - 1];
  }
  bool IsZeroed(const SpanDesc& d) const { return d.zero_generation == generation_; }

  FutexLock lock_;
  uint16_t generation_;
  PageEntry* entries_;
  SpanDesc* descs_;
  uintptr_t data_begin_;
  uint32_t total_pages_;
  uint32_t frontier_;
  uint32_t bins_[kNumBins];  // first page + 1 of a free span; 0: empty bin
  uint64_t large_bytes_in_use_;
  uint64_t large_allocations_;
  uint64_t released_bytes_;
};

}  // namespace respct::heap
