// ScanTracker: no kernel help. Every Collect reports every populated page of
// the tracked ranges (present or swapped in /proc/self/pagemap; never-touched
// pages are skipped), and the LineDiffer finds what actually changed. The
// baseline for the benchmark and the last resort when neither userfaultfd nor
// mprotect can be used. Cost per Collect ∝ tracked size, not dirty size.
//
// Signal safety: no method is async-signal-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/dirty/dirty_tracker.h"
#include "runtime/dirty/page_range_set.h"

namespace respct::dirty {

class ScanTracker final : public DirtyTracker {
 public:
  static Result<std::unique_ptr<ScanTracker>> Open();
  ~ScanTracker() override;

  Status Track(void* addr, size_t len) override;
  Status Untrack(void* addr, size_t len) override;
  Status Collect(std::vector<PageRun>* out) override;

  Kind kind() const override { return Kind::kScan; }
  std::string_view name() const override { return "scan"; }

 private:
  explicit ScanTracker(int pagemap) : pagemap_(pagemap) {}

  const int pagemap_;
  std::mutex mu_;  // Track/Untrack vs Collect, see dirty_tracker.h
  PageRangeSet<> ranges_;
  std::vector<uint64_t> buf_;
};

}  // namespace respct::dirty
