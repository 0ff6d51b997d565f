#include "tests/support/fake_dirty_tracker.h"

#include <sys/mman.h>


namespace respct::testing {

using dirty::kPageSize;
using dirty::PageRun;

Status FakeDirtyTracker::Track(void* addr, size_t len) {
  const auto a = reinterpret_cast<uintptr_t>(addr);
  RESPCT_RETURN_IF_ERROR(ranges_.CheckInsertable(a, len, "fake tracker: Track"));
  ranges_.Insert(a, len);
  const PageRun run{a, len / kPageSize};
  // What the range holds already counts as written: its populated pages.
  std::vector<unsigned char> resident(run.pages);
  if (mincore(addr, len, resident.data()) != 0) return Status::FromErrno("fake tracker: mincore", errno);
  for (size_t i = 0; i < run.pages; ++i)
    if (resident[i] & 1) written_.insert(a + i * kPageSize);
  return Status::OK();
}

Status FakeDirtyTracker::Untrack(void* addr, size_t len) {
  const PageRun run{reinterpret_cast<uintptr_t>(addr), len / kPageSize};
  const auto* range = ranges_.FindExact(run.addr, len);
  if (range == nullptr) return Status::InvalidArgument("fake tracker: Untrack of a range that is not exactly a tracked one");
  ranges_.Erase(range);
  written_.erase(written_.lower_bound(run.addr), written_.lower_bound(run.end()));
  return Status::OK();
}

Status FakeDirtyTracker::MarkWritten(const void* addr, size_t len) {
  const auto lo = reinterpret_cast<uintptr_t>(addr) & ~(kPageSize - 1);
  const auto hi = reinterpret_cast<uintptr_t>(addr) + len;
  for (uintptr_t p = lo; p < hi; p += kPageSize)
    if (ranges_.FindContaining(p, 0) == nullptr) return Status::InvalidArgument("fake tracker: MarkWritten outside every tracked range");
  for (uintptr_t p = lo; p < hi; p += kPageSize) written_.insert(p);
  return Status::OK();
}

Status FakeDirtyTracker::Collect(std::vector<PageRun>* out) {
  ++collects_;
  if (!fail_next_collect_.ok()) {
    Status st = std::move(fail_next_collect_);
    fail_next_collect_ = Status::OK();
    return st;
  }
  out->clear();
  // written_ is ordered (and holds tracked pages only): adjacent pages of
  // one range merge into one run.
  const void* last_range = nullptr;
  for (uintptr_t p : written_) {
    const void* range = ranges_.FindContaining(p, 0);
    if (!out->empty() && out->back().end() == p && range == last_range) {
      ++out->back().pages;
    } else {
      out->push_back(PageRun{p, 1});
    }
    last_range = range;
  }
  written_.clear();
  return Status::OK();
}

void FakeDirtyTracker::KernelWillWrite(void* addr, size_t len) {
  kernel_writes_.push_back(Span{reinterpret_cast<uintptr_t>(addr), len});
}

void FakeDirtyTracker::KeepWritable(void* addr, size_t len) {
  kept_writable_.push_back(KeptSpan{reinterpret_cast<uintptr_t>(addr), len, collects_});
}

std::vector<PageRun> FakeDirtyTracker::tracked() const {
  std::vector<PageRun> runs;
  for (const auto& r : ranges_) runs.push_back(PageRun{r.start, r.size() / kPageSize});
  return runs;
}

}  // namespace respct::testing
