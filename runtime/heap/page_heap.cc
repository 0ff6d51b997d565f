#include "runtime/heap/page_heap.h"

#include <sys/mman.h>

#include <atomic>

#include "runtime/heap/fatal_error.h"

namespace respct::heap {
namespace {
std::atomic<PageHeap::ReleaseObserver> g_release_observer{nullptr};
}  // namespace

void PageHeap::SetReleaseObserver(ReleaseObserver observer) {
  g_release_observer.store(observer, std::memory_order_release);
}

void PageHeap::Format(PageEntry* entries, SpanDesc* descs, uintptr_t data_begin,
                      uint32_t total_pages) {
  lock_.Reset();
  generation_ = 1;
  entries_ = entries;
  descs_ = descs;
  data_begin_ = data_begin;
  total_pages_ = total_pages;
  frontier_ = 0;
  for (uint32_t& b : bins_) b = 0;
  large_bytes_in_use_ = 0;
  large_allocations_ = 0;
  released_bytes_ = 0;
}

void PageHeap::ResetAfterRestore() {
  lock_.Reset();
  if (++generation_ == 0) generation_ = 1;
}

SpanGrant PageHeap::Allocate(uint32_t num_pages, size_t align_bytes, SpanState state,
                             uint8_t size_class) {
  const size_t extra_pages = align_bytes > kHeapPageSize ? align_bytes / kHeapPageSize - 1 : 0;
  if (num_pages == 0 || extra_pages >= total_pages_ || num_pages > total_pages_ - extra_pages) {
    return {kNoPage, false};
  }
  const uint32_t extra = static_cast<uint32_t>(extra_pages);
  FutexLockGuard guard(lock_);
  SpanGrant g = TakeSpanLocked(num_pages + extra);
  if (g.first_page == kNoPage) return g;
  const uintptr_t addr = PageAddress(g.first_page);
  const uintptr_t aligned = (addr + align_bytes - 1) & ~(uintptr_t{align_bytes} - 1);
  const uint32_t lead = static_cast<uint32_t>((aligned - addr) >> kHeapPageShift);
  if (lead != 0) FreeLocked(g.first_page, lead, g.zeroed);
  const uint32_t first = g.first_page + lead;
  MarkSpan(first, num_pages, state);
  descs_[first].size_class = size_class;
  if (extra > lead) FreeLocked(first + num_pages, extra - lead, g.zeroed);
  if (state == SpanState::kLarge) {
    large_bytes_in_use_ += uint64_t{num_pages} << kHeapPageShift;
    ++large_allocations_;
  }
  return {first, g.zeroed};
}

void PageHeap::Free(uint32_t first_page) {
  FutexLockGuard guard(lock_);
  FreeLocked(first_page, descs_[first_page].num_pages, false);
}

void PageHeap::FreeLarge(void* p) {
  const uint32_t page = PageOf(p);
  uint32_t num_pages;
  {
    FutexLockGuard guard(lock_);
    SpanDesc& d = descs_[page];
    if (PageAddress(page) != reinterpret_cast<uintptr_t>(p) || d.state != SpanState::kLarge) {
      AbortOnHeapMisuse(d.state == SpanState::kFree || d.state == SpanState::kReleasing
                            ? "double free of a large block"
                            : "free of a pointer that is not the start of a block",
                        p);
    }
    num_pages = d.num_pages;
    large_bytes_in_use_ -= uint64_t{num_pages} << kHeapPageShift;
    --large_allocations_;
    if (num_pages < kReleasePages) {
      FreeLocked(page, num_pages, false);
      return;
    }
    // Keep other threads' allocations going while the kernel drops the
    // pages; the state still rejects a concurrent double free.
    d.state = SpanState::kReleasing;
  }
  if (ReleaseObserver observe = g_release_observer.load(std::memory_order_acquire); observe != nullptr)
    observe(p, size_t{num_pages} << kHeapPageShift);
  madvise(p, size_t{num_pages} << kHeapPageShift, MADV_DONTNEED);
  FutexLockGuard guard(lock_);
  released_bytes_ += uint64_t{num_pages} << kHeapPageShift;
  // Zero in this process; the image follows only if the dirty tracker
  // reports the dropped pages (the mprotect tracker does, through the release
  // observer), so it may still hold what a page last held. A calloc served from it unwritten would read those old bytes
  // after a recovery; marking it not-zeroed makes that calloc write its zeros.
  FreeLocked(page, num_pages, false);
}

uint32_t PageHeap::LargePages(const void* p) {
  const uint32_t page = PageOf(p);
  FutexLockGuard guard(lock_);
  const SpanDesc& d = descs_[page];
  if (PageAddress(page) != reinterpret_cast<uintptr_t>(p) || d.state != SpanState::kLarge) return 0;
  return d.num_pages;
}

PageHeap::Counters PageHeap::ReadCounters() {
  FutexLockGuard guard(lock_);
  return {frontier_, large_bytes_in_use_, large_allocations_, released_bytes_};
}

SpanGrant PageHeap::TakeSpanLocked(uint32_t num_pages) {
  uint32_t found = kNoPage;
  for (uint32_t b = (num_pages < kNumBins ? num_pages : kNumBins) - 1; b + 1 < kNumBins; ++b) {
    if (bins_[b] != 0) {
      found = bins_[b] - 1;
      break;
    }
  }
  if (found == kNoPage) {
    // Best fit among the long spans, stopping at an exact fit.
    for (uint32_t link = bins_[kNumBins - 1]; link != 0; link = descs_[link - 1].next) {
      const uint32_t n = descs_[link - 1].num_pages;
      if (n >= num_pages && (found == kNoPage || n < descs_[found].num_pages)) {
        found = link - 1;
        if (n == num_pages) break;
      }
    }
  }
  if (found == kNoPage) {
    if (total_pages_ - frontier_ < num_pages) return {kNoPage, false};
    const uint32_t first = frontier_;
    frontier_ += num_pages;
    return {first, true};  // never handed out: still the kernel's zero pages
  }
  RemoveFree(found);
  const uint32_t have = descs_[found].num_pages;
  const bool zeroed = IsZeroed(descs_[found]);
  UnmarkSpan(found, have);
  if (have > num_pages) FreeLocked(found + num_pages, have - num_pages, zeroed);
  return {found, zeroed};
}

void PageHeap::FreeLocked(uint32_t first, uint32_t num_pages, bool zeroed) {
  UnmarkSpan(first, num_pages);
  if (first > 0) {
    const SpanDesc& left = descs_[first - 1];
    uint32_t left_first = kNoPage;
    if (left.state == SpanState::kFree) left_first = first - 1;
    if (left.state == SpanState::kFreeLast) left_first = left.first_page;
    if (left_first != kNoPage) {
      const uint32_t n = descs_[left_first].num_pages;
      zeroed = zeroed && IsZeroed(descs_[left_first]);
      RemoveFree(left_first);
      UnmarkSpan(left_first, n);
      first = left_first;
      num_pages += n;
    }
  }
  const uint32_t right = first + num_pages;
  if (right < frontier_ && descs_[right].state == SpanState::kFree) {
    const uint32_t n = descs_[right].num_pages;
    zeroed = zeroed && IsZeroed(descs_[right]);
    RemoveFree(right);
    UnmarkSpan(right, n);
    num_pages += n;
  }
  MarkSpan(first, num_pages, SpanState::kFree);
  descs_[first].zero_generation = zeroed ? generation_ : 0;
  InsertFree(first);
}

void PageHeap::MarkSpan(uint32_t first, uint32_t num_pages, SpanState state) {
  SpanDesc& d = descs_[first];
  d.first_page = first;
  d.num_pages = num_pages;
  d.prev = 0;
  d.next = 0;
  d.free_blocks = nullptr;
  d.carved = 0;
  d.allocated = 0;
  d.state = state;
  d.size_class = 0;
  if (state == SpanState::kFree && num_pages > 1) {
    SpanDesc& last = descs_[first + num_pages - 1];
    last.first_page = first;
    last.num_pages = num_pages;
    last.state = SpanState::kFreeLast;
  }
}

void PageHeap::UnmarkSpan(uint32_t first, uint32_t num_pages) {
  descs_[first].state = SpanState::kNone;
  if (num_pages > 1) descs_[first + num_pages - 1].state = SpanState::kNone;
}

void PageHeap::InsertFree(uint32_t first) {
  uint32_t& head = BinHead(descs_[first].num_pages);
  descs_[first].prev = 0;
  descs_[first].next = head;
  if (head != 0) descs_[head - 1].prev = first + 1;
  head = first + 1;
}

void PageHeap::RemoveFree(uint32_t first) {
  SpanDesc& d = descs_[first];
  if (d.prev != 0) {
    descs_[d.prev - 1].next = d.next;
  } else {
    BinHead(d.num_pages) = d.next;
  }
  if (d.next != 0) descs_[d.next - 1].prev = d.prev;
  d.prev = 0;
  d.next = 0;
}

}  // namespace respct::heap
