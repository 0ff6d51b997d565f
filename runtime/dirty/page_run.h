// PageRun: a run of adjacent pages, the unit a DirtyTracker reports and a
// LineDiffer consumes. Plain data, usable anywhere (signal handlers included).
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/base/page.h"

namespace respct::dirty {

// Tracked memory is in base pages (runtime/base/page.h); huge pages are
// reported as runs of base pages.
using respct::kPageSize;
inline constexpr size_t kLineSize = 64;
inline constexpr size_t kLinesPerPage = kPageSize / kLineSize;  // 64: one bit each in a uint64_t

struct PageRun {
  uintptr_t addr;  // page-aligned
  size_t pages;    // >= 1

  uintptr_t end() const { return addr + pages * kPageSize; }
  bool operator==(const PageRun&) const = default;
};

inline bool IsPageAligned(uintptr_t x) { return (x & (kPageSize - 1)) == 0; }

}  // namespace respct::dirty
