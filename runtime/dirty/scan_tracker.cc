#include "runtime/dirty/scan_tracker.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "runtime/dirty/pagemap.h"

namespace respct::dirty {

Result<std::unique_ptr<ScanTracker>> ScanTracker::Open() {
  const int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (pagemap < 0) return Status::FromErrno("scan tracker: open /proc/self/pagemap", errno);
  return std::unique_ptr<ScanTracker>(new ScanTracker(pagemap));
}

ScanTracker::~ScanTracker() { close(pagemap_); }

Status ScanTracker::Track(void* addr, size_t len) {
  const auto start = reinterpret_cast<uintptr_t>(addr);
  const uintptr_t end = start + len;
  if (len == 0 || !IsPageAligned(start) || !IsPageAligned(len) || end < start) {
    return Status::InvalidArgument("scan tracker: Track needs a non-empty page-aligned range");
  }
  std::lock_guard<std::mutex> lock(mu_);
  const auto pos = std::lower_bound(ranges_.begin(), ranges_.end(), start,
                                    [](const Range& r, uintptr_t s) { return r.start < s; });
  if ((pos != ranges_.end() && pos->start < end) || (pos != ranges_.begin() && (pos - 1)->end > start)) {
    return Status::InvalidArgument("scan tracker: Track range overlaps a tracked range");
  }
  ranges_.insert(pos, Range{start, end});
  return Status::OK();
}

Status ScanTracker::Untrack(void* addr, size_t len) {
  const auto start = reinterpret_cast<uintptr_t>(addr);
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = std::find_if(ranges_.begin(), ranges_.end(), [&](const Range& r) {
    return r.start == start && r.end == start + len;
  });
  if (it == ranges_.end()) return Status::NotFound("scan tracker: Untrack of a range not tracked");
  ranges_.erase(it);
  return Status::OK();
}

Status ScanTracker::Collect(std::vector<PageRun>* out) {
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) {
    return Status::Unavailable("scan tracker: a range is being (un)tracked; retry the epoch");
  }
  out->clear();
  for (const Range& r : ranges_) {
    const size_t first = out->size();
    RESPCT_RETURN_IF_ERROR(ForEachPopulatedRun(pagemap_, r.start, r.end, &buf_,
                                               [&](PageRun run) { AppendRun(out, first, run); }));
  }
  return Status::OK();
}

}  // namespace respct::dirty
