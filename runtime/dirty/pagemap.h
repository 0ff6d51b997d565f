// Populated pages of a range, from /proc/self/pagemap (one 64-bit entry per
// page: bit 63 present, bit 62 swapped). Used by the scan tracker on every
// Collect and by the mprotect tracker when a range is first tracked. Not for
// signal handlers (pread on a procfs file takes the mmap lock).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/dirty/page_run.h"

namespace respct::dirty {

inline constexpr uint64_t kPagemapPresent = 1ull << 63;
inline constexpr uint64_t kPagemapSwapped = 1ull << 62;

// Calls emit(PageRun) for each maximal run of populated pages in [start, end),
// in address order. `buf` is scratch space whose capacity is reused (sized to
// 4096 entries on first use, then never grown: no allocation after warm-up).
template <typename Emit>
Status ForEachPopulatedRun(int pagemap_fd, uintptr_t start, uintptr_t end,
                           std::vector<uint64_t>* buf, Emit&& emit) {
  constexpr size_t kBatch = 4096;  // entries per pread: 32 KiB, 16 MiB of address space
  if (buf->size() < kBatch) buf->resize(kBatch);
  uintptr_t run_start = 0;
  size_t run_pages = 0;
  for (uintptr_t a = start; a < end;) {
    const size_t want = std::min<size_t>(kBatch, (end - a) / kPageSize);
    const off_t off = static_cast<off_t>(a / kPageSize * sizeof(uint64_t));
    const ssize_t got = pread(pagemap_fd, buf->data(), want * sizeof(uint64_t), off);
    if (got < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("pread /proc/self/pagemap", errno);
    }
    const size_t n = static_cast<size_t>(got) / sizeof(uint64_t);
    if (n == 0) return Status::IOError("pread /proc/self/pagemap: short read");
    for (size_t i = 0; i < n; ++i, a += kPageSize) {
      if ((*buf)[i] & (kPagemapPresent | kPagemapSwapped)) {
        if (run_pages != 0 && run_start + run_pages * kPageSize == a) {
          ++run_pages;
        } else {
          if (run_pages != 0) emit(PageRun{run_start, run_pages});
          run_start = a;
          run_pages = 1;
        }
      }
    }
  }
  if (run_pages != 0) emit(PageRun{run_start, run_pages});
  return Status::OK();
}

// Appends `run` to `out`, merging it into the last run when they touch and the
// last run belongs to the same tracked range (index >= range_first): runs never
// cross a range boundary, even between adjacent ranges.
inline void AppendRun(std::vector<PageRun>* out, size_t range_first, PageRun run) {
  if (out->size() > range_first && out->back().end() == run.addr) {
    out->back().pages += run.pages;
  } else {
    out->push_back(run);
  }
}

}  // namespace respct::dirty
