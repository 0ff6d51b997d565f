// The machine's base page: the unit of mmap, mprotect, userfaultfd and
// pagemap, of file holes, and of the dirty tracker. x86-64 only, so a
// constant (the build targets nothing else). Not to be confused with the
// persisted heap's allocation page (heap::kHeapPageSize, 8 KiB, a span unit)
// or the page of an on-disk or wire format (memnode pool pages, image-sum
// pages), which are format constants that merely have the same value today.
//
// Async-signal-safe (constants and arithmetic).
#pragma once

#include <cstddef>
#include <cstdint>

namespace respct {

inline constexpr size_t kPageSize = 4096;

constexpr uint64_t PageDown(uint64_t v) { return v & ~uint64_t{kPageSize - 1}; }
// Callers make sure v + kPageSize - 1 does not overflow (sizes, not hostile input).
constexpr uint64_t PageUp(uint64_t v) { return PageDown(v + kPageSize - 1); }

}  // namespace respct
