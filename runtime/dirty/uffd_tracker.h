// UffdTracker: userfaultfd asynchronous write-protect + PAGEMAP_SCAN (Linux ≥ 6.7).
//
// Track registers the range with UFFDIO_REGISTER_MODE_WP and write-protects it.
// With UFFD_FEATURE_WP_ASYNC the kernel resolves a write fault itself (drops
// the protection, the PTE becomes "written"): no fault reaches user space, no
// thread waits, and kernel-mode writes (read(2) into tracked memory) are seen
// too. UFFD_FEATURE_WP_UNPOPULATED makes the protection stick to
// never-populated PTEs (markers), so a first write to an untouched page is
// caught. Collect is one PAGEMAP_SCAN walk per range that returns the written
// pages and write-protects them again (PM_SCAN_WP_MATCHING) in the same page
// table walk, under the paused app.
//
// Shared (shmem/hugetlbfs) ranges need UFFD_FEATURE_WP_HUGETLBFS_SHMEM, which
// is requested whenever the kernel offers it; Track of such a range fails with
// a clear error otherwise.
//
// The userfaultfd is created with UFFD_USER_MODE_ONLY (allowed without
// privilege, and enough: async WP never delivers faults).
//
// Signal safety: no method is async-signal-safe, and none needs to be.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/dirty/dirty_tracker.h"
#include "runtime/dirty/page_range_set.h"
#include "runtime/dirty/kernel_uapi.h"

namespace respct::dirty {

class UffdTracker final : public DirtyTracker {
 public:
  // Opens a userfaultfd and /proc/self/pagemap and runs a functional probe
  // (write-protect a scratch page, write it, PAGEMAP_SCAN must report it). The
  // error names what is missing: the syscall, the permission, WP_ASYNC, or
  // PAGEMAP_SCAN.
  static Result<std::unique_ptr<UffdTracker>> Open();
  // Whether a kernel offering `features` (UFFDIO_API answer) can host this
  // tracker. Pure, so the "old kernel" error path is testable on a new kernel.
  static Status CheckFeatures(uint64_t features);

  ~UffdTracker() override;

  Status Track(void* addr, size_t len) override;
  Status Untrack(void* addr, size_t len) override;
  Status Collect(std::vector<PageRun>* out) override;

  Kind kind() const override { return Kind::kUffd; }
  std::string_view name() const override { return "uffd"; }
  uint64_t features() const { return features_; }

 private:
  UffdTracker(int uffd, int pagemap, uint64_t features);
  // One PAGEMAP_SCAN walk over [start, end); appends the matching runs to *out.
  // flags/category_* as in pm_scan_arg.
  Status Scan(uintptr_t start, uintptr_t end, uint64_t flags, uint64_t category_mask,
              uint64_t category_anyof_mask, std::vector<PageRun>* out);
  Status WriteProtect(uintptr_t start, uintptr_t end, bool protect);

  const int uffd_;
  const int pagemap_;
  const uint64_t features_;
  std::mutex mu_;                   // Track/Untrack vs Collect, see dirty_tracker.h
  PageRangeSet<> ranges_;
  std::vector<page_region> vec_;    // PAGEMAP_SCAN output buffer, fixed size
  std::vector<PageRun> scratch_;    // populated runs found by Track
};

}  // namespace respct::dirty
