// LineDiffer on its own: pages are handed to Diff directly (as if a tracker
// had reported them), so these tests pin the line logic independently of any
// kernel mechanism.
#include "runtime/dirty/line_differ.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <random>

#include "runtime/dirty/shadow_refs.h"
#include "tests/dirty/test_util.h"

namespace respct::dirty {
namespace {

using testing::MergedLines;
using testing::Region;
using testing::Span;
using testing::StagedSpans;

class LineDifferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = LineDiffer::Create({});
    ASSERT_TRUE(d.ok());
    differ_ = std::move(d).value();
    auto sb = StagingBuffer::Create(size_t{4} << 20);
    ASSERT_TRUE(sb.ok());
    staging_ = std::move(sb).value();
    ASSERT_TRUE(differ_->AddRange(region_.base(), region_.size()).ok());
  }

  std::vector<Span> DiffAll(size_t first_page, size_t pages) {
    staging_->Clear();
    EXPECT_TRUE(differ_->Diff(PageRun{region_.addr() + first_page * kPageSize, pages},
                              staging_.get()).ok());
    bool bytes_match = false;
    auto spans = StagedSpans(*staging_, &bytes_match);
    EXPECT_TRUE(bytes_match);
    return spans;
  }

  uintptr_t Line(size_t page, size_t line) const {
    return region_.addr() + page * kPageSize + line * kLineSize;
  }

  Region region_{16};
  std::unique_ptr<LineDiffer> differ_;
  std::unique_ptr<StagingBuffer> staging_;
};

TEST_F(LineDifferTest, FirstWriteShipsOnlyNonZeroLines) {
  region_.page(1)[130] = std::byte{7};
  EXPECT_EQ(DiffAll(0, 4), (std::vector<Span>{{Line(1, 2), 64}}));
  EXPECT_EQ(differ_->stats().pages_dirty, 4u);
  EXPECT_EQ(differ_->stats().bytes_by_pages, 4 * kPageSize);
  EXPECT_EQ(differ_->stats().bytes_shipped, 64u);
  EXPECT_EQ(differ_->stats().records, 1u);
}

TEST_F(LineDifferTest, RewritingTheSameValueShipsNothing) {
  region_.page(0)[0] = std::byte{1};
  DiffAll(0, 1);
  region_.page(0)[0] = std::byte{1};  // page written again, contents unchanged
  region_.page(2)[0] = std::byte{0};  // first write of a zero to a zero page
  EXPECT_TRUE(DiffAll(0, 3).empty());
}

TEST_F(LineDifferTest, AdjacentLinesMergeAcrossPages) {
  region_.page(3)[kPageSize - 1] = std::byte{1};
  region_.page(4)[0] = std::byte{1};
  region_.page(4)[64] = std::byte{1};
  region_.page(4)[200] = std::byte{1};  // line 3: a gap at line 2
  EXPECT_EQ(DiffAll(3, 2), (std::vector<Span>{{Line(3, 63), 192}, {Line(4, 3), 64}}));
}

TEST_F(LineDifferTest, WholeRunChangedIsOneRecord) {
  std::memset(region_.page(5), 0xAB, 3 * kPageSize);
  EXPECT_EQ(DiffAll(5, 3), (std::vector<Span>{{Line(5, 0), 3 * kPageSize}}));
}

TEST_F(LineDifferTest, AlternatingLines) {
  std::set<uintptr_t> lines;
  for (size_t l = 0; l < kLinesPerPage; l += 2) {
    region_.page(6)[l * kLineSize + 63] = std::byte{3};
    lines.insert(Line(6, l));
  }
  EXPECT_EQ(DiffAll(6, 1), MergedLines(lines));
  EXPECT_EQ(staging_->records(), 32u);
}

TEST_F(LineDifferTest, CompareKernelsAgree) {
  std::mt19937 rng(1);
  for (CompareImpl impl : {CompareImpl::kAvx2, CompareImpl::kSse2, CompareImpl::kMemcmp}) {
    const ChangedLinesFn fn = ChangedLinesFor(impl);
    if (fn == nullptr) continue;  // CPU without AVX2
    for (int trial = 0; trial < 200; ++trial) {
      alignas(4096) static std::byte a[kPageSize], b[kPageSize];
      for (auto& x : a) x = static_cast<std::byte>(rng());
      std::memcpy(b, a, kPageSize);
      uint64_t expect = 0;
      for (int k = static_cast<int>(rng() % 10); k > 0; --k) {
        const size_t off = rng() % kPageSize;
        b[off] = static_cast<std::byte>(~static_cast<unsigned char>(a[off]));
        expect |= uint64_t{1} << (off / kLineSize);
      }
      EXPECT_EQ(fn(a, b), expect) << CompareImplName(impl);
    }
  }
}

TEST_F(LineDifferTest, PageGranularityShipsWholePages) {
  auto d = LineDiffer::Create({LineDiffer::Granularity::kPage, CompareImpl::kAuto});
  ASSERT_TRUE(d.ok());
  Region r(4);
  ASSERT_TRUE((*d)->AddRange(r.base(), r.size()).ok());
  r.page(1)[5] = std::byte{1};
  staging_->Clear();
  ASSERT_TRUE((*d)->Diff(PageRun{r.addr() + kPageSize, 2}, staging_.get()).ok());
  bool bytes_match = false;
  EXPECT_EQ(StagedSpans(*staging_, &bytes_match),
            (std::vector<Span>{{r.addr() + kPageSize, 2 * kPageSize}}));
  EXPECT_TRUE(bytes_match);
  EXPECT_EQ((*d)->stats().bytes_shipped, 2 * kPageSize);
}

TEST_F(LineDifferTest, FullSinkIsRestartable) {
  for (size_t l = 0; l < kLinesPerPage; l += 2) region_.page(7)[l * kLineSize] = std::byte{9};
  // 32 separate lines, a sink that takes 10 records per epoch: four passes.
  class TinySink : public DiffSink {
   public:
    std::byte* Reserve(uintptr_t addr, size_t len) override {
      if (spans.size() == 10) return nullptr;
      spans.push_back({addr, len});
      return buf + 64 * (spans.size() - 1);
    }
    std::vector<Span> spans;
    std::byte buf[64 * 10];
  };
  std::vector<Span> all;
  for (int pass = 0; pass < 10; ++pass) {
    TinySink sink;
    const Status st = differ_->Diff(PageRun{region_.addr() + 7 * kPageSize, 1}, &sink);
    all.insert(all.end(), sink.spans.begin(), sink.spans.end());
    if (st.ok()) break;
    ASSERT_EQ(st.code(), Status::Code::kResourceExhausted);
  }
  std::set<uintptr_t> lines;
  for (size_t l = 0; l < kLinesPerPage; l += 2) lines.insert(Line(7, l));
  EXPECT_EQ(all, MergedLines(lines));
}

TEST_F(LineDifferTest, ZeroCopySinkReferencesTheShadow) {
  auto refs = ShadowRefs::Create(4);  // fewer than the 6 ranges below: restarts
  ASSERT_TRUE(refs.ok());
  std::set<uintptr_t> lines;
  for (size_t l : {0, 1, 5, 9, 20, 40, 63}) {
    region_.page(8)[l * kLineSize + 1] = std::byte{0x5A};
    lines.insert(Line(8, l));
  }
  std::vector<Span> spans;
  for (int pass = 0; pass < 3; ++pass) {
    (*refs)->Clear();
    const Status st = differ_->Diff(PageRun{region_.addr() + 8 * kPageSize, 1}, refs->get());
    for (const ShadowRefs::Ref& r : **refs) {
      spans.push_back({r.addr, r.len});
      EXPECT_EQ(std::memcmp(r.bytes, reinterpret_cast<const void*>(r.addr), r.len), 0);
      EXPECT_NE(reinterpret_cast<uintptr_t>(r.bytes), r.addr);  // a stable copy, not live memory
    }
    if (st.ok()) break;
    ASSERT_EQ(st.code(), Status::Code::kResourceExhausted);
  }
  EXPECT_EQ(spans, MergedLines(lines));
  EXPECT_EQ(differ_->stats().bytes_shipped, 7 * kLineSize);
}

// After a recovery the shadow is the image file, mapped copy-on-write: lines
// equal to the file ship nothing, changed lines ship, and updating the shadow
// never writes the file.
TEST_F(LineDifferTest, ShadowSeededFromAFileShipsOnlyWhatDiffersFromIt) {
  char path[] = "/tmp/respct-seed-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  // The file: one header page, then pages 0..2 of the region (the last one
  // only half stored: the file ends there).
  std::vector<std::byte> file(kPageSize + 2 * kPageSize + kPageSize / 2, std::byte{0});
  for (size_t i = kPageSize; i < file.size(); ++i) file[i] = static_cast<std::byte>(i * 7 + 1);
  ASSERT_EQ(pwrite(fd, file.data(), file.size(), 0), static_cast<ssize_t>(file.size()));
  std::memcpy(region_.base(), file.data() + kPageSize, file.size() - kPageSize);
  ASSERT_TRUE(differ_->SeedShadow(region_.base(), file.size() - kPageSize, fd, kPageSize).ok());

  EXPECT_TRUE(DiffAll(0, 4).empty());
  region_.page(1)[200] ^= std::byte{0xff};
  region_.page(2)[kPageSize / 2 + 64] = std::byte{9};  // past the stored bytes: the shadow reads zero there
  EXPECT_EQ(DiffAll(0, 4), (std::vector<Span>{{Line(1, 3), 64}, {Line(2, kPageSize / kLineSize / 2 + 1), 64}}));
  EXPECT_TRUE(DiffAll(0, 4).empty());

  std::vector<std::byte> after(file.size());
  ASSERT_EQ(pread(fd, after.data(), after.size(), 0), static_cast<ssize_t>(after.size()));
  EXPECT_EQ(after, file);
  EXPECT_FALSE(differ_->SeedShadow(region_.base() + 1, 64, fd, kPageSize).ok());
  close(fd);
}

TEST_F(LineDifferTest, RunOutsideRangesIsRejected) {
  EXPECT_FALSE(differ_->Diff(PageRun{region_.addr() + 15 * kPageSize, 2}, staging_.get()).ok());
  EXPECT_FALSE(differ_->Diff(PageRun{region_.addr() - kPageSize, 1}, staging_.get()).ok());
  EXPECT_FALSE(differ_->AddRange(region_.page(3), kPageSize).ok());  // overlaps
}

TEST(StagingBufferTest, RecordsRoundTrip) {
  auto sb = StagingBuffer::Create(4096);
  ASSERT_TRUE(sb.ok());
  std::byte* p = (*sb)->Reserve(0x1000, 3);
  ASSERT_NE(p, nullptr);
  std::memcpy(p, "abc", 3);
  ASSERT_NE((*sb)->Reserve(0x2000, 64), nullptr);
  EXPECT_EQ((*sb)->records(), 2u);
  EXPECT_EQ((*sb)->payload_bytes(), 67u);
  EXPECT_EQ((*sb)->Reserve(0x3000, 8192), nullptr);
  std::vector<std::pair<uintptr_t, size_t>> seen;
  (*sb)->ForEach([&](uintptr_t a, const std::byte*, size_t n) { seen.emplace_back(a, n); });
  EXPECT_EQ(seen, (std::vector<std::pair<uintptr_t, size_t>>{{0x1000, 3}, {0x2000, 64}}));
  (*sb)->Clear();
  EXPECT_EQ((*sb)->records(), 0u);
}

}  // namespace
}  // namespace respct::dirty
