// Where respct puts the memory it persists, and the ids the wire uses for it.
//
// Every persisted region sits at a fixed virtual address (the process runs
// with ASLR off), so a pointer stored in one is valid in the recovered
// process. Regions are spaced 1 TiB apart from a configurable base chosen far
// from anything an ASLR-off process maps:
//
//   base + 0 TiB  meta    MetaHeader + ThreadSlot[max_threads] (thread table,
//                         contexts, process identity) + thread-specific data
//   base + 1 TiB  heap    the application's malloc heap (runtime/heap)
//   base + 2 TiB  stacks  max_threads stacks of stack_size bytes each; thread
//                         slot i runs on stack i, main included
//   base + 3 TiB  kernel  the kernel objects the program holds, as recorded
//                         (runtime/kernel/kernel_state.h)
//   (in place)    globals the executable's writable non-RELRO segments
//
// Only the sizes travel to the memnode (its image is laid out region after
// region); the base addresses are recorded for inspection and for recovery's
// layout check.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/base/page.h"

namespace respct::core {

enum RegionId : uint32_t {
  kMetaRegion = 1,
  kHeapRegion = 2,
  kStackRegion = 3,
  kGlobalsRegion = 4,
  kKernelRegion = 5,
  // From here on, one region per persisted library's data, in the order of
  // MetaHeader::library_globals.
  kLibraryGlobalsFirstRegion = 16,
};

const char* RegionName(uint32_t id);

inline constexpr uintptr_t kDefaultBase = 0x2000'0000'0000;
inline constexpr uintptr_t kRegionSpacing = uintptr_t{1} << 40;
inline constexpr size_t kPageSize = 4096;

struct Layout {
  uintptr_t base = kDefaultBase;
  size_t heap_size = size_t{1} << 30;   // 1 GiB
  size_t stack_size = size_t{2} << 20;  // per thread slot
  uint32_t max_threads = 64;

  uintptr_t meta_base() const { return base; }
  uintptr_t heap_base() const { return base + kRegionSpacing; }
  uintptr_t stacks_base() const { return base + 2 * kRegionSpacing; }
  uintptr_t kernel_base() const { return base + 3 * kRegionSpacing; }
  size_t meta_size() const;  // header + thread table, page-aligned
  size_t stacks_size() const { return stack_size * max_threads; }
  uintptr_t stack_of(uint32_t slot) const { return stacks_base() + stack_size * slot; }
};

}  // namespace respct::core
