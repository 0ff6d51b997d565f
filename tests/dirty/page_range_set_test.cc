// PageRangeSet (runtime/dirty/page_range_set.h): the checks and lookups the
// trackers and the line differ share. Pure bookkeeping, no memory touched.
#include "runtime/dirty/page_range_set.h"

#include <gtest/gtest.h>

#include <vector>

namespace respct::dirty {
namespace {

constexpr uintptr_t kBase = uintptr_t{1} << 40;
constexpr uintptr_t Page(size_t i) { return kBase + i * kPageSize; }

std::vector<uintptr_t> Starts(const PageRangeSet<int>& set) {
  std::vector<uintptr_t> out;
  for (const auto& e : set) out.push_back(e.start);
  return out;
}

TEST(PageRangeSet, RefusesEmptyUnalignedAndWrappingRanges) {
  PageRangeSet<> set;
  EXPECT_EQ(set.CheckInsertable(Page(0), 0, "t").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(set.CheckInsertable(Page(0) + 8, kPageSize, "t").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(set.CheckInsertable(Page(0), kPageSize + 1, "t").code(), Status::Code::kInvalidArgument);
  const uintptr_t top = ~uintptr_t{0} - (kPageSize - 1);  // the last page of the address space
  EXPECT_EQ(set.CheckInsertable(top, 2 * kPageSize, "t").code(), Status::Code::kInvalidArgument);
  const Status st = set.CheckInsertable(Page(0), 0, "uffd tracker: Track");
  EXPECT_EQ(st.message().rfind("uffd tracker: Track", 0), 0u) << st.ToString();
}

TEST(PageRangeSet, KeepsRangesSortedWhateverTheInsertionOrder) {
  PageRangeSet<int> set;
  for (size_t i : {6, 0, 3}) {
    ASSERT_TRUE(set.CheckInsertable(Page(i), 2 * kPageSize, "t").ok()) << i;
    set.Insert(Page(i), 2 * kPageSize, static_cast<int>(i));
  }
  EXPECT_EQ(Starts(set), (std::vector<uintptr_t>{Page(0), Page(3), Page(6)}));
  EXPECT_EQ(set.count(), 3u);
}

TEST(PageRangeSet, RefusesEveryKindOfOverlapAndAcceptsAdjacentRanges) {
  PageRangeSet<int> set;
  set.Insert(Page(4), 4 * kPageSize);  // [4, 8)
  EXPECT_FALSE(set.CheckInsertable(Page(4), 4 * kPageSize, "t").ok());  // the same
  EXPECT_FALSE(set.CheckInsertable(Page(2), 3 * kPageSize, "t").ok());  // across its start
  EXPECT_FALSE(set.CheckInsertable(Page(7), 2 * kPageSize, "t").ok());  // across its end
  EXPECT_FALSE(set.CheckInsertable(Page(5), kPageSize, "t").ok());      // inside
  EXPECT_FALSE(set.CheckInsertable(Page(0), 16 * kPageSize, "t").ok()); // around
  EXPECT_TRUE(set.CheckInsertable(Page(0), 4 * kPageSize, "t").ok());   // ends where it starts
  EXPECT_TRUE(set.CheckInsertable(Page(8), 4 * kPageSize, "t").ok());   // starts where it ends
}

TEST(PageRangeSet, FindsExactRangesOnly) {
  PageRangeSet<int> set;
  set.Insert(Page(0), 2 * kPageSize, 10);
  set.Insert(Page(4), 2 * kPageSize, 20);
  ASSERT_NE(set.FindExact(Page(4), 2 * kPageSize), nullptr);
  EXPECT_EQ(set.FindExact(Page(4), 2 * kPageSize)->value, 20);
  EXPECT_EQ(set.FindExact(Page(4), kPageSize), nullptr);
  EXPECT_EQ(set.FindExact(Page(5), kPageSize), nullptr);
  EXPECT_EQ(set.FindExact(Page(2), 2 * kPageSize), nullptr);
}

TEST(PageRangeSet, FindsTheRangeHoldingASpanAndNoneForASpanAcrossTwo) {
  PageRangeSet<int> set;
  set.Insert(Page(0), 2 * kPageSize, 10);
  set.Insert(Page(2), 2 * kPageSize, 20);  // adjacent
  ASSERT_NE(set.FindContaining(Page(3) + 100, 0), nullptr);
  EXPECT_EQ(set.FindContaining(Page(3) + 100, 0)->value, 20);
  EXPECT_EQ(set.FindContaining(Page(0), 2 * kPageSize)->value, 10);
  EXPECT_EQ(set.FindContaining(Page(1), 2 * kPageSize), nullptr);  // crosses into the next range
  EXPECT_EQ(set.FindContaining(Page(4), 0), nullptr);              // the end is not inside
  EXPECT_EQ(set.FindContaining(kBase - 1, 0), nullptr);            // below the first
  EXPECT_EQ(set.FindContaining(Page(3), 2 * kPageSize), nullptr);  // past the last
}

TEST(PageRangeSet, EraseRemovesOnlyThatRangeAndFreesItsAddresses) {
  PageRangeSet<int> set;
  for (size_t i : {0, 2, 4}) set.Insert(Page(i), kPageSize, static_cast<int>(i));
  set.Erase(set.FindExact(Page(2), kPageSize));
  EXPECT_EQ(Starts(set), (std::vector<uintptr_t>{Page(0), Page(4)}));
  EXPECT_EQ(set.FindContaining(Page(2), 0), nullptr);
  EXPECT_TRUE(set.CheckInsertable(Page(2), kPageSize, "t").ok());
  set.Erase(set.FindContaining(Page(4), 0));
  set.Erase(set.FindContaining(Page(0), 0));
  EXPECT_TRUE(set.empty());
}

}  // namespace
}  // namespace respct::dirty
