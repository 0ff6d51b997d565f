// MprotectTracker: PROT_READ + SIGSEGV, for kernels without async uffd-wp.
//
// Tracked memory is made read-only. The first write to a *chunk* (an aligned
// group of pages, 16 by default) faults; the SIGSEGV handler sets the chunk's
// bit in a lock-free bitmap and makes the whole chunk writable again, so later
// writes to it run at full speed. Collect reports every marked chunk (an
// over-approximation: the LineDiffer then ships only lines that changed) and
// re-protects them.
//
// Why chunks: one VMA per dirty page runs into vm.max_map_count (65530) past
// ~15 % of a 1 GiB region dirty (DESIGN §8). A chunk is at least 16 pages and
// grows with the range so that a range never has more than kMaxChunksPerRange
// chunks, bounding its VMAs to 2 * kMaxChunksPerRange + 1 whatever the pattern.
//
// Fault inside a system call: when the kernel writes tracked memory on the
// app's behalf (read(2) into a tracked buffer), a protected page makes the call
// fail with EFAULT instead of raising SIGSEGV. The shim therefore calls
// KernelWillWrite(buf, len) before such calls: it opens and marks the covered
// chunks (async-signal-safe, ~1 mprotect per call when the chunk is still
// protected, nothing when already open).
//
// Signals: one process-wide SIGSEGV handler is installed by the first tracker
// and stays (restoring a previous handler later could clobber one installed
// after ours). It blocks all signals while it runs, so an epoch's pause signal
// never interrupts it half-way. Faults outside tracked ranges are chained to
// the handler that was installed before ours, or re-raised with the default
// action. SIGBUS is not intercepted: write protection never raises it.
//
// Requirements: tracked ranges are PROT_READ|PROT_WRITE (Collect restores
// exactly that), and the app does not mprotect them itself.
//
// Signal safety: KernelWillWrite and the internal handler are
// async-signal-safe; Track/Untrack/Collect are not.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/dirty/dirty_tracker.h"
#include "runtime/dirty/page_range_set.h"

namespace respct::dirty {

class MprotectTracker final : public DirtyTracker {
 public:
  static constexpr size_t kMinChunkPages = 16;
  static constexpr size_t kMaxChunksPerRange = 8192;

  static Result<std::unique_ptr<MprotectTracker>> Open();
  ~MprotectTracker() override;

  Status Track(void* addr, size_t len) override;
  Status Untrack(void* addr, size_t len) override;
  Status Collect(std::vector<PageRun>* out) override;
  void KernelWillWrite(void* addr, size_t len) override;
  void KeepWritable(void* addr, size_t len) override;

  Kind kind() const override { return Kind::kMprotect; }
  std::string_view name() const override { return "mprotect"; }

  // Pages per chunk used for a range of `pages` pages (a power of two).
  static size_t ChunkPagesFor(size_t pages);

 private:
  MprotectTracker(int pagemap);

  const int pagemap_;
  std::mutex mu_;                  // Track/Untrack vs Collect, see dirty_tracker.h
  PageRangeSet<int> slots_;        // our ranges, each with its slot in the process-wide table
  // KeepWritable's spans (page-aligned) until the next Collect has run.
  std::vector<PageRun> keep_writable_;
  std::atomic<bool> keep_lost_{false};  // a KeepWritable could not take mu_
  // mprotect(PROT_READ) of [lo, hi) except the pages of keep_writable_.
  Status ProtectExceptKept(uintptr_t lo, uintptr_t hi);
  // Marks the chunks of keep_writable_ inside slot `slot`'s range as written.
  void MarkKept(int slot);
  std::vector<int> retired_;       // untracked slots whose bitmap is freed at the next Collect
  std::vector<uint64_t> pagemap_buf_;
};

}  // namespace respct::dirty
