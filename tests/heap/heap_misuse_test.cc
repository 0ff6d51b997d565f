// Misuse the heap detects: each aborts with one line on stderr.
// Addresses used: k = 40..49.
#include <cstdlib>

#include "tests/heap/scoped_test_heap.h"

namespace respct::heap {
namespace {

using HeapMisuseDeathTest = ::testing::Test;

TEST_F(HeapMisuseDeathTest, FreeInsideASmallBlockAborts) {
  EXPECT_DEATH(
      {
        ScopedTestHeap heap(40, size_t{1} << 30);
        char* p = static_cast<char*>(heap->Malloc(100));
        heap->Free(p + 16);
      },
      "respct heap: free of a pointer that is not the start of a block \\(pointer 0x");
}

TEST_F(HeapMisuseDeathTest, FreeInsideALargeBlockAborts) {
  EXPECT_DEATH(
      {
        ScopedTestHeap heap(41, size_t{1} << 30);
        char* p = static_cast<char*>(heap->Malloc(100000));
        heap->Free(p + kHeapPageSize);
      },
      "not the start of a block");
}

TEST_F(HeapMisuseDeathTest, ImmediateDoubleFreeAborts) {
  EXPECT_DEATH(
      {
        ScopedTestHeap heap(42, size_t{1} << 30);
        void* p = heap->Malloc(32);
        heap->Free(p);
        heap->Free(p);
      },
      "double free of a small block");
}

TEST_F(HeapMisuseDeathTest, LargeDoubleFreeAborts) {
  EXPECT_DEATH(
      {
        ScopedTestHeap heap(43, size_t{1} << 30);
        void* p = heap->Malloc(5 << 20);
        heap->Free(p);
        heap->Free(p);
      },
      "double free of a large block");
}

TEST_F(HeapMisuseDeathTest, DoubleFreeReachingTheSpanAborts) {
  EXPECT_DEATH(
      {
        ScopedTestHeap heap(44, size_t{1} << 30);
        void* p = heap->Malloc(20000);
        heap->Free(p);
        heap->ReleaseThreadCache();  // p is back in its span, none out
        heap->Free(p);
        heap->ReleaseThreadCache();
      },
      "double free of a small block");
}

TEST_F(HeapMisuseDeathTest, ForeignPointerAborts) {
  EXPECT_DEATH(
      {
        ScopedTestHeap heap(45, size_t{1} << 30);
        void* from_libc = std::malloc(64);  // glibc's, in a non-preloaded test
        heap->Free(from_libc);
      },
      "free of a pointer this heap did not allocate");
}

TEST_F(HeapMisuseDeathTest, FreeOfMetadataAborts) {
  EXPECT_DEATH(
      {
        ScopedTestHeap heap(46, size_t{1} << 30);
        heap->Free(reinterpret_cast<char*>(heap.get()) + 4096);
      },
      "heap's own metadata");
}

}  // namespace
}  // namespace respct::heap
