#include "runtime/dirty/scan_tracker.h"

#include <fcntl.h>
#include <unistd.h>

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
  std::lock_guard<std::mutex> lock(mu_);
  RESPCT_RETURN_IF_ERROR(ranges_.CheckInsertable(start, len, "scan tracker: Track"));
  ranges_.Insert(start, len);
  return Status::OK();
}

Status ScanTracker::Untrack(void* addr, size_t len) {
  const auto start = reinterpret_cast<uintptr_t>(addr);
  std::lock_guard<std::mutex> lock(mu_);
  const auto* range = ranges_.FindExact(start, len);
  if (range == nullptr) return Status::NotFound("scan tracker: Untrack of a range not tracked");
  ranges_.Erase(range);
  return Status::OK();
}

Status ScanTracker::Collect(std::vector<PageRun>* out) {
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) {
    return Status::Unavailable("scan tracker: a range is being (un)tracked; retry the epoch");
  }
  out->clear();
  for (const auto& r : ranges_) {
    const size_t first = out->size();
    RESPCT_RETURN_IF_ERROR(ForEachPopulatedRun(pagemap_, r.start, r.end, &buf_,
                                               [&](PageRun run) { AppendRun(out, first, run); }));
  }
  return Status::OK();
}

}  // namespace respct::dirty
