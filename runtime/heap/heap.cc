#include "runtime/heap/heap.h"

#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "runtime/base/page.h"
#include "runtime/heap/fatal_error.h"

namespace respct::heap {

constinit thread_local ThreadBinding tls_thread_bindings[kMaxHeapInstances]
    __attribute__((tls_model("initial-exec")));

namespace {

// Process-local registry of live heap instances: base address per index (0 =
// free). Constant-initialised, so usable before any constructor runs.
std::atomic<uintptr_t> g_instance_base[kMaxHeapInstances];
// Generation 0 never names a live instance: it marks an unbound thread.
std::atomic<uint64_t> g_next_generation{1};

// Error messages only: these allocate, which is acceptable on failure paths
// of Create/Attach/BindThreadSlot, never reached from malloc or free.
std::string Hex(uintptr_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIxPTR, v);
  return buf;
}

std::string HeapAt(uintptr_t base) { return "heap at " + Hex(base) + ": "; }

bool IsMapped(uintptr_t page_addr) {
  unsigned char resident;
  return mincore(reinterpret_cast<void*>(PageDown(page_addr)), 1, &resident) == 0;
}

}  // namespace

Result<Heap*> Heap::Create(void* base, size_t reserve_bytes) {
  const uintptr_t b = reinterpret_cast<uintptr_t>(base);
  if (b == 0 || b % kHeapPageSize != 0) {
    return Status::InvalidArgument(HeapAt(b) + "base must be a non-null multiple of " +
                                   std::to_string(kHeapPageSize));
  }
  if (reserve_bytes < kMinReserveBytes) {
    return Status::InvalidArgument(HeapAt(b) + "reserve of " + std::to_string(reserve_bytes) +
                                   " bytes is below the minimum of " +
                                   std::to_string(kMinReserveBytes));
  }
  reserve_bytes = HeapLayout::RoundUp(reserve_bytes, kHeapPageSize);
  void* m = mmap(base, reserve_bytes, PROT_READ | PROT_WRITE,
                 MAP_FIXED_NOREPLACE | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    const int err = errno;
    if (err == EEXIST) {
      return Status::FailedPrecondition(HeapAt(b) + "range [" + Hex(b) + ", " +
                                        Hex(b + reserve_bytes) +
                                        ") overlaps an existing mapping");
    }
    return Status::FromErrno(HeapAt(b) + "mmap of " + std::to_string(reserve_bytes) + " bytes", err);
  }
  if (m != base) {
    // A kernel older than 4.17 treats MAP_FIXED_NOREPLACE as a mere hint.
    munmap(m, reserve_bytes);
    return Status::FailedPrecondition(HeapAt(b) + "kernel placed the region at " +
                                      Hex(reinterpret_cast<uintptr_t>(m)));
  }
  // Heap is trivial: placement default-initialisation writes nothing, so the
  // untouched parts of the header (cache slots, central lists) stay on the
  // kernel's zero page until used.
  Heap* heap = new (base) Heap;
  heap->Format(HeapLayout::For(reserve_bytes, sizeof(Heap)));
  Status st = heap->Register();
  if (!st.ok()) {
    munmap(base, reserve_bytes);
    return st;
  }
  return heap;
}

Result<Heap*> Heap::Attach(void* base) {
  const uintptr_t b = reinterpret_cast<uintptr_t>(base);
  if (b == 0 || b % kHeapPageSize != 0) {
    return Status::InvalidArgument(HeapAt(b) + "base must be a non-null multiple of " +
                                   std::to_string(kHeapPageSize));
  }
  if (!IsMapped(b)) {
    return Status::FailedPrecondition(HeapAt(b) +
                                      "nothing is mapped there; map the region and restore "
                                      "its bytes before attaching");
  }
  Heap* heap = static_cast<Heap*>(base);
  if (heap->magic_ != kMagic) {
    return Status::Corruption(HeapAt(b) + "bad magic " + Hex(heap->magic_) +
                              " (not a formatted respct heap)");
  }
  if (heap->version_ != kVersion) {
    return Status::Corruption(HeapAt(b) + "format version " + std::to_string(heap->version_) +
                              ", this build reads version " + std::to_string(kVersion));
  }
  if (heap->header_bytes_ != sizeof(Heap)) {
    return Status::Corruption(HeapAt(b) + "header is " + std::to_string(heap->header_bytes_) +
                              " bytes, this build expects " + std::to_string(sizeof(Heap)));
  }
  if (heap->base_address_ != b) {
    return Status::Corruption(HeapAt(b) + "image was formatted for address " +
                              Hex(heap->base_address_));
  }
  const HeapLayout& l = heap->layout_;
  const HeapLayout want = HeapLayout::For(l.reserve_bytes, sizeof(Heap));
  if (l.reserve_bytes < kMinReserveBytes || l.entries_offset != want.entries_offset ||
      l.descs_offset != want.descs_offset || l.data_offset != want.data_offset ||
      l.total_pages != want.total_pages || heap->data_begin_ != b + want.data_offset ||
      heap->data_bytes_ != size_t{want.total_pages} * kHeapPageSize ||
      reinterpret_cast<uintptr_t>(heap->entries_) != b + want.entries_offset) {
    return Status::Corruption(HeapAt(b) + "layout fields are inconsistent with its size of " +
                              std::to_string(l.reserve_bytes) + " bytes");
  }
  if (!IsMapped(b + l.reserve_bytes - 1)) {
    return Status::FailedPrecondition(HeapAt(b) + "region is " + std::to_string(l.reserve_bytes) +
                                      " bytes but its end is not mapped");
  }
  RESPCT_RETURN_IF_ERROR(heap->Register());
  heap->ResetAfterRestore();
  return heap;
}

Status Heap::Destroy(Heap* heap) {
  const uintptr_t b = heap->base();
  const size_t reserve = heap->layout_.reserve_bytes;
  g_instance_base[heap->instance_index_].store(0, std::memory_order_release);
  if (munmap(heap, reserve) != 0) return Status::FromErrno(HeapAt(b) + "munmap", errno);
  return Status::OK();
}

void Heap::Format(const HeapLayout& layout) {
  const uintptr_t b = base();
  magic_ = kMagic;
  version_ = kVersion;
  header_bytes_ = sizeof(Heap);
  base_address_ = b;
  layout_ = layout;
  data_begin_ = b + layout.data_offset;
  data_bytes_ = size_t{layout.total_pages} * kHeapPageSize;
  entries_ = reinterpret_cast<PageEntry*>(b + layout.entries_offset);
  next_slot_hint_ = 0;
  page_heap_.Format(entries_, reinterpret_cast<SpanDesc*>(b + layout.descs_offset), data_begin_,
                    layout.total_pages);
}

void Heap::ResetAfterRestore() {
  page_heap_.ResetAfterRestore();
  for (CentralFreeList& c : central_) c.lock().Reset();
  for (ThreadCache& tc : slots_) {
    uint32_t owned = static_cast<uint32_t>(SlotState::kOwned);
    tc.state_word().compare_exchange_strong(owned, static_cast<uint32_t>(SlotState::kOrphaned),
                                            std::memory_order_relaxed);
  }
}

Status Heap::Register() {
  const uintptr_t b = base();
  for (const auto& slot : g_instance_base) {
    if (slot.load(std::memory_order_acquire) == b) {
      return Status::FailedPrecondition(HeapAt(b) + "already created or attached in this process");
    }
  }
  for (unsigned i = 0; i < kMaxHeapInstances; ++i) {
    uintptr_t expected = 0;
    if (g_instance_base[i].compare_exchange_strong(expected, b, std::memory_order_acq_rel)) {
      instance_index_ = i;
      instance_generation_ = g_next_generation.fetch_add(1, std::memory_order_relaxed);
      return Status::OK();
    }
  }
  return Status::ResourceExhausted(HeapAt(b) + "more than " + std::to_string(kMaxHeapInstances) +
                                   " heaps in one process");
}

void* Heap::MallocSlow(size_t n) noexcept {
  if (n > kMaxSmallSize) return MallocLarge(n, kHeapPageSize, false);
  const unsigned c = SizeClassOf(n);
  ThreadCache* tc = CacheForSlowPath();
  if (tc == nullptr) {
    return central_[c].Remove(page_heap_, c, 1).head;
  }
  FreeList& list = tc->lists[c];
  if (list.head == nullptr) {
    const BlockChain chain = central_[c].Remove(page_heap_, c, kSizeClasses.batch[c]);
    if (chain.head == nullptr) return nullptr;
    list.head = chain.head;
    list.SetCount(chain.count);
  }
  void* block = list.head;
  list.head = *static_cast<void**>(block);
  list.SetCount(list.Count() - 1);
  return block;
}

void Heap::FreeSlow(void* p) noexcept {
  if (p == nullptr) return;
  const uintptr_t offset = reinterpret_cast<uintptr_t>(p) - data_begin_;
  if (offset >= data_bytes_) {
    AbortOnHeapMisuse(Owns(p) ? "free of a pointer into the heap's own metadata"
                              : "free of a pointer this heap did not allocate",
                      p);
  }
  const PageEntry e = entries_[offset >> kHeapPageShift];
  if (e.class_plus_one == 0) {
    page_heap_.FreeLarge(p);
    return;
  }
  const unsigned c = e.class_plus_one - 1u;
  if (!IsBlockStartOffset(c, (offset & (kHeapPageSize - 1)) + (uint64_t{e.page_in_span} << kHeapPageShift))) {
    AbortOnHeapMisuse("free of a pointer that is not the start of a block", p);
  }
  ThreadCache* tc = CacheForSlowPath();
  if (tc == nullptr) {
    central_[c].Insert(page_heap_, c, p, 1);
    return;
  }
  FreeList& list = tc->lists[c];
  if (p == list.head) AbortOnHeapMisuse("double free of a small block", p);
  if (list.Count() >= 2u * kSizeClasses.batch[c]) FlushList(tc, c, kSizeClasses.batch[c]);
  *static_cast<void**>(p) = list.head;
  list.head = p;
  list.SetCount(list.Count() + 1);
}

void* Heap::MallocLarge(size_t n, size_t align, bool zero) noexcept {
  if (n > data_bytes_) return nullptr;
  const uint32_t num_pages = static_cast<uint32_t>((n + kHeapPageSize - 1) >> kHeapPageShift);
  const SpanGrant g = page_heap_.Allocate(num_pages, align, SpanState::kLarge, 0);
  if (g.first_page == kNoPage) return nullptr;
  void* p = reinterpret_cast<void*>(page_heap_.PageAddress(g.first_page));
  if (zero && !g.zeroed) std::memset(p, 0, n);
  return p;
}

void* Heap::AllocatePages(size_t n, size_t align) noexcept {
  if (align < kHeapPageSize || (align & (align - 1)) != 0) return nullptr;
  return MallocLarge(n, align, true);
}

void* Heap::Calloc(size_t count, size_t size) noexcept {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) return nullptr;
  if (n > kMaxSmallSize) return MallocLarge(n, kHeapPageSize, true);
  void* p = Malloc(n);
  if (p != nullptr) std::memset(p, 0, n);
  return p;
}

void* Heap::Realloc(void* p, size_t n) noexcept {
  if (p == nullptr) return Malloc(n);
  if (n == 0) {
    Free(p);
    return nullptr;
  }
  const size_t have = UsableSize(p);
  // Keep the block if it fits and at most half of it would be wasted.
  if (n <= have && n >= have / 2) return p;
  void* q = Malloc(n);
  if (q == nullptr) return nullptr;
  std::memcpy(q, p, n < have ? n : have);
  Free(p);
  return q;
}

void* Heap::Memalign(size_t align, size_t n) noexcept {
  if (align == 0 || (align & (align - 1)) != 0) return nullptr;
  if (align <= kMinAlign) return Malloc(n);
  if (n <= kMaxSmallSize && align <= kHeapPageSize) {
    // Spans start on a page boundary, so every block of a class whose size is
    // a multiple of align is aligned; the power-of-two classes guarantee one.
    for (unsigned c = SizeClassOf(n); c < kNumSizeClasses; ++c) {
      if (kSizeClasses.block_size[c] % align == 0) return Malloc(kSizeClasses.block_size[c]);
    }
  }
  return MallocLarge(n == 0 ? 1 : n, align > kHeapPageSize ? align : kHeapPageSize, false);
}

size_t Heap::UsableSize(const void* p) noexcept {
  if (p == nullptr) return 0;
  return BlockSize(p);
}

size_t Heap::BlockSize(const void* p) {
  const uintptr_t offset = reinterpret_cast<uintptr_t>(p) - data_begin_;
  if (offset >= data_bytes_) AbortOnHeapMisuse("size query of a pointer this heap did not allocate", p);
  const PageEntry e = entries_[offset >> kHeapPageShift];
  if (e.class_plus_one != 0) {
    const unsigned c = e.class_plus_one - 1u;
    if (!IsBlockStartOffset(c, (offset & (kHeapPageSize - 1)) + (uint64_t{e.page_in_span} << kHeapPageShift))) {
      AbortOnHeapMisuse("size query of a pointer that is not the start of a block", p);
    }
    return kSizeClasses.block_size[c];
  }
  const uint32_t pages = page_heap_.LargePages(p);
  if (pages == 0) AbortOnHeapMisuse("size query of a pointer that is not a live block", p);
  return size_t{pages} << kHeapPageShift;
}

ThreadCache* Heap::CacheForSlowPath() {
  ThreadBinding& b = tls_thread_bindings[instance_index_];
  if (b.generation != instance_generation_) {
    b.cache = ClaimFreeSlot();
    b.generation = instance_generation_;
  }
  return b.cache;
}

ThreadCache* Heap::ClaimFreeSlot() {
  std::atomic_ref<uint32_t> hint(next_slot_hint_);
  const uint32_t start = hint.load(std::memory_order_relaxed);
  for (uint32_t i = 0; i < kNumThreadSlots; ++i) {
    const uint32_t s = (start + i) % kNumThreadSlots;
    uint32_t expected = static_cast<uint32_t>(SlotState::kFree);
    if (slots_[s].state_word().compare_exchange_strong(expected,
                                                       static_cast<uint32_t>(SlotState::kOwned),
                                                       std::memory_order_acquire,
                                                       std::memory_order_relaxed)) {
      hint.store((s + 1) % kNumThreadSlots, std::memory_order_relaxed);
      return &slots_[s];
    }
  }
  return nullptr;
}

void Heap::FlushList(ThreadCache* tc, unsigned size_class, uint32_t keep) {
  FreeList& list = tc->lists[size_class];
  if (list.Count() <= keep) return;
  const uint32_t move = list.Count() - keep;
  void* head = list.head;
  void* last = head;
  for (uint32_t i = 1; i < move; ++i) last = *static_cast<void**>(last);
  list.head = *static_cast<void**>(last);
  list.SetCount(keep);
  central_[size_class].Insert(page_heap_, size_class, head, move);
}

void Heap::FlushAllLists(ThreadCache* tc) {
  for (unsigned c = 0; c < kNumSizeClasses; ++c) FlushList(tc, c, 0);
}

void Heap::ReleaseThreadCache() {
  ThreadBinding& b = tls_thread_bindings[instance_index_];
  if (b.generation == instance_generation_ && b.cache != nullptr) {
    FlushAllLists(b.cache);
    b.cache->state_word().store(static_cast<uint32_t>(SlotState::kFree), std::memory_order_release);
  }
  // Stay bound, without a cache: glibc's own thread-exit code still frees
  // memory after the runtime's hook, and those calls must not claim a slot
  // that nobody would release again.
  b.cache = nullptr;
  b.generation = instance_generation_;
}

Status Heap::BindThreadSlot(unsigned slot) {
  if (slot >= kNumThreadSlots) {
    return Status::InvalidArgument(HeapAt(base()) + "thread cache slot " + std::to_string(slot) +
                                   " out of range (" + std::to_string(kNumThreadSlots) + " slots)");
  }
  ThreadBinding& b = tls_thread_bindings[instance_index_];
  ThreadCache* target = &slots_[slot];
  const bool bound = b.generation == instance_generation_;
  if (bound && b.cache == target) return Status::OK();
  uint32_t state = target->state_word().load(std::memory_order_relaxed);
  for (;;) {
    if (state == static_cast<uint32_t>(SlotState::kOwned) ||
        state == static_cast<uint32_t>(SlotState::kAbandoned)) {
      return Status::FailedPrecondition(HeapAt(base()) + "thread cache slot " +
                                        std::to_string(slot) +
                                        (state == static_cast<uint32_t>(SlotState::kOwned)
                                             ? " is owned by another thread"
                                             : " was abandoned by fork"));
    }
    if (target->state_word().compare_exchange_weak(state, static_cast<uint32_t>(SlotState::kOwned),
                                                   std::memory_order_acquire,
                                                   std::memory_order_relaxed)) {
      break;
    }
  }
  if (bound && b.cache != nullptr) {
    FlushAllLists(b.cache);
    b.cache->state_word().store(static_cast<uint32_t>(SlotState::kFree), std::memory_order_release);
  }
  b.cache = target;
  b.generation = instance_generation_;
  return Status::OK();
}

void Heap::FlushOrphanedThreadCaches() {
  for (ThreadCache& tc : slots_) {
    uint32_t orphaned = static_cast<uint32_t>(SlotState::kOrphaned);
    if (tc.state_word().compare_exchange_strong(orphaned, static_cast<uint32_t>(SlotState::kOwned),
                                                std::memory_order_acquire,
                                                std::memory_order_relaxed)) {
      FlushAllLists(&tc);
      tc.state_word().store(static_cast<uint32_t>(SlotState::kFree), std::memory_order_release);
    }
  }
}

int Heap::CurrentThreadSlot() {
  ThreadCache* tc = CurrentCache();
  return tc == nullptr ? -1 : static_cast<int>(tc - slots_);
}

void Heap::PrepareFork() {
  for (CentralFreeList& c : central_) c.lock().Lock();
  page_heap_.lock().Lock();
}

void Heap::ParentAfterFork() {
  page_heap_.lock().Unlock();
  for (unsigned c = kNumSizeClasses; c-- > 0;) central_[c].lock().Unlock();
}

void Heap::ChildAfterFork() {
  page_heap_.lock().Reset();
  for (CentralFreeList& c : central_) c.lock().Reset();
  // Only the forking thread exists in the child. The others may have been in
  // the middle of a cache fast path (a half-linked list), so their slots are
  // never touched again: their cached blocks are leaked in the child.
  ThreadCache* mine = CurrentCache();
  for (ThreadCache& tc : slots_) {
    if (&tc == mine) continue;
    uint32_t owned = static_cast<uint32_t>(SlotState::kOwned);
    tc.state_word().compare_exchange_strong(owned, static_cast<uint32_t>(SlotState::kAbandoned),
                                            std::memory_order_relaxed);
  }
}

void Heap::ReadStats(HeapStats* out) {
  const PageHeap::Counters pc = page_heap_.ReadCounters();
  out->reserved_bytes = layout_.reserve_bytes;
  out->mapped_bytes = layout_.entries_offset +
                      HeapLayout::RoundUp(uint64_t{pc.frontier_pages} * sizeof(PageEntry), kHeapPageSize) +
                      HeapLayout::RoundUp(uint64_t{pc.frontier_pages} * sizeof(SpanDesc), kHeapPageSize) +
                      (uint64_t{pc.frontier_pages} << kHeapPageShift);
  out->released_bytes = pc.released_bytes;
  out->large_bytes_in_use = pc.large_bytes_in_use;
  out->large_allocations = pc.large_allocations;
  out->small_bytes_in_use = 0;
  for (unsigned c = 0; c < kNumSizeClasses; ++c) {
    const CentralFreeList::Counters cc = central_[c].ReadCounters();
    uint64_t cached = 0;
    for (const ThreadCache& tc : slots_) cached += tc.lists[c].Count();
    SizeClassStats& s = out->classes[c];
    s.block_size = kSizeClasses.block_size[c];
    s.blocks_in_use = cc.blocks_out > cached ? cc.blocks_out - cached : 0;
    s.spans = cc.spans;
    out->small_bytes_in_use += s.blocks_in_use * s.block_size;
  }
  out->bytes_in_use = out->small_bytes_in_use + out->large_bytes_in_use;
}

unsigned Heap::WrittenRanges(ByteRange out[4]) {
  const uint64_t pages = page_heap_.ReadCounters().frontier_pages;
  const uintptr_t b = base();
  out[0] = {b, layout_.entries_offset};
  out[1] = {b + layout_.entries_offset, HeapLayout::RoundUp(pages * sizeof(PageEntry), kHeapPageSize)};
  out[2] = {b + layout_.descs_offset, HeapLayout::RoundUp(pages * sizeof(SpanDesc), kHeapPageSize)};
  out[3] = {data_begin_, pages << kHeapPageShift};
  return 4;
}

}  // namespace respct::heap
