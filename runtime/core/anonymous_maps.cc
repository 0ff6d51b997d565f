#include "runtime/core/anonymous_maps.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "runtime/base/page.h"
#include "runtime/core/current_thread.h"
#include "runtime/core/layout.h"
#include "runtime/core/shim_log.h"
#include "runtime/heap/futex_lock.h"

namespace respct::core {
namespace {

// Table layout (one heap block, reallocated twice as large when full):
//   MapsTable header, then `capacity` MapEntry sorted by begin, never
//   overlapping. Several entries may lie in one heap block (a mapping whose
//   middle was unmapped); the block goes back to the heap when none does.
struct MapEntry {
  uintptr_t begin;  // page-aligned
  uintptr_t end;    // page-aligned, > begin
  uintptr_t block;  // the heap block the range lies in
};

struct MapsTable {
  static constexpr uint64_t kMagic = 0x3150414d4e4e4121;  // "!ANNMAP1"
  uint64_t magic;
  uint32_t count;
  uint32_t capacity;
  // The program break (Brk/Sbrk): [break_begin, break_cur) is in use, the
  // area is kBreakBytes long. break_begin == 0 until the first call.
  uintptr_t break_begin;
  uintptr_t break_cur;
  MapEntry entries[];
};

constexpr uint32_t kInitialCapacity = 256;
constexpr size_t kHugeAlign = size_t{2} << 20;
constexpr int kReadWrite = PROT_READ | PROT_WRITE;

heap::Heap* g_heap = nullptr;
uint64_t* g_root = nullptr;
KernelMemoryCalls g_kernel{};
heap::FutexLock g_lock{};
std::atomic<bool> g_warned_protect{false};
std::atomic<bool> g_warned_full{false};
std::atomic<bool> g_warned_fixed{false};
std::atomic<bool> g_warned_remap{false};

// Holds the lock and keeps the thread from parking (a checkpoint taken in
// the middle of an update would hold a half-written table).
class Locked {
 public:
  Locked() { g_lock.Lock(); }
  ~Locked() { g_lock.Unlock(); }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;

 private:
  RuntimeScope scope_;
};

void WarnOnce(std::atomic<bool>* flag, const char* fmt, unsigned long long a, unsigned long long b) {
  if (!flag->exchange(true)) ShimLog(kLogWarn, fmt, a, b);
}


MapsTable* Table() { return reinterpret_cast<MapsTable*>(*g_root); }

bool InHeap(uintptr_t a) { return g_heap->Owns(reinterpret_cast<void*>(a)); }

// The part of [lo, hi) inside the heap region, possibly empty.
void ClipToHeap(uintptr_t lo, uintptr_t hi, uintptr_t* clo, uintptr_t* chi) {
  const uintptr_t hb = g_heap->base(), he = hb + g_heap->reserve_bytes();
  *clo = std::max(lo, hb);
  *chi = std::min(hi, he);
  if (*chi < *clo) *chi = *clo;
}

// Index of the first entry whose end is above `a`.
uint32_t FirstEndingAfter(const MapsTable* t, uintptr_t a) {
  uint32_t lo = 0, hi = t->count;
  while (lo < hi) {
    const uint32_t mid = (lo + hi) / 2;
    if (t->entries[mid].end <= a) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

MapsTable* Grow(MapsTable* t) {
  const uint32_t cap = t == nullptr ? kInitialCapacity : t->capacity * 2;
  auto* n = static_cast<MapsTable*>(g_heap->Malloc(sizeof(MapsTable) + sizeof(MapEntry) * cap));
  if (n == nullptr) return nullptr;
  if (t != nullptr) {
    std::memcpy(n, t, sizeof(MapsTable) + sizeof(MapEntry) * t->count);
  } else {
    *n = MapsTable{MapsTable::kMagic, 0, 0, 0, 0};
  }
  n->capacity = cap;
  *g_root = reinterpret_cast<uint64_t>(n);
  if (t != nullptr) g_heap->Free(t);
  return n;
}

// Inserts at its sorted place; false when the table cannot grow.
bool Insert(const MapEntry& e) {
  MapsTable* t = Table();
  if (t == nullptr || t->count == t->capacity) {
    t = Grow(t);
    if (t == nullptr) return false;
  }
  const uint32_t i = FirstEndingAfter(t, e.begin);
  std::memmove(&t->entries[i + 1], &t->entries[i], sizeof(MapEntry) * (t->count - i));
  t->entries[i] = e;
  ++t->count;
  return true;
}

void Erase(MapsTable* t, uint32_t i) {
  std::memmove(&t->entries[i], &t->entries[i + 1], sizeof(MapEntry) * (t->count - i - 1));
  --t->count;
}

bool BlockReferenced(const MapsTable* t, uintptr_t block) {
  for (uint32_t i = 0; i < t->count; ++i)
    if (t->entries[i].block == block) return true;
  return false;
}

// The block holding `a` among the live entries, or 0.
uintptr_t BlockAround(const MapsTable* t, uintptr_t a, uintptr_t* block_end) {
  for (uint32_t i = 0; i < t->count; ++i) {
    const uintptr_t b = t->entries[i].block;
    const uintptr_t e = b + g_heap->UsableSize(reinterpret_cast<void*>(b));
    if (a >= b && a < e) {
      *block_end = e;
      return b;
    }
  }
  return 0;
}

// Removes [lo, hi) (page-aligned, inside the heap) from the table, one
// overlapping entry at a time; a block left without an entry goes back to the
// heap, except `keep_block` (MAP_FIXED re-maps part of it at once). False,
// with nothing of the current entry changed, when splitting an entry in two
// needs a table slot that cannot be had (munmap's ENOMEM). Locked.
bool UnmapLocked(uintptr_t lo, uintptr_t hi, uintptr_t keep_block) {
  while (lo < hi) {
    MapsTable* t = Table();
    if (t == nullptr) return true;
    const uint32_t i = FirstEndingAfter(t, lo);
    if (i == t->count || t->entries[i].begin >= hi) return true;
    const MapEntry e = t->entries[i];
    const uintptr_t cut_lo = std::max(e.begin, lo), cut_hi = std::min(e.end, hi);
    const bool head = e.begin < cut_lo, tail = cut_hi < e.end;
    if (head && tail) {
      t->entries[i].end = cut_lo;  // first, so the tail sorts after it
      if (!Insert(MapEntry{cut_hi, e.end, e.block})) {
        Table()->entries[i].end = e.end;
        return false;
      }
      t = Table();
    } else if (head) {
      t->entries[i].end = cut_lo;
    } else if (tail) {
      t->entries[i].begin = cut_hi;
    } else {
      Erase(t, i);
    }
    // The pages go back to the kernel; whoever hands this memory out again
    // (AllocatePages, MAP_FIXED, mremap) writes its zeros first.
    (void)g_kernel.madvise(reinterpret_cast<void*>(cut_lo), cut_hi - cut_lo, MADV_DONTNEED);
    if (!head && !tail && e.block != keep_block && !BlockReferenced(t, e.block))
      g_heap->Free(reinterpret_cast<void*>(e.block));
    lo = cut_hi;
  }
  return true;
}

// The entry that covers all of [lo, hi), or null.
MapEntry* Covering(MapsTable* t, uintptr_t lo, uintptr_t hi) {
  if (t == nullptr) return nullptr;
  const uint32_t i = FirstEndingAfter(t, lo);
  if (i == t->count || t->entries[i].begin > lo || t->entries[i].end < hi) return nullptr;
  return &t->entries[i];
}

// Whether any entry overlaps [lo, hi).
bool Overlaps(const MapsTable* t, uintptr_t lo, uintptr_t hi) {
  if (t == nullptr) return false;
  const uint32_t i = FirstEndingAfter(t, lo);
  return i < t->count && t->entries[i].begin < hi;
}

void* MapFresh(size_t len) {
  const size_t align = len >= kHugeAlign ? kHugeAlign : heap::kHeapPageSize;
  void* p = g_heap->AllocatePages(len, align);
  if (p == nullptr) return nullptr;
  const auto b = reinterpret_cast<uintptr_t>(p);
  if (!Insert(MapEntry{b, b + len, b})) {
    g_heap->Free(p);
    return nullptr;
  }
  return p;
}

// A mapping the heap can stand for: private, anonymous, read-write. (With
// MAP_ANONYMOUS the kernel ignores fd and offset.)
bool Servable(int prot, int flags) {
  constexpr int kUnsupported = MAP_GROWSDOWN | MAP_HUGETLB;
  return (flags & MAP_ANONYMOUS) != 0 && (flags & MAP_TYPE) == MAP_PRIVATE && (flags & kUnsupported) == 0 &&
         prot == kReadWrite;
}

// Mappings above a quarter of the heap go to the kernel: a sparse
// MAP_NORESERVE table of that size would leave the program's malloc no room.
bool FitsHeap(size_t len) { return len <= g_heap->reserve_bytes() / 4; }

}  // namespace

KernelMemoryCalls SystemMemoryCalls() {
  return KernelMemoryCalls{
      [](void* addr, size_t len, int prot, int flags, int fd, off_t off) {
        return reinterpret_cast<void*>(syscall(SYS_mmap, addr, len, prot, flags, fd, off));
      },
      [](void* addr, size_t len) { return static_cast<int>(syscall(SYS_munmap, addr, len)); },
      [](void* addr, size_t len, int advice) { return static_cast<int>(syscall(SYS_madvise, addr, len, advice)); },
      [](void* addr, size_t len, int prot) { return static_cast<int>(syscall(SYS_mprotect, addr, len, prot)); },
  };
}

void AnonymousMaps::Install(heap::Heap* heap, uint64_t* root, const KernelMemoryCalls& kernel) {
  g_kernel = kernel;
  g_root = root;
  const MapsTable* t = reinterpret_cast<const MapsTable*>(*root);
  if (t != nullptr && (!heap->Owns(t) || t->magic != MapsTable::kMagic)) {
    ShimLog(kLogError, "the image's table of anonymous mappings is damaged (at %p); they are lost", t);
    *root = 0;
  }
  std::atomic_thread_fence(std::memory_order_release);
  __atomic_store_n(&g_heap, heap, __ATOMIC_RELEASE);
}

bool AnonymousMaps::Installed() { return __atomic_load_n(&g_heap, __ATOMIC_ACQUIRE) != nullptr; }

void* AnonymousMaps::Map(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  const auto a = reinterpret_cast<uintptr_t>(addr);
  const bool fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) != 0;
  if (len == 0) {
    errno = EINVAL;
    return MAP_FAILED;
  }
  const size_t plen = PageUp(len);
  if (fixed) {
    uintptr_t clo, chi;
    ClipToHeap(a, a + plen, &clo, &chi);
    if (clo == chi) return g_kernel.mmap(addr, len, prot, flags, fd, off);  // not ours: the kernel's
    if ((flags & MAP_FIXED_NOREPLACE) != 0) {
      errno = EEXIST;
      return MAP_FAILED;
    }
    // MAP_FIXED over the heap: only a fresh read-write anonymous range over
    // the block of one of our mappings can be honoured (it is zeroed in
    // place); anything else would replace memory the heap owns.
    Locked lock;
    uintptr_t block_end = 0;
    const uintptr_t block = Table() == nullptr ? 0 : BlockAround(Table(), a, &block_end);
    if (!Servable(prot, flags) || (a & (kPageSize - 1)) != 0 || clo != a || chi != a + plen || block == 0 ||
        a + plen > block_end) {
      WarnOnce(&g_warned_fixed,
               "mmap(MAP_FIXED) at %#llx (%llu bytes) over persisted memory refused: only a read-write anonymous "
               "mapping over the program's own mapping can replace it",
               static_cast<unsigned long long>(a), static_cast<unsigned long long>(plen));
      errno = ENOMEM;
      return MAP_FAILED;
    }
    if (!UnmapLocked(a, a + plen, block)) {
      errno = ENOMEM;
      return MAP_FAILED;
    }
    std::memset(addr, 0, plen);
    if (!Insert(MapEntry{a, a + plen, block})) {
      errno = ENOMEM;
      return MAP_FAILED;
    }
    return addr;
  }
  if (!Servable(prot, flags)) return g_kernel.mmap(addr, len, prot, flags, fd, off);
  void* p = nullptr;
  if (FitsHeap(plen)) {
    Locked lock;
    p = MapFresh(plen);
  }
  if (p != nullptr) return p;
  WarnOnce(&g_warned_full,
           "an anonymous mapping of %llu bytes does not fit a quarter of the persisted heap (%llu bytes; "
           "--heap-size): it and any like it are NOT persisted",
           static_cast<unsigned long long>(plen), static_cast<unsigned long long>(g_heap->reserve_bytes()));
  return g_kernel.mmap(addr, len, prot, flags, fd, off);
}

int AnonymousMaps::Unmap(void* addr, size_t len) {
  const auto a = reinterpret_cast<uintptr_t>(addr);
  if ((a & (kPageSize - 1)) != 0 || len == 0) {
    errno = EINVAL;
    return -1;
  }
  const uintptr_t hi = a + PageUp(len);
  uintptr_t clo, chi;
  ClipToHeap(a, hi, &clo, &chi);
  if (clo == chi) return g_kernel.munmap(addr, len);
  {
    Locked lock;
    if (!UnmapLocked(clo, chi, 0)) {
      errno = ENOMEM;
      return -1;
    }
  }
  // The parts outside the heap are the kernel's (a range may straddle it).
  int rc = 0;
  if (a < clo) rc |= g_kernel.munmap(addr, clo - a);
  if (chi < hi) rc |= g_kernel.munmap(reinterpret_cast<void*>(chi), hi - chi);
  return rc == 0 ? 0 : -1;
}

void* AnonymousMaps::Remap(void* old_addr, size_t old_len, size_t new_len, int flags, void* new_addr) {
  const auto a = reinterpret_cast<uintptr_t>(old_addr);
  if (!InHeap(a)) {  // the preload layer sends only mappings inside the heap
    errno = EFAULT;
    return MAP_FAILED;
  }
  if ((a & (kPageSize - 1)) != 0 || new_len == 0 || old_len == 0) {
    errno = EINVAL;
    return MAP_FAILED;
  }
  if ((flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) != 0) {
    WarnOnce(&g_warned_remap, "mremap(MREMAP_FIXED/DONTUNMAP) of persisted memory at %#llx (%llu bytes) refused",
             static_cast<unsigned long long>(a), static_cast<unsigned long long>(old_len));
    (void)new_addr;
    errno = EINVAL;
    return MAP_FAILED;
  }
  const uintptr_t old_end = a + PageUp(old_len), new_end = a + PageUp(new_len);
  Locked lock;
  MapsTable* t = Table();
  MapEntry* e = Covering(t, a, old_end);
  if (e == nullptr) {
    errno = EFAULT;
    return MAP_FAILED;
  }
  if (new_end <= old_end) {
    if (new_end < old_end && !UnmapLocked(new_end, old_end, 0)) {
      errno = ENOMEM;
      return MAP_FAILED;
    }
    return old_addr;
  }
  // Grow in place when the range ends its entry and the block has free room.
  uintptr_t block_end = e->block + g_heap->UsableSize(reinterpret_cast<void*>(e->block));
  if (e->end == old_end && new_end <= block_end && !Overlaps(t, old_end, new_end)) {
    std::memset(reinterpret_cast<void*>(old_end), 0, new_end - old_end);
    e->end = new_end;
    return old_addr;
  }
  if ((flags & MREMAP_MAYMOVE) == 0) {
    errno = ENOMEM;
    return MAP_FAILED;
  }
  void* p = MapFresh(new_end - a);
  if (p == nullptr) {
    errno = ENOMEM;
    return MAP_FAILED;
  }
  std::memcpy(p, old_addr, old_end - a);
  UnmapLocked(a, old_end, 0);
  return p;
}

int AnonymousMaps::Advise(void* addr, size_t len, int advice) {
  const auto a = reinterpret_cast<uintptr_t>(addr);
  if ((a & (kPageSize - 1)) != 0) {
    errno = EINVAL;
    return -1;
  }
  const uintptr_t hi = a + PageUp(len);
  uintptr_t clo, chi;
  ClipToHeap(a, hi, &clo, &chi);
  if (clo == chi) return g_kernel.madvise(addr, len, advice);
  switch (advice) {
    case MADV_DONTNEED: {
      // Reads must see zeros, here and after a recovery: write them.
      RuntimeScope scope;
      std::memset(reinterpret_cast<void*>(clo), 0, chi - clo);
      break;
    }
    case MADV_NORMAL:
    case MADV_RANDOM:
    case MADV_SEQUENTIAL:
    case MADV_WILLNEED:
    case MADV_HUGEPAGE:
    case MADV_NOHUGEPAGE:
    case MADV_COLD:
    case MADV_PAGEOUT:
    case MADV_POPULATE_READ:
    case MADV_POPULATE_WRITE:
      (void)g_kernel.madvise(reinterpret_cast<void*>(clo), chi - clo, advice);
      break;
    default:
      // MADV_FREE (the bytes may stay), and what would change how the heap's
      // pages fork, merge or fault (DONTFORK, WIPEONFORK, MERGEABLE, ...): a
      // hint the heap does not take.
      break;
  }
  int rc = 0;
  if (a < clo) rc |= g_kernel.madvise(addr, clo - a, advice);
  if (chi < hi) rc |= g_kernel.madvise(reinterpret_cast<void*>(chi), hi - chi, advice);
  return rc == 0 ? 0 : -1;
}

int AnonymousMaps::Protect(void* addr, size_t len, int prot) {
  const auto a = reinterpret_cast<uintptr_t>(addr);
  const uintptr_t hi = a + PageUp(len);
  uintptr_t clo, chi;
  ClipToHeap(a, hi, &clo, &chi);
  if (clo == chi) return g_kernel.mprotect(addr, len, prot);
  if ((a & (kPageSize - 1)) != 0) {
    errno = EINVAL;
    return -1;
  }
  if ((prot & ~PROT_EXEC) != kReadWrite) {
    WarnOnce(&g_warned_protect,
             "mprotect of persisted memory at %#llx (%llu bytes) to other than read-write is not applied: a "
             "checkpoint must read every persisted page",
             static_cast<unsigned long long>(clo), static_cast<unsigned long long>(chi - clo));
  }
  int rc = 0;
  if (a < clo) rc |= g_kernel.mprotect(addr, clo - a, prot);
  if (chi < hi) rc |= g_kernel.mprotect(reinterpret_cast<void*>(chi), hi - chi, prot);
  return rc == 0 ? 0 : -1;
}

namespace {

// Claims the break area at the first call. Locked.
MapsTable* BreakTable() {
  MapsTable* t = Table();
  if (t == nullptr) t = Grow(nullptr);
  if (t == nullptr || t->break_begin != 0) return t;
  void* p = MapFresh(AnonymousMaps::kBreakBytes);
  t = Table();
  if (p == nullptr) return nullptr;
  t->break_begin = t->break_cur = reinterpret_cast<uintptr_t>(p);
  return t;
}

}  // namespace

int AnonymousMaps::Brk(void* addr) {
  Locked lock;
  MapsTable* t = BreakTable();
  const auto a = reinterpret_cast<uintptr_t>(addr);
  if (t == nullptr || a < t->break_begin || a > t->break_begin + kBreakBytes) {
    errno = ENOMEM;
    return -1;
  }
  // Memory given back and taken again reads as zero, as from the kernel.
  if (a < t->break_cur) std::memset(addr, 0, t->break_cur - a);
  t->break_cur = a;
  return 0;
}

void* AnonymousMaps::Sbrk(intptr_t increment) {
  Locked lock;
  MapsTable* t = BreakTable();
  if (t == nullptr) {
    errno = ENOMEM;
    return reinterpret_cast<void*>(-1);
  }
  const uintptr_t old = t->break_cur;
  const uintptr_t next = old + static_cast<uintptr_t>(increment);
  if ((increment > 0 && next > t->break_begin + kBreakBytes) || (increment < 0 && next < t->break_begin)) {
    errno = ENOMEM;
    return reinterpret_cast<void*>(-1);
  }
  if (increment < 0) std::memset(reinterpret_cast<void*>(next), 0, old - next);
  t->break_cur = next;
  return reinterpret_cast<void*>(old);
}

AnonymousMapsStats AnonymousMaps::Stats() {
  AnonymousMapsStats s{};
  if (!Installed()) return s;
  Locked lock;
  if (const MapsTable* t = Table()) {
    s.mappings = t->count;
    for (uint32_t i = 0; i < t->count; ++i) s.mapped_bytes += t->entries[i].end - t->entries[i].begin;
  }
  return s;
}

void AnonymousMaps::PrepareFork() {
  if (Installed()) g_lock.Lock();
}
void AnonymousMaps::ParentAfterFork() {
  if (Installed()) g_lock.Unlock();
}
void AnonymousMaps::ChildAfterFork() {
  if (Installed()) g_lock.Reset();
}

}  // namespace respct::core
