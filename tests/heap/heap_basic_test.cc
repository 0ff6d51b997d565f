// Single-threaded behaviour of Heap: sizes, alignment, zeroing, realloc,
// usable size, ownership, stats, Create/Attach argument checks.
// Addresses used: k = 1..19.
#include <sys/mman.h>

#include <cstring>
#include <vector>

#include "tests/heap/scoped_test_heap.h"

namespace respct::heap {
namespace {

bool IsAligned(const void* p, size_t a) { return reinterpret_cast<uintptr_t>(p) % a == 0; }

TEST(HeapBasic, EverySizeUpTo1MiBIsAlignedUsableAndOwned) {
  ScopedTestHeap heap(1);
  std::vector<std::pair<char*, size_t>> blocks;
  for (size_t n = 0; n <= (1u << 20); n = n < 1024 ? n + 1 : n + n / 7 + 1) {
    char* p = static_cast<char*>(heap->Malloc(n));
    ASSERT_NE(p, nullptr) << n;
    EXPECT_TRUE(IsAligned(p, 16)) << n;
    EXPECT_TRUE(heap->Owns(p));
    EXPECT_GE(heap->UsableSize(p), n);
    if (n > kMaxSmallSize) {
      EXPECT_TRUE(IsAligned(p, kHeapPageSize));
    } else {
      // Rounding to a class wastes at most 12.5 % (or 15 B for tiny sizes).
      EXPECT_LE(heap->UsableSize(p), n + n / 8 + 16) << n;
    }
    std::memset(p, static_cast<int>(n & 0xff), n);
    blocks.emplace_back(p, n);
  }
  for (auto [p, n] : blocks) {
    for (size_t i = 0; i < n; i += 97) ASSERT_EQ(static_cast<unsigned char>(p[i]), n & 0xff);
    heap->Free(p);
  }
  HeapStats stats;
  heap->ReadStats(&stats);
  EXPECT_EQ(stats.bytes_in_use, 0u);
}

TEST(HeapBasic, HugeAllocationsAndExhaustion) {
  ScopedTestHeap heap(2, size_t{4} << 30);
  void* big = heap->Malloc(size_t{1} << 30);
  ASSERT_NE(big, nullptr);
  static_cast<char*>(big)[0] = 1;
  static_cast<char*>(big)[(size_t{1} << 30) - 1] = 2;
  EXPECT_EQ(heap->Malloc(size_t{8} << 30), nullptr);
  EXPECT_EQ(heap->Malloc(SIZE_MAX), nullptr);
  EXPECT_EQ(heap->Calloc(SIZE_MAX / 2, 3), nullptr);
  EXPECT_EQ(heap->Memalign(size_t{1} << 40, 16), nullptr);
  heap->Free(big);
  HeapStats stats;
  heap->ReadStats(&stats);
  EXPECT_EQ(stats.large_bytes_in_use, 0u);
  EXPECT_GE(stats.released_bytes, size_t{1} << 30);
  // The freed gigabyte is reused, not taken from fresh address space.
  void* again = heap->Malloc(size_t{1} << 30);
  EXPECT_EQ(again, big);
  heap->Free(again);
}

TEST(HeapBasic, MemalignHonoursEveryAlignment) {
  ScopedTestHeap heap(3);
  std::vector<void*> live;
  for (size_t align = 32; align <= (1u << 20); align *= 2) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{100}, align - 1, align, align + 1, size_t{40000}}) {
      void* p = heap->Memalign(align, n);
      ASSERT_NE(p, nullptr) << align << " " << n;
      EXPECT_TRUE(IsAligned(p, align)) << align << " " << n;
      EXPECT_GE(heap->UsableSize(p), n);
      std::memset(p, 0xab, n);
      live.push_back(p);
    }
  }
  EXPECT_EQ(heap->Memalign(48, 10), nullptr);
  EXPECT_EQ(heap->Memalign(0, 10), nullptr);
  EXPECT_TRUE(IsAligned(heap->Memalign(8, 10), 16));
  for (void* p : live) heap->Free(p);
}

TEST(HeapBasic, CallocZeroesFreshAndReusedBlocks) {
  ScopedTestHeap heap(4);
  for (size_t n : {size_t{1}, size_t{24}, size_t{500}, size_t{4096}, size_t{32768}, size_t{100000},
                   size_t{3} << 20}) {
    for (int round = 0; round < 3; ++round) {
      std::vector<unsigned char*> dirty;
      for (int i = 0; i < 8; ++i) {
        auto* p = static_cast<unsigned char*>(heap->Malloc(n));
        std::memset(p, 0xff, n);
        dirty.push_back(p);
      }
      for (auto* p : dirty) heap->Free(p);
      for (int i = 0; i < 8; ++i) {
        auto* p = static_cast<unsigned char*>(heap->Calloc(1, n));
        ASSERT_NE(p, nullptr);
        ASSERT_EQ(p[0], 0);
        ASSERT_EQ(std::memcmp(p, p + 1, n - 1), 0) << n;
        dirty[i] = p;
      }
      for (auto* p : dirty) heap->Free(p);
    }
  }
  void* zero = heap->Calloc(0, 10);
  EXPECT_NE(zero, nullptr);
  heap->Free(zero);
}

TEST(HeapBasic, ReallocPreservesBytesWhenGrowingAndShrinking) {
  ScopedTestHeap heap(5);
  auto* p = static_cast<unsigned char*>(heap->Realloc(nullptr, 10));
  size_t n = 10;
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(i * 7);
  const size_t sizes[] = {20, 200, 5000, 40000, 2 << 20, 300, 17, 1 << 20, 8, 64000, 1};
  for (size_t m : sizes) {
    p = static_cast<unsigned char*>(heap->Realloc(p, m));
    ASSERT_NE(p, nullptr);
    EXPECT_GE(heap->UsableSize(p), m);
    for (size_t i = 0; i < std::min(n, m); ++i) ASSERT_EQ(p[i], static_cast<unsigned char>(i * 7)) << m;
    for (size_t i = n; i < m; ++i) p[i] = static_cast<unsigned char>(i * 7);
    n = m;
  }
  EXPECT_EQ(heap->Realloc(p, 0), nullptr);
  HeapStats stats;
  heap->ReadStats(&stats);
  EXPECT_EQ(stats.bytes_in_use, 0u);
}

TEST(HeapBasic, OwnsIsARangeCheck) {
  ScopedTestHeap heap(6, size_t{1} << 30);
  EXPECT_EQ(heap->reserve_bytes(), size_t{1} << 30);
  EXPECT_EQ(heap->base(), reinterpret_cast<uintptr_t>(TestHeapAddress(6)));
  void* p = heap->Malloc(100);
  EXPECT_TRUE(heap->Owns(p));
  EXPECT_TRUE(heap->Owns(heap.get()));
  EXPECT_FALSE(heap->Owns(static_cast<char*>(static_cast<void*>(heap.get())) + (size_t{1} << 30)));
  int on_stack;
  EXPECT_FALSE(heap->Owns(&on_stack));
  EXPECT_FALSE(heap->Owns(nullptr));
  heap->Free(p);
  heap->Free(nullptr);
}

TEST(HeapBasic, StatsCountBlocksPerClass) {
  ScopedTestHeap heap(7);
  std::vector<void*> v;
  for (int i = 0; i < 1000; ++i) v.push_back(heap->Malloc(48));
  v.push_back(heap->Malloc(100000));
  HeapStats stats;
  heap->ReadStats(&stats);
  const unsigned c = SizeClassOf(48);
  EXPECT_EQ(stats.classes[c].block_size, 48u);
  EXPECT_EQ(stats.classes[c].blocks_in_use, 1000u);
  EXPECT_GE(stats.classes[c].spans, 1u);
  EXPECT_EQ(stats.large_allocations, 1u);
  EXPECT_EQ(stats.large_bytes_in_use, 13 * kHeapPageSize);
  EXPECT_EQ(stats.bytes_in_use, 1000 * 48 + 13 * kHeapPageSize);
  EXPECT_GT(stats.mapped_bytes, stats.bytes_in_use);
  EXPECT_EQ(stats.reserved_bytes, kDefaultTestReserve);
  for (void* p : v) heap->Free(p);
  heap->ReadStats(&stats);
  EXPECT_EQ(stats.bytes_in_use, 0u);
}

TEST(HeapBasic, SizeClassesWasteAtMostAnEighth) {
  for (size_t n = 1; n <= kMaxSmallSize; ++n) {
    const size_t s = kSizeClasses.block_size[SizeClassOf(n)];
    ASSERT_GE(s, n);
    if (n > 128) {
      ASSERT_LE((s - n) * 8, n) << n;
    }
  }
  for (unsigned c = 0; c < kNumSizeClasses; ++c) {
    const size_t span = kSizeClasses.span_pages[c] * kHeapPageSize;
    EXPECT_LE((span % kSizeClasses.block_size[c]) * 8, span) << c;
  }
}

TEST(HeapBasic, CreateRejectsBadArgumentsAndOccupiedRanges) {
  EXPECT_FALSE(Heap::Create(static_cast<char*>(TestHeapAddress(8)) + 4096, size_t{1} << 30).ok());
  EXPECT_FALSE(Heap::Create(TestHeapAddress(8), 4096).ok());
  ScopedTestHeap heap(9, size_t{1} << 30);
  Result<Heap*> again = Heap::Create(TestHeapAddress(9), size_t{1} << 30);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("overlaps an existing mapping"), std::string::npos)
      << again.status().ToString();
  Result<Heap*> twice = Heap::Attach(TestHeapAddress(9));
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("already"), std::string::npos);
}

TEST(HeapBasic, AttachRejectsUnmappedAndUnformattedRegions) {
  Result<Heap*> none = Heap::Attach(TestHeapAddress(10));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("nothing is mapped"), std::string::npos);

  void* m = mmap(TestHeapAddress(11), size_t{64} << 20, PROT_READ | PROT_WRITE,
                 MAP_FIXED_NOREPLACE | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_EQ(m, TestHeapAddress(11));
  Result<Heap*> zero = Heap::Attach(m);
  ASSERT_FALSE(zero.ok());
  EXPECT_TRUE(zero.status().IsCorruption());
  EXPECT_NE(zero.status().message().find("bad magic"), std::string::npos);
  munmap(m, size_t{64} << 20);
}

TEST(HeapBasic, SeveralHeapsAtOnceStayApart) {
  ScopedTestHeap a(12, size_t{1} << 30);
  ScopedTestHeap b(13, size_t{1} << 30);
  std::vector<void*> pa, pb;
  for (int i = 0; i < 500; ++i) {
    pa.push_back(a->Malloc(64));
    pb.push_back(b->Malloc(64));
    EXPECT_TRUE(a->Owns(pa.back()) && !b->Owns(pa.back()));
    EXPECT_TRUE(b->Owns(pb.back()) && !a->Owns(pb.back()));
  }
  for (void* p : pa) {
    a->Free(p);
  }
  for (void* p : pb) b->Free(p);
}

TEST(HeapBasic, DestroyedHeapSlotIsReusedSafely) {
  // A thread binding to a destroyed heap must not be used for its successor.
  for (int round = 0; round < 20; ++round) {
    ScopedTestHeap heap(14, size_t{1} << 30);
    void* p = heap->Malloc(32);
    ASSERT_NE(p, nullptr);
    heap->Free(p);
  }
}

}  // namespace
}  // namespace respct::heap
