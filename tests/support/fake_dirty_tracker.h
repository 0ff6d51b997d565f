// FakeDirtyTracker: a DirtyTracker that reports as written the pages a test
// says were (MarkWritten), so that what the Checkpointer does with the pages
// a tracker reports can be tested without a kernel mechanism.
//
// It keeps DirtyTracker's contract and checks its caller against it: ranges
// page-aligned and non-overlapping, Untrack of exactly a tracked range; a
// newly tracked range's populated pages (mincore) count as written, as the
// contract says of contents present at Track; Collect's runs are sorted,
// merged, and never cross a range boundary. A call that breaks the contract
// fails with InvalidArgument.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "runtime/dirty/dirty_tracker.h"
#include "runtime/dirty/page_range_set.h"

namespace respct::testing {

class FakeDirtyTracker final : public dirty::DirtyTracker {
 public:
  // The kind and name it reports: the Checkpointer treats some trackers
  // differently by name (stacks under "mprotect").
  explicit FakeDirtyTracker(Kind kind = Kind::kScan, std::string name = "fake")
      : kind_(kind), name_(std::move(name)) {}

  Status Track(void* addr, size_t len) override;
  Status Untrack(void* addr, size_t len) override;
  Status Collect(std::vector<dirty::PageRun>* out) override;
  void KernelWillWrite(void* addr, size_t len) override;
  void KeepWritable(void* addr, size_t len) override;
  Kind kind() const override { return kind_; }
  std::string_view name() const override { return name_; }

  // The pages overlapping [addr, addr+len) are reported by the next Collect.
  // InvalidArgument (and nothing marked) unless they lie in tracked ranges.
  Status MarkWritten(const void* addr, size_t len);
  // The next Collect fails with `st` (as one that met a paused Track does)
  // and keeps what it would have reported for the one after.
  void FailNextCollect(Status st) { fail_next_collect_ = std::move(st); }

  // Ranges tracked now, in address order.
  std::vector<dirty::PageRun> tracked() const;
  // Every KernelWillWrite call, in order.
  struct Span {
    uintptr_t addr;
    size_t len;
  };
  const std::vector<Span>& kernel_writes() const { return kernel_writes_; }
  // Every KeepWritable call, in order, and how many Collects had run before it.
  struct KeptSpan {
    uintptr_t addr;
    size_t len;
    int collects_before;
  };
  const std::vector<KeptSpan>& kept_writable() const { return kept_writable_; }
  int collects() const { return collects_; }

 private:

  const Kind kind_;
  const std::string name_;
  dirty::PageRangeSet<> ranges_;
  std::set<uintptr_t> written_;         // page addresses
  std::vector<Span> kernel_writes_;
  std::vector<KeptSpan> kept_writable_;
  Status fail_next_collect_;
  int collects_ = 0;
};

}  // namespace respct::testing
