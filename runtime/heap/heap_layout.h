// HeapLayout: where everything sits inside a heap region, and the per-page
// metadata records. All of it lives in the region, so a byte copy of the
// region is a copy of the allocator.
//
//   base ─┬─ Heap object (header, central lists, page heap, 1024 thread
//         │  cache slots), rounded up to a page           [0, entries_offset)
//         ├─ PageEntry[total_pages]: 4 B per data page, read by Free's fast path
//         ├─ SpanDesc[total_pages]: 32 B per data page, span bookkeeping
//         └─ data pages, total_pages * kHeapPageSize         [data_offset, end)
//
// Both arrays are indexed by data page number ((p - data_begin) >> kHeapPageShift)
// and are sized for the whole reserve, but the region is mapped MAP_NORESERVE
// and fresh anonymous memory reads as zero, so only entries of pages that were
// ever handed out cost memory. Pointers stored in the region (free-list links,
// the array pointers in the header) are absolute: a recovered region is
// always mapped back at the address it was created at.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/heap/size_class.h"

namespace respct::heap {

// What Free needs to know about a data page, in one 4-byte load.
struct PageEntry {
  // 0: the page is not inside a small-object span; else size class + 1.
  uint8_t class_plus_one;
  uint8_t unused;
  // Page index of this page within its small-object span.
  uint16_t page_in_span;
};
static_assert(sizeof(PageEntry) == 4);

// Span states, recorded at a span's first page, and for free spans of more
// than one page also at the last page, so that a span being freed can find
// the start of a free left neighbour to merge with. Every other page reads
// kNone: marks are cleared whenever a span is split or merged, so a stale
// kLarge can never make an interior pointer look like a live allocation.
enum class SpanState : uint8_t {
  kNone = 0,   // not the first page of a current span
  kFree,       // first page of a free span in a page-heap bin
  kFreeLast,   // last page of a free span (first_page names its start)
  kSmall,      // first page of a span carved into blocks of one class
  kLarge,      // first page of one large allocation
  kReleasing,  // large allocation being freed while MADV_DONTNEED runs
};

// Bookkeeping of one span, stored at the index of its first page.
struct SpanDesc {
  uint32_t first_page;  // at the last page: index of the first page
  uint32_t num_pages;
  // Links of the doubly linked list the span is on (a page-heap free bin or a
  // central list's "has free blocks" list), as page index + 1; 0 ends a list.
  uint32_t prev;
  uint32_t next;
  // Small spans: singly linked list of freed blocks, and counters.
  void* free_blocks;
  uint16_t carved;     // blocks cut from the span so far (bump order)
  uint16_t allocated;  // blocks handed out and not yet returned to the span
  SpanState state;
  uint8_t size_class;
  // Free spans: the span's pages are known to read as zero if this equals the
  // heap's generation (fresh pages or MADV_DONTNEED'd). Attach bumps the
  // generation, because a restored image may hold old bytes where the live
  // process had zeroed pages.
  uint16_t zero_generation;
};
static_assert(sizeof(SpanDesc) == 32);

// Region offsets derived from the reserve size; recomputed by Attach to check
// that a header is consistent with itself.
struct HeapLayout {
  size_t reserve_bytes;
  size_t entries_offset;
  size_t descs_offset;
  size_t data_offset;
  uint32_t total_pages;

  // Largest layout that fits reserve_bytes, with the header of header_bytes.
  static constexpr HeapLayout For(size_t reserve_bytes, size_t header_bytes) {
    HeapLayout l{};
    l.reserve_bytes = reserve_bytes;
    l.entries_offset = RoundUp(header_bytes, kHeapPageSize);
    const size_t per_page = kHeapPageSize + sizeof(PageEntry) + sizeof(SpanDesc);
    const size_t avail = reserve_bytes > l.entries_offset + 3 * kHeapPageSize
                             ? reserve_bytes - l.entries_offset - 3 * kHeapPageSize
                             : 0;
    size_t pages = avail / per_page;
    if (pages > UINT32_MAX - 1) pages = UINT32_MAX - 1;
    l.total_pages = static_cast<uint32_t>(pages);
    l.descs_offset = RoundUp(l.entries_offset + pages * sizeof(PageEntry), kHeapPageSize);
    l.data_offset = RoundUp(l.descs_offset + pages * sizeof(SpanDesc), kHeapPageSize);
    return l;
  }

  static constexpr size_t RoundUp(size_t n, size_t align) { return (n + align - 1) & ~(align - 1); }
};

}  // namespace respct::heap
