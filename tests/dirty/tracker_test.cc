// Every tracker kind the kernel supports, against the same expectations:
// the written pages are reported (exactly for uffd, within written chunks for
// mprotect, as the populated pages for scan), the LineDiffer then stages exactly
// the changed 64-byte lines, merged, with the bytes of memory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <thread>

#include "runtime/dirty/dirty_tracker.h"
#include "runtime/dirty/line_differ.h"
#include "runtime/dirty/mprotect_tracker.h"
#include "tests/dirty/test_util.h"

namespace respct::dirty {
namespace {

using testing::MergedLines;
using testing::PagesOf;
using testing::Region;
using testing::ResidentPages;
using testing::Span;
using testing::StagedSpans;
using Kind = DirtyTracker::Kind;

class TrackerTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    auto t = DirtyTracker::Create(GetParam());
    if (!t.ok()) {
      GTEST_SKIP() << TrackerKindName(GetParam())
                   << " tracker not supported on this kernel: " << t.status().ToString();
    }
    tracker_ = std::move(t).value();
    auto d = LineDiffer::Create({});
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    differ_ = std::move(d).value();
    auto sb = StagingBuffer::Create(size_t{128} << 20);
    ASSERT_TRUE(sb.ok()) << sb.status().ToString();
    staging_ = std::move(sb).value();
  }

  void TearDown() override {
    // Trackers restore write access to what they tracked before regions unmap.
    tracker_.reset();
  }

  Kind kind() const { return GetParam(); }

  void Track(const Region& r) { Track(r.base(), r.size()); }
  void Track(std::byte* base, size_t len) {
    ASSERT_NE(base, nullptr);
    ASSERT_TRUE(tracker_->Track(base, len).ok());
    ASSERT_TRUE(differ_->AddRange(base, len).ok());
    ranges_.push_back({reinterpret_cast<uintptr_t>(base), len});
  }

  // Changes one byte (so its line differs from the last commit) and records it.
  void Touch(std::byte* p) {
    *reinterpret_cast<volatile unsigned char*>(p) =
        static_cast<unsigned char>(*reinterpret_cast<volatile unsigned char*>(p) + 1);
    const auto a = reinterpret_cast<uintptr_t>(p);
    written_pages_.insert(a & ~(kPageSize - 1));
    changed_lines_.insert(a & ~(kLineSize - 1));
  }

  // The chunk (of the owning range) holding page `a`, for mprotect.
  std::pair<uintptr_t, uintptr_t> ChunkOf(uintptr_t a) const {
    for (const Span& s : ranges_) {
      if (a >= s.addr && a < s.addr + s.len) {
        const size_t chunk = MprotectTracker::ChunkPagesFor(s.len / kPageSize) * kPageSize;
        const uintptr_t cs = s.addr + (a - s.addr) / chunk * chunk;
        return {cs, std::min(cs + chunk, s.addr + s.len)};
      }
    }
    return {0, 0};
  }

  // Collect, check the pages, diff, check the staged lines and bytes; then
  // forget what was written (it is committed now).
  void CollectAndCheck() {
    std::vector<PageRun> runs;
    const Status st = tracker_->Collect(&runs);
    ASSERT_TRUE(st.ok()) << st.ToString();
    for (size_t i = 1; i < runs.size(); ++i) ASSERT_LT(runs[i - 1].addr, runs[i].addr);
    const std::set<uintptr_t> reported = PagesOf(runs);
    for (uintptr_t p : written_pages_) ASSERT_TRUE(reported.count(p)) << "written page not reported";
    switch (kind()) {
      case Kind::kUffd:
        EXPECT_EQ(reported, written_pages_);
        break;
      case Kind::kMprotect:
        for (uintptr_t p : reported) {
          const auto [cs, ce] = ChunkOf(p);
          bool chunk_written = false;
          for (uintptr_t w = cs; w < ce; w += kPageSize) chunk_written |= written_pages_.count(w) > 0;
          EXPECT_TRUE(chunk_written) << "reported page outside any written chunk";
        }
        break;
      default: {
        std::set<uintptr_t> resident;
        for (const Span& s : ranges_) {
          const auto r = ResidentPages(reinterpret_cast<std::byte*>(s.addr), s.len);
          resident.insert(r.begin(), r.end());
        }
        EXPECT_EQ(reported, resident);
      }
    }
    staging_->Clear();
    for (const PageRun& run : runs) ASSERT_TRUE(differ_->Diff(run, staging_.get()).ok());
    bool bytes_match = false;
    EXPECT_EQ(StagedSpans(*staging_, &bytes_match), MergedLines(changed_lines_));
    EXPECT_TRUE(bytes_match);
    written_pages_.clear();
    changed_lines_.clear();
  }

  std::unique_ptr<DirtyTracker> tracker_;
  std::unique_ptr<LineDiffer> differ_;
  std::unique_ptr<StagingBuffer> staging_;
  std::vector<Span> ranges_;
  std::set<uintptr_t> written_pages_;
  std::set<uintptr_t> changed_lines_;
};

TEST_P(TrackerTest, ScatteredSingleBytes) {
  Region r(64);
  Track(r);
  Touch(r.page(0));
  Touch(r.page(3) + 5);
  Touch(r.page(3) + 700);  // same page, another line
  Touch(r.page(40) + 4095);
  Touch(r.page(63) + 64);
  CollectAndCheck();
}

TEST_P(TrackerTest, WholePageAndRangeSpanningPages) {
  Region r(64);
  Track(r);
  for (size_t i = 0; i < kPageSize; i += 8) Touch(r.page(20) + i);
  // Bytes 4000 of page 30 .. 200 of page 32: one span across two page boundaries.
  for (std::byte* p = r.page(30) + 4000; p < r.page(32) + 200; ++p) Touch(p);
  CollectAndCheck();
  EXPECT_EQ(staging_->records(), 2u);
}

TEST_P(TrackerTest, WritesFromTwoThreads) {
  Region r(256);
  Track(r);
  auto writer = [&](size_t first) {
    for (size_t i = first; i < r.pages(); i += 2) {
      volatile auto* p = reinterpret_cast<volatile unsigned char*>(r.page(i) + (i % 64) * 64);
      *p = static_cast<unsigned char>(*p + 1);
    }
  };
  std::thread a(writer, 0), b(writer, 1);
  a.join();
  b.join();
  for (size_t i = 0; i < r.pages(); ++i) {
    const auto addr = reinterpret_cast<uintptr_t>(r.page(i) + (i % 64) * 64);
    written_pages_.insert(addr & ~(kPageSize - 1));
    changed_lines_.insert(addr);
  }
  CollectAndCheck();
}

TEST_P(TrackerTest, CollectWithoutWritesIsEmpty) {
  Region r(32);
  Track(r);
  Touch(r.page(1));
  CollectAndCheck();
  std::vector<PageRun> runs;
  ASSERT_TRUE(tracker_->Collect(&runs).ok());
  if (kind() == Kind::kScan) {
    EXPECT_EQ(PagesOf(runs), ResidentPages(r.base(), r.size()));  // scan re-reports populated pages
  } else {
    EXPECT_TRUE(runs.empty());
  }
  CollectAndCheck();  // and the differ finds nothing new
}

TEST_P(TrackerTest, RearmsOverHundredRounds) {
  Region r(128);
  Track(r);
  std::mt19937 rng(42);
  for (int round = 0; round < 100; ++round) {
    const int writes = 1 + static_cast<int>(rng() % 20);
    for (int w = 0; w < writes; ++w) {
      const size_t off = rng() % r.size();
      if (changed_lines_.count(r.addr() + off / kLineSize * kLineSize) == 0) Touch(r.base() + off);
    }
    ASSERT_NO_FATAL_FAILURE(CollectAndCheck()) << "round " << round;
  }
}

TEST_P(TrackerTest, NeverTouchedPagesWrittenFirstTimeAreCaught) {
  Region r(16);
  Track(r);
  ASSERT_TRUE(ResidentPages(r.base(), r.size()).empty());
  Touch(r.page(7) + 100);
  Touch(r.page(15));
  CollectAndCheck();
  Touch(r.page(8));  // another first touch, after a Collect
  CollectAndCheck();
}

TEST_P(TrackerTest, ReadingUntouchedPagesIsNotAWrite) {
  Region r(16);
  Track(r);
  unsigned sum = 0;
  for (size_t i = 0; i < r.pages(); ++i) sum += *reinterpret_cast<volatile unsigned char*>(r.page(i));
  EXPECT_EQ(sum, 0u);
  CollectAndCheck();  // uffd/mprotect: nothing; scan: the zero-page mappings, no lines
}

TEST_P(TrackerTest, ContentsPresentAtTrackAreReportedOnce) {
  Region r(16);
  std::memset(r.page(2), 0x11, 100);
  std::memset(r.page(9), 0x22, kPageSize);
  Track(r);
  for (size_t i = 0; i < 100; ++i) changed_lines_.insert(r.addr() + 2 * kPageSize + i / 64 * 64);
  for (size_t i = 0; i < kPageSize; i += 64) changed_lines_.insert(r.addr() + 9 * kPageSize + i);
  written_pages_ = {r.addr() + 2 * kPageSize, r.addr() + 9 * kPageSize};
  CollectAndCheck();
  Touch(r.page(5));
  CollectAndCheck();
}

TEST_P(TrackerTest, KernelWritesThroughReadAreCaught) {
  Region r(16);
  Track(r);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const char msg[] = "written by the kernel";
  ASSERT_EQ(write(fds[1], msg, sizeof(msg)), static_cast<ssize_t>(sizeof(msg)));
  std::byte* dst = r.page(4) + 60;  // straddles lines 0 and 1
  tracker_->KernelWillWrite(dst, sizeof(msg));
  ASSERT_EQ(read(fds[0], dst, sizeof(msg)), static_cast<ssize_t>(sizeof(msg)));
  close(fds[0]);
  close(fds[1]);
  written_pages_.insert(r.addr() + 4 * kPageSize);
  changed_lines_.insert(r.addr() + 4 * kPageSize);
  changed_lines_.insert(r.addr() + 4 * kPageSize + 64);
  CollectAndCheck();
}

// A span the kernel may write during a Collect (a thread blocked in a read
// that can return at any moment) is never protected by it, not even for an
// instant, and is reported again at the Collect after: the kernel's write
// right after this Collect succeeds (no EFAULT), and shows up next epoch.
// The same for a Track that covers such a span.
TEST_P(TrackerTest, SpansKeptWritableSurviveCollectAndTrack) {
  Region r(64);
  Track(r.base(), 32 * kPageSize);
  std::byte* dst = r.page(5) + 100;
  std::byte* later = r.page(40) + 8;  // in the part tracked below
  tracker_->KernelWillWrite(dst, 200);
  *reinterpret_cast<volatile char*>(r.page(5)) = 1;  // written this epoch too
  tracker_->KeepWritable(dst, 200);
  tracker_->KeepWritable(later, 64);
  ASSERT_TRUE(tracker_->Track(r.page(32), 32 * kPageSize).ok());
  std::vector<PageRun> first;
  ASSERT_TRUE(tracker_->Collect(&first).ok());
  EXPECT_TRUE(PagesOf(first).count(r.addr() + 5 * kPageSize));

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const char msg[] = "kernel write after the collect";
  for (std::byte* at : {dst, later}) {
    ASSERT_EQ(write(fds[1], msg, sizeof(msg)), static_cast<ssize_t>(sizeof(msg)));
    ASSERT_EQ(read(fds[0], at, sizeof(msg)), static_cast<ssize_t>(sizeof(msg))) << std::strerror(errno);
  }
  close(fds[0]);
  close(fds[1]);
  std::vector<PageRun> runs;
  ASSERT_TRUE(tracker_->Collect(&runs).ok());
  const std::set<uintptr_t> reported = PagesOf(runs);
  EXPECT_TRUE(reported.count(r.addr() + 5 * kPageSize)) << "the kept span was not reported again";
  EXPECT_TRUE(reported.count(r.addr() + 40 * kPageSize)) << "the kept span of the new range was not reported";
  EXPECT_TRUE(tracker_->Untrack(r.page(32), 32 * kPageSize).ok());
}

TEST_P(TrackerTest, ThirtyPercentOf64MiBDirty) {
  Region r((size_t{64} << 20) / kPageSize);
  Track(r);
  std::mt19937 rng(7);
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < r.pages(); ++i) {
      if (rng() % 100 < 30) Touch(r.page(i) + (rng() % kLinesPerPage) * kLineSize);
    }
    ASSERT_NO_FATAL_FAILURE(CollectAndCheck()) << "round " << round;
  }
}

TEST_P(TrackerTest, RangesAddedWhileRunningAndUntracked) {
  Region a(16), b(16);
  Track(a);
  Touch(a.page(3));
  CollectAndCheck();
  Track(b);
  Touch(a.page(4));
  Touch(b.page(5));
  CollectAndCheck();
  ASSERT_TRUE(tracker_->Untrack(a.base(), a.size()).ok());
  ASSERT_TRUE(differ_->RemoveRange(a.base(), a.size()).ok());
  ranges_.erase(ranges_.begin());
  std::memset(a.page(6), 1, 10);  // untracked now: writable, not reported
  Touch(b.page(6));
  CollectAndCheck();
  EXPECT_FALSE(tracker_->Untrack(a.base(), a.size()).ok());
}

TEST_P(TrackerTest, AdjacentRangesAreReportedSeparately) {
  Region r(32);
  Track(r.base(), 16 * kPageSize);
  Track(r.page(16), 16 * kPageSize);
  // Lines 63 of page 15 and 0 of page 16 touch, but belong to different ranges.
  Touch(r.page(15) + kPageSize - 1);
  Touch(r.page(16));
  std::vector<PageRun> runs;
  ASSERT_TRUE(tracker_->Collect(&runs).ok());
  for (const PageRun& run : runs) {
    EXPECT_FALSE(run.addr < r.addr() + 16 * kPageSize && run.end() > r.addr() + 16 * kPageSize)
        << "a run crosses the boundary between two tracked ranges";
    EXPECT_TRUE(differ_->Diff(run, staging_.get()).ok());
  }
  EXPECT_EQ(staging_->records(), 2u);
}

TEST_P(TrackerTest, SharedMemoryMapping) {
  // shmem: uffd needs UFFD_FEATURE_WP_HUGETLBFS_SHMEM (requested when offered).
  Region r(32, /*shared=*/true);
  Track(r);
  Touch(r.page(2) + 10);
  Touch(r.page(17));
  CollectAndCheck();
  Touch(r.page(17) + 2000);
  CollectAndCheck();
}

TEST_P(TrackerTest, OverlappingTrackIsRejected) {
  Region r(8);
  Track(r);
  EXPECT_FALSE(tracker_->Track(r.page(2), 2 * kPageSize).ok());
  EXPECT_FALSE(tracker_->Track(r.page(1) + 1, kPageSize).ok());
}

INSTANTIATE_TEST_SUITE_P(AllKinds, TrackerTest,
                         ::testing::Values(Kind::kUffd, Kind::kMprotect, Kind::kScan),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return std::string(TrackerKindName(info.param));
                         });

}  // namespace
}  // namespace respct::dirty
