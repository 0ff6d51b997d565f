#include "runtime/dirty/mprotect_tracker.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

#include "runtime/base/page.h"
#include "runtime/dirty/pagemap.h"

namespace respct::dirty {
namespace {

// The process-wide table the SIGSEGV handler searches. Fixed size so that the
// handler never sees a reallocation; a slot is published by storing its start
// (release) after end/bits/shift, and unpublished by storing start = 0.
constexpr int kMaxSlots = 256;

struct Slot {
  std::atomic<uintptr_t> start{0};
  std::atomic<uintptr_t> end{0};
  std::atomic<uint64_t*> bits{nullptr};
  std::atomic<unsigned> chunk_shift{0};  // log2 of the chunk size in bytes
  // Outside the handler only, under g_table_mu:
  bool in_use = false;
  size_t bitmap_bytes = 0;
};

Slot g_slots[kMaxSlots];
std::atomic<int> g_slot_limit{0};  // slots [0, limit) may be live
std::mutex g_table_mu;              // slot allocation, handler installation
bool g_installed = false;
struct sigaction g_prev_segv;

constexpr int kRw = PROT_READ | PROT_WRITE;

// Marks chunk `c` of a slot's bitmap as written. Async-signal-safe (the
// fault handler's path); atomic because handlers of other threads set bits
// of the same words.
inline void MarkChunk(uint64_t* bits, size_t c) { __atomic_fetch_or(&bits[c / 64], 1ull << (c % 64), __ATOMIC_RELAXED); }

// The live slot holding `a`, or -1; then *next_start (if given) is the lowest
// tracked start above `a` (UINTPTR_MAX if none), so callers can skip the gap.
int FindSlot(uintptr_t a, uintptr_t* next_start = nullptr) {
  const int limit = g_slot_limit.load(std::memory_order_acquire);
  uintptr_t next = UINTPTR_MAX;
  for (int i = 0; i < limit; ++i) {
    const uintptr_t s = g_slots[i].start.load(std::memory_order_acquire);
    if (s == 0) continue;
    if (a >= s && a < g_slots[i].end.load(std::memory_order_relaxed)) return i;
    if (s > a) next = std::min(next, s);
  }
  if (next_start != nullptr) *next_start = next;
  return -1;
}

// Marks the chunk holding `a` and makes it writable. Mark first: a chunk that
// is open but unmarked would lose writes; marked but still closed only costs
// one more fault. Returns the end of the chunk, or 0 if mprotect failed.
uintptr_t MarkAndOpen(const Slot& slot, uintptr_t a) {
  const uintptr_t start = slot.start.load(std::memory_order_acquire);
  const uintptr_t end = slot.end.load(std::memory_order_relaxed);
  const unsigned shift = slot.chunk_shift.load(std::memory_order_relaxed);
  uint64_t* bits = slot.bits.load(std::memory_order_relaxed);
  if (start == 0 || a < start || a >= end) return 0;
  const size_t chunk = (a - start) >> shift;
  MarkChunk(bits, chunk);
  const uintptr_t cs = start + (chunk << shift);
  const uintptr_t ce = std::min(cs + (uintptr_t{1} << shift), end);
  if (mprotect(reinterpret_cast<void*>(cs), ce - cs, kRw) != 0) return 0;
  return ce;
}

void OnSegv(int sig, siginfo_t* si, void* uctx) {
  const int saved_errno = errno;
  if (si->si_code == SEGV_ACCERR) {
    const auto a = reinterpret_cast<uintptr_t>(si->si_addr);
    const int i = FindSlot(a);
    if (i >= 0 && MarkAndOpen(g_slots[i], a) != 0) {
      errno = saved_errno;
      return;  // the write is retried and now succeeds
    }
  }
  errno = saved_errno;
  // Not ours: hand it to whoever handled SIGSEGV before us.
  if (g_prev_segv.sa_flags & SA_SIGINFO) {
    g_prev_segv.sa_sigaction(sig, si, uctx);
    return;
  }
  if (g_prev_segv.sa_handler != SIG_DFL && g_prev_segv.sa_handler != SIG_IGN) {
    g_prev_segv.sa_handler(sig);
    return;
  }
  // Default action (SIG_IGN cannot stop a real fault either): restore it. A
  // hardware fault re-executes the instruction and kills the process with the
  // right address in the core; a sent signal is re-raised, pending until we return.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
  if (si->si_code <= 0) raise(sig);
}

Status InstallHandlerLocked() {
  if (g_installed) return Status::OK();
  struct sigaction sa {};
  sa.sa_sigaction = OnSegv;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigfillset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, &g_prev_segv) != 0) {
    return Status::FromErrno("mprotect tracker: sigaction(SIGSEGV)", errno);
  }
  g_installed = true;
  return Status::OK();
}

void FreeSlotLocked(int i) {
  Slot& s = g_slots[i];
  s.start.store(0, std::memory_order_release);
  if (uint64_t* bits = s.bits.exchange(nullptr)) munmap(bits, s.bitmap_bytes);
  s.in_use = false;
}

}  // namespace

size_t MprotectTracker::ChunkPagesFor(size_t pages) {
  size_t c = kMinChunkPages;
  while ((pages + c - 1) / c > kMaxChunksPerRange) c *= 2;
  return c;
}

Result<std::unique_ptr<MprotectTracker>> MprotectTracker::Open() {
  {
    std::lock_guard<std::mutex> lock(g_table_mu);
    RESPCT_RETURN_IF_ERROR(InstallHandlerLocked());
  }
  const int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (pagemap < 0) return Status::FromErrno("mprotect tracker: open /proc/self/pagemap", errno);
  return std::unique_ptr<MprotectTracker>(new MprotectTracker(pagemap));
}

MprotectTracker::MprotectTracker(int pagemap) : pagemap_(pagemap) {}

MprotectTracker::~MprotectTracker() {
  std::lock_guard<std::mutex> lock(g_table_mu);
  for (const auto& r : slots_) {
    mprotect(reinterpret_cast<void*>(r.start), r.size(), kRw);
    FreeSlotLocked(r.value);
  }
  for (int i : retired_) FreeSlotLocked(i);
  close(pagemap_);
}

Status MprotectTracker::Track(void* addr, size_t len) {
  const auto start = reinterpret_cast<uintptr_t>(addr);
  const uintptr_t end = start + len;
  std::lock_guard<std::mutex> lock(mu_);
  RESPCT_RETURN_IF_ERROR(slots_.CheckInsertable(start, len, "mprotect tracker: Track"));
  // The fault handler's table is shared by every tracker of the process: a
  // range another tracker holds must not be taken either.
  std::lock_guard<std::mutex> table_lock(g_table_mu);
  int free_slot = -1;
  for (int i = 0; i < kMaxSlots; ++i) {
    const Slot& s = g_slots[i];
    if (!s.in_use) {
      if (free_slot < 0) free_slot = i;
      continue;
    }
    const uintptr_t s_start = s.start.load(std::memory_order_relaxed);
    if (s_start != 0 && s_start < end && start < s.end.load(std::memory_order_relaxed)) {
      return Status::InvalidArgument("mprotect tracker: Track range overlaps a tracked range");
    }
  }
  if (free_slot < 0) {
    return Status::ResourceExhausted("mprotect tracker: too many tracked ranges (256)");
  }

  const size_t pages = len / kPageSize;
  const size_t chunk_pages = ChunkPagesFor(pages);
  const unsigned shift = static_cast<unsigned>(__builtin_ctzll(chunk_pages * kPageSize));
  const size_t chunks = (pages + chunk_pages - 1) / chunk_pages;
  const size_t bitmap_bytes = PageUp((chunks + 63) / 64 * 8);
  // The bitmap is mmap'd, not malloc'd: under the shim, malloc is the app's
  // persisted heap, which must not hold the tracker's own state.
  void* bm = mmap(nullptr, bitmap_bytes, kRw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (bm == MAP_FAILED) return Status::FromErrno("mprotect tracker: mmap bitmap", errno);
  auto* bits = static_cast<uint64_t*>(bm);

  // Contents present before Track count as written (see dirty_tracker.h).
  Status st = ForEachPopulatedRun(pagemap_, start, end, &pagemap_buf_, [&](PageRun r) {
    for (uintptr_t a = r.addr; a < r.end(); a += kPageSize) {
      const size_t c = (a - start) >> shift;
      bits[c / 64] |= 1ull << (c % 64);
    }
  });
  if (!st.ok()) {
    munmap(bm, bitmap_bytes);
    return st;
  }

  Slot& s = g_slots[free_slot];
  s.in_use = true;
  s.bitmap_bytes = bitmap_bytes;
  s.end.store(end, std::memory_order_relaxed);
  s.bits.store(bits, std::memory_order_relaxed);
  s.chunk_shift.store(shift, std::memory_order_relaxed);
  s.start.store(start, std::memory_order_release);
  if (g_slot_limit.load(std::memory_order_relaxed) <= free_slot) {
    g_slot_limit.store(free_slot + 1, std::memory_order_release);
  }
  // Published before protecting, so the very first fault finds the slot.
  if (Status ps = ProtectExceptKept(start, end); !ps.ok()) {
    FreeSlotLocked(free_slot);
    mprotect(addr, len, kRw);
    return ps;
  }
  MarkKept(free_slot);
  // Kept in address order so that Collect's runs come out sorted.
  slots_.Insert(start, len, free_slot);
  return Status::OK();
}

Status MprotectTracker::Untrack(void* addr, size_t len) {
  const auto start = reinterpret_cast<uintptr_t>(addr);
  std::lock_guard<std::mutex> lock(mu_);
  const auto* range = slots_.FindExact(start, len);
  if (range == nullptr) return Status::NotFound("mprotect tracker: Untrack of a range not tracked");
  const int i = range->value;
  // Unpublish first, then open: a racing fault either finds the slot (and
  // opens its chunk) or finds the range already writable. The bitmap may still
  // be read by such a handler, so it is freed only at the next Collect, when
  // every app thread is paused outside the handler.
  g_slots[i].start.store(0, std::memory_order_release);
  slots_.Erase(range);
  retired_.push_back(i);
  if (mprotect(addr, len, kRw) != 0) return Status::FromErrno("mprotect tracker: mprotect(RW)", errno);
  return Status::OK();
}

Status MprotectTracker::Collect(std::vector<PageRun>* out) {
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) {
    return Status::Unavailable("mprotect tracker: a range is being (un)tracked; retry the epoch");
  }
  out->clear();
  if (keep_lost_) {
    keep_lost_ = false;
    keep_writable_.clear();
    return Status::Unavailable("mprotect tracker: a range was being (un)tracked; retry the epoch");
  }
  if (!retired_.empty()) {
    std::lock_guard<std::mutex> table_lock(g_table_mu);
    for (int i : retired_) FreeSlotLocked(i);
    retired_.clear();
  }
  // Per range: take the marks, then close the chunks again. Few runs: one
  // mprotect each (cost ∝ dirty pages). Many runs: one mprotect over the whole
  // range, which also merges the VMAs back into one.
  constexpr size_t kWholeRangeRuns = 64;
  Status st;
  for (const auto& r : slots_) {
    const Slot& s = g_slots[r.value];
    const uintptr_t start = s.start.load(std::memory_order_relaxed);
    const uintptr_t end = s.end.load(std::memory_order_relaxed);
    const unsigned shift = s.chunk_shift.load(std::memory_order_relaxed);
    uint64_t* bits = s.bits.load(std::memory_order_relaxed);
    const size_t chunks = ((end - start) + (uintptr_t{1} << shift) - 1) >> shift;
    const size_t first = out->size();
    for (size_t w = 0; w * 64 < chunks; ++w) {
      if (bits[w] == 0) continue;
      uint64_t word = __atomic_exchange_n(&bits[w], 0, __ATOMIC_RELAXED);
      while (word != 0) {
        const size_t c = w * 64 + static_cast<size_t>(__builtin_ctzll(word));
        word &= word - 1;
        const uintptr_t cs = start + (c << shift);
        const uintptr_t ce = std::min(cs + (uintptr_t{1} << shift), end);
        AppendRun(out, first, PageRun{cs, (ce - cs) / kPageSize});
      }
    }
    const size_t runs = out->size() - first;
    if (runs > kWholeRangeRuns) {
      st = ProtectExceptKept(start, end);
    } else {
      for (size_t k = first; k < out->size() && st.ok(); ++k) st = ProtectExceptKept((*out)[k].addr, (*out)[k].end());
    }
    if (!st.ok()) break;
    MarkKept(r.value);
  }
  if (!st.ok()) {
    // The caller will abandon this epoch: re-mark everything taken so far so
    // that no write is lost; a chunk left open is simply reported again.
    for (const PageRun& r : *out) KernelWillWrite(reinterpret_cast<void*>(r.addr), r.pages * kPageSize);
    out->clear();
  }
  keep_writable_.clear();
  return st;
}

void MprotectTracker::KeepWritable(void* addr, size_t len) {
  if (len == 0) return;
  // Not waited for, like Collect: a range being (un)tracked makes this
  // epoch's Collect refuse to run, so that it never protects a span it was
  // not told of.
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) {
    keep_lost_ = true;
    return;
  }
  const uintptr_t lo = PageDown(reinterpret_cast<uintptr_t>(addr));
  const uintptr_t hi = PageUp(reinterpret_cast<uintptr_t>(addr) + len);
  const PageRun run{lo, (hi - lo) / kPageSize};
  keep_writable_.insert(std::upper_bound(keep_writable_.begin(), keep_writable_.end(), run,
                                         [](const PageRun& a, const PageRun& b) { return a.addr < b.addr; }),
                        run);
}

Status MprotectTracker::ProtectExceptKept(uintptr_t lo, uintptr_t hi) {
  // keep_writable_ is sorted by start; spans may overlap one another.
  uintptr_t from = lo;
  for (const PageRun& k : keep_writable_) {
    if (k.end() <= from) continue;
    if (k.addr >= hi) break;
    if (k.addr > from && mprotect(reinterpret_cast<void*>(from), k.addr - from, PROT_READ) != 0)
      return Status::FromErrno("mprotect tracker: mprotect(PROT_READ)", errno);
    from = std::max(from, k.end());
  }
  if (from < hi && mprotect(reinterpret_cast<void*>(from), hi - from, PROT_READ) != 0)
    return Status::FromErrno("mprotect tracker: mprotect(PROT_READ)", errno);
  return Status::OK();
}

void MprotectTracker::MarkKept(int slot) {
  const Slot& s = g_slots[slot];
  const uintptr_t start = s.start.load(std::memory_order_relaxed);
  const uintptr_t end = s.end.load(std::memory_order_relaxed);
  const unsigned shift = s.chunk_shift.load(std::memory_order_relaxed);
  uint64_t* bits = s.bits.load(std::memory_order_relaxed);
  for (const PageRun& k : keep_writable_) {
    const uintptr_t a = std::max(k.addr, start), b = std::min(k.end(), end);
    for (uintptr_t p = a; p < b; p = start + ((((p - start) >> shift) + 1) << shift)) {
      MarkChunk(bits, (p - start) >> shift);
    }
  }
}

void MprotectTracker::KernelWillWrite(void* addr, size_t len) {
  uintptr_t a = PageDown(reinterpret_cast<uintptr_t>(addr));
  const uintptr_t end = reinterpret_cast<uintptr_t>(addr) + len;
  while (a < end) {
    uintptr_t next_start = 0;
    const int i = FindSlot(a, &next_start);
    if (i < 0) {
      a = next_start;  // untracked gap: jump to the next tracked range, if any
      continue;
    }
    const uintptr_t next = MarkAndOpen(g_slots[i], a);
    a = next != 0 ? next : a + kPageSize;
  }
}

}  // namespace respct::dirty
