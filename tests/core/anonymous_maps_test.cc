// AnonymousMaps against a real heap at a test address and counted kernel
// calls: what is served from the heap, what falls through to the kernel, and
// the POSIX semantics kept (zero on map, munmap pieces, mremap in place and
// moved, MADV_DONTNEED reads zero, the break), and that the table found again
// through its root after a "recovery" (a second Install) still works.
#include "runtime/core/anonymous_maps.h"

#include <errno.h>
#include <sys/mman.h>

#include <cstring>

#include <gtest/gtest.h>

#include "tests/heap/scoped_test_heap.h"

namespace respct::core {
namespace {

struct Counted {
  static inline int mmaps = 0, munmaps = 0, mprotects = 0;
};

KernelMemoryCalls CountedCalls() {
  KernelMemoryCalls k = SystemMemoryCalls();
  static const KernelMemoryCalls real = SystemMemoryCalls();
  k.mmap = [](void* a, size_t l, int p, int f, int fd, off_t o) {
    ++Counted::mmaps;
    return real.mmap(a, l, p, f, fd, o);
  };
  k.munmap = [](void* a, size_t l) {
    ++Counted::munmaps;
    return real.munmap(a, l);
  };
  k.mprotect = [](void* a, size_t l, int p) {
    ++Counted::mprotects;
    return real.mprotect(a, l, p);
  };
  return k;
}

constexpr int kRw = PROT_READ | PROT_WRITE;
constexpr int kAnon = MAP_PRIVATE | MAP_ANONYMOUS;

class AnonymousMapsTest : public testing::Test {
 protected:
  AnonymousMapsTest() : heap_(50, size_t{256} << 20) {
    AnonymousMaps::Install(heap_.get(), &root_, CountedCalls());
    Counted::mmaps = Counted::munmaps = Counted::mprotects = 0;
  }
  heap::Heap* heap() { return heap_.get(); }
  heap::ScopedTestHeap heap_;
  uint64_t root_ = 0;
};

TEST_F(AnonymousMapsTest, PrivateAnonymousReadWriteComesFromTheHeapZeroed) {
  auto* p = static_cast<unsigned char*>(AnonymousMaps::Map(nullptr, 100000, kRw, kAnon, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_TRUE(heap()->Owns(p));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 4096, 0u);
  for (size_t i = 0; i < 100000; ++i) ASSERT_EQ(p[i], 0) << i;
  std::memset(p, 0xab, 100000);
  EXPECT_EQ(AnonymousMaps::Stats().mappings, 1u);
  EXPECT_EQ(AnonymousMaps::Stats().mapped_bytes, 102400u);  // whole pages
  ASSERT_EQ(AnonymousMaps::Unmap(p, 100000), 0);
  EXPECT_EQ(AnonymousMaps::Stats().mappings, 0u);
  // Memory handed out again reads zero, whatever it held.
  auto* q = static_cast<unsigned char*>(AnonymousMaps::Map(nullptr, 100000, kRw, kAnon, -1, 0));
  ASSERT_NE(q, MAP_FAILED);
  for (size_t i = 0; i < 100000; i += 512) ASSERT_EQ(q[i], 0) << i;
  EXPECT_EQ(Counted::mmaps, 0);
  EXPECT_EQ(AnonymousMaps::Unmap(q, 100000), 0);
}

TEST_F(AnonymousMapsTest, LargeMappingsAreHugePageAligned) {
  void* p = AnonymousMaps::Map(nullptr, 4 << 20, kRw, kAnon, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % (2 << 20), 0u);
  EXPECT_EQ(AnonymousMaps::Unmap(p, 4 << 20), 0);
}

TEST_F(AnonymousMapsTest, WhatTheHeapCannotStandForGoesToTheKernel) {
  void* none = AnonymousMaps::Map(nullptr, 1 << 20, PROT_NONE, kAnon, -1, 0);
  void* shared = AnonymousMaps::Map(nullptr, 1 << 20, kRw, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  void* huge = AnonymousMaps::Map(nullptr, size_t{128} << 20, kRw, kAnon | MAP_NORESERVE, -1, 0);  // > 1/4
  for (void* p : {none, shared, huge}) {
    ASSERT_NE(p, MAP_FAILED);
    EXPECT_FALSE(heap()->Owns(p));
  }
  EXPECT_EQ(Counted::mmaps, 3);
  EXPECT_EQ(AnonymousMaps::Unmap(none, 1 << 20), 0);
  EXPECT_EQ(AnonymousMaps::Unmap(shared, 1 << 20), 0);
  EXPECT_EQ(AnonymousMaps::Unmap(huge, size_t{128} << 20), 0);
  EXPECT_EQ(Counted::munmaps, 3);
  EXPECT_EQ(AnonymousMaps::Stats().mappings, 0u);
}

TEST_F(AnonymousMapsTest, UnmappingTheMiddleLeavesTwoPiecesOfOneBlock) {
  auto* p = static_cast<unsigned char*>(AnonymousMaps::Map(nullptr, 16 * 4096, kRw, kAnon, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  std::memset(p, 7, 16 * 4096);
  ASSERT_EQ(AnonymousMaps::Unmap(p + 4 * 4096, 8 * 4096), 0);
  EXPECT_EQ(AnonymousMaps::Stats().mappings, 2u);
  EXPECT_EQ(AnonymousMaps::Stats().mapped_bytes, 8u * 4096);
  EXPECT_EQ(p[0], 7);
  EXPECT_EQ(p[15 * 4096], 7);
  // MAP_FIXED over the hole: zeroed in place, one more piece.
  void* again = AnonymousMaps::Map(p + 4 * 4096, 4096, kRw, kAnon | MAP_FIXED, -1, 0);
  ASSERT_EQ(again, p + 4 * 4096);
  EXPECT_EQ(p[4 * 4096], 0);
  EXPECT_EQ(AnonymousMaps::Stats().mappings, 3u);
  // MAP_FIXED_NOREPLACE inside the heap is refused as the kernel would.
  EXPECT_EQ(AnonymousMaps::Map(p + 6 * 4096, 4096, kRw, kAnon | MAP_FIXED_NOREPLACE, -1, 0), MAP_FAILED);
  EXPECT_EQ(errno, EEXIST);
  ASSERT_EQ(AnonymousMaps::Unmap(p, 16 * 4096), 0);
  EXPECT_EQ(AnonymousMaps::Stats().mappings, 0u);
  EXPECT_EQ(Counted::munmaps, 0);
  EXPECT_EQ(AnonymousMaps::Unmap(p + 1, 4096), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST_F(AnonymousMapsTest, RemapShrinksGrowsInPlaceAndMoves) {
  auto* p = static_cast<unsigned char*>(AnonymousMaps::Map(nullptr, 3 * 4096, kRw, kAnon, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  std::memset(p, 1, 3 * 4096);
  // The heap's 8 KiB pages leave a 4 KiB tail in the block: grown in place, zeroed.
  void* grown = AnonymousMaps::Remap(p, 3 * 4096, 4 * 4096, 0, nullptr);
  ASSERT_EQ(grown, p);
  EXPECT_EQ(p[3 * 4096], 0);
  EXPECT_EQ(p[0], 1);
  // Without MREMAP_MAYMOVE there is no more room.
  EXPECT_EQ(AnonymousMaps::Remap(p, 4 * 4096, 64 * 4096, 0, nullptr), MAP_FAILED);
  EXPECT_EQ(errno, ENOMEM);
  auto* moved = static_cast<unsigned char*>(AnonymousMaps::Remap(p, 4 * 4096, 64 * 4096, MREMAP_MAYMOVE, nullptr));
  ASSERT_NE(moved, MAP_FAILED);
  EXPECT_EQ(moved[0], 1);
  EXPECT_EQ(moved[3 * 4096], 0);
  EXPECT_EQ(moved[63 * 4096], 0);
  EXPECT_EQ(AnonymousMaps::Stats().mappings, 1u);
  void* shrunk = AnonymousMaps::Remap(moved, 64 * 4096, 2 * 4096, 0, nullptr);
  EXPECT_EQ(shrunk, moved);
  EXPECT_EQ(AnonymousMaps::Stats().mapped_bytes, 2u * 4096);
  EXPECT_EQ(AnonymousMaps::Remap(moved + 8 * 4096, 4096, 8192, MREMAP_MAYMOVE, nullptr), MAP_FAILED);
  EXPECT_EQ(errno, EFAULT);
  EXPECT_EQ(AnonymousMaps::Unmap(moved, 2 * 4096), 0);
}

TEST_F(AnonymousMapsTest, DontneedReadsZeroAndProtectIsNotApplied) {
  auto* p = static_cast<unsigned char*>(AnonymousMaps::Map(nullptr, 8 * 4096, kRw, kAnon, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  std::memset(p, 9, 8 * 4096);
  ASSERT_EQ(AnonymousMaps::Advise(p + 4096, 2 * 4096, MADV_DONTNEED), 0);
  EXPECT_EQ(p[4096], 0);
  EXPECT_EQ(p[3 * 4096 - 1], 0);
  EXPECT_EQ(p[3 * 4096], 9);
  ASSERT_EQ(AnonymousMaps::Advise(p, 8 * 4096, MADV_FREE), 0);
  EXPECT_EQ(p[0], 9);  // MADV_FREE may keep the bytes: the heap does
  ASSERT_EQ(AnonymousMaps::Protect(p, 4096, PROT_NONE), 0);
  p[0] = 10;  // still writable: a checkpoint must read it
  EXPECT_EQ(Counted::mprotects, 0);
  EXPECT_EQ(AnonymousMaps::Unmap(p, 8 * 4096), 0);
}

TEST_F(AnonymousMapsTest, TheBreakGrowsShrinksAndStaysInItsArea) {
  void* start = AnonymousMaps::Sbrk(0);
  ASSERT_NE(start, reinterpret_cast<void*>(-1));
  EXPECT_TRUE(heap()->Owns(start));
  auto* a = static_cast<unsigned char*>(AnonymousMaps::Sbrk(4096));
  EXPECT_EQ(a, start);
  a[0] = 5;
  EXPECT_EQ(AnonymousMaps::Sbrk(0), a + 4096);
  EXPECT_EQ(AnonymousMaps::Sbrk(-4096), a + 4096);
  EXPECT_EQ(AnonymousMaps::Sbrk(4096), a);
  EXPECT_EQ(a[0], 0);  // given back and taken again: zero
  EXPECT_EQ(AnonymousMaps::Brk(a + AnonymousMaps::kBreakBytes + 1), -1);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(AnonymousMaps::Brk(a), 0);
  EXPECT_EQ(AnonymousMaps::Sbrk(0), a);
}

TEST_F(AnonymousMapsTest, TheTableIsFoundAgainThroughItsRoot) {
  void* ptrs[600];
  for (void*& p : ptrs) {  // more than the table's first capacity: it grows
    p = AnonymousMaps::Map(nullptr, 4096, kRw, kAnon, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
  }
  EXPECT_NE(root_, 0u);
  EXPECT_TRUE(heap()->Owns(reinterpret_cast<void*>(root_)));
  // What a recovery does: the same heap bytes, the root from the image.
  AnonymousMaps::Install(heap(), &root_, CountedCalls());
  EXPECT_EQ(AnonymousMaps::Stats().mappings, 600u);
  for (void* p : ptrs) ASSERT_EQ(AnonymousMaps::Unmap(p, 4096), 0);
  EXPECT_EQ(AnonymousMaps::Stats().mappings, 0u);
  // A root that points at no table is dropped, not followed.
  uint64_t bad = root_ + 8;
  AnonymousMaps::Install(heap(), &bad, CountedCalls());
  EXPECT_EQ(bad, 0u);
}

}  // namespace
}  // namespace respct::core
