#include "runtime/heap/central_free_list.h"

#include "runtime/heap/fatal_error.h"

namespace respct::heap {

namespace {

uint32_t BlocksPerSpan(unsigned size_class) {
  return static_cast<uint32_t>(kSizeClasses.span_pages[size_class] * kHeapPageSize /
                               kSizeClasses.block_size[size_class]);
}

bool HasBlocks(const SpanDesc& d, uint32_t per_span) {
  return d.free_blocks != nullptr || d.carved < per_span;
}

}  // namespace

BlockChain CentralFreeList::Remove(PageHeap& pages, unsigned size_class, uint32_t max_blocks) {
  const uint32_t per_span = BlocksPerSpan(size_class);
  const uint32_t size = kSizeClasses.block_size[size_class];
  BlockChain chain{nullptr, nullptr, 0};
  FutexLockGuard guard(lock_);
  while (chain.count < max_blocks) {
    if (has_blocks_head_ == 0 && NewSpanLocked(pages, size_class) == kNoPage) break;
    const uint32_t first = has_blocks_head_ - 1;
    SpanDesc& d = pages.Desc(first);
    const uintptr_t span_begin = pages.PageAddress(first);
    while (chain.count < max_blocks && HasBlocks(d, per_span)) {
      void* block;
      if (d.free_blocks != nullptr) {
        block = d.free_blocks;
        d.free_blocks = *static_cast<void**>(block);
      } else {
        block = reinterpret_cast<void*>(span_begin + uintptr_t{d.carved} * size);
        ++d.carved;
      }
      ++d.allocated;
      if (chain.tail == nullptr) {
        chain.head = block;
      } else {
        *static_cast<void**>(chain.tail) = block;
      }
      chain.tail = block;
      ++chain.count;
    }
    if (!HasBlocks(d, per_span)) UnlinkSpan(pages, first);
  }
  if (chain.tail != nullptr) *static_cast<void**>(chain.tail) = nullptr;
  blocks_out_ += chain.count;
  return chain;
}

void CentralFreeList::Insert(PageHeap& pages, unsigned size_class, void* head, uint32_t count) {
  const uint32_t per_span = BlocksPerSpan(size_class);
  FutexLockGuard guard(lock_);
  blocks_out_ -= count;
  void* block = head;
  for (uint32_t i = 0; i < count; ++i) {
    void* next = *static_cast<void**>(block);
    const uint32_t page = pages.PageOf(block);
    const uint32_t first = page - pages.entries()[page].page_in_span;
    SpanDesc& d = pages.Desc(first);
    if (d.allocated == 0) AbortOnHeapMisuse("double free of a small block", block);
    const bool had_blocks = HasBlocks(d, per_span);
    *static_cast<void**>(block) = d.free_blocks;
    d.free_blocks = block;
    --d.allocated;
    if (!had_blocks) LinkSpan(pages, first);
    if (d.allocated == 0 && span_count_ > 1) ReleaseSpanLocked(pages, first, size_class);
    block = next;
  }
}

uint32_t CentralFreeList::NewSpanLocked(PageHeap& pages, unsigned size_class) {
  const uint32_t num_pages = kSizeClasses.span_pages[size_class];
  const SpanGrant g = pages.Allocate(num_pages, kHeapPageSize, SpanState::kSmall,
                                     static_cast<uint8_t>(size_class));
  if (g.first_page == kNoPage) return kNoPage;
  PageEntry* entries = pages.entries();
  for (uint32_t i = 0; i < num_pages; ++i) {
    entries[g.first_page + i] = {static_cast<uint8_t>(size_class + 1), 0, static_cast<uint16_t>(i)};
  }
  ++span_count_;
  LinkSpan(pages, g.first_page);
  return g.first_page;
}

void CentralFreeList::ReleaseSpanLocked(PageHeap& pages, uint32_t first, unsigned size_class) {
  UnlinkSpan(pages, first);
  const uint32_t num_pages = kSizeClasses.span_pages[size_class];
  PageEntry* entries = pages.entries();
  for (uint32_t i = 0; i < num_pages; ++i) entries[first + i] = {0, 0, 0};
  --span_count_;
  pages.Free(first);
}

void CentralFreeList::LinkSpan(PageHeap& pages, uint32_t first) {
  SpanDesc& d = pages.Desc(first);
  d.prev = 0;
  d.next = has_blocks_head_;
  if (has_blocks_head_ != 0) pages.Desc(has_blocks_head_ - 1).prev = first + 1;
  has_blocks_head_ = first + 1;
}

void CentralFreeList::UnlinkSpan(PageHeap& pages, uint32_t first) {
  SpanDesc& d = pages.Desc(first);
  if (d.prev != 0) {
    pages.Desc(d.prev - 1).next = d.next;
  } else {
    has_blocks_head_ = d.next;
  }
  if (d.next != 0) pages.Desc(d.next - 1).prev = d.prev;
  d.prev = 0;
  d.next = 0;
}

}  // namespace respct::heap
