// The per-app epoch history ring (memnode/pool_layout.h) and the written
// ranges read back from the log ring: an entry per committed epoch, the last
// kEpochHistoryEntries kept across a wrap, a torn entry dropped (and only
// that one) after a reopen, and records overwritten by a later ring lap
// reported as such instead of being misread; an epoch that jumps ahead (a
// replica caught up) replayed after a reopen only where its history entry
// vouches for it.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "memnode/pool.h"
#include "memnode/pool_layout.h"
#include "tests/memnode/test_util.h"

namespace respct::memnode {
namespace {

using testing::EpochBuilder;
using testing::Region;

constexpr uint64_t kPool = 64ull << 20;
constexpr uint64_t kSize1 = 256 << 10;

class HistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Thousands of commits: on tmpfs each msync is cheap.
    char tmpl[] = "/dev/shm/history-test.XXXXXX";
    char tmpl_tmp[] = "/tmp/history-test.XXXXXX";
    const char* d = mkdtemp(tmpl);
    dir_ = d != nullptr ? d : mkdtemp(tmpl_tmp);
    path_ = dir_ + "/pool";
    Open();
    Pool::AttachRequest r;
    r.name = "app";
    r.regions = {Region(1, kSize1)};
    r.create = true;
    r.ring_capacity = wire::kMinRingCapacity;
    auto app = pool_->Attach(r);
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    app_ = *app;
  }
  void TearDown() override {
    pool_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    pool_.reset();
    auto pool = Pool::Open(path_, kPool, Pool::OpenMode::kReadWrite);
    ASSERT_TRUE(pool.ok()) << pool.status().ToString();
    pool_ = std::move(pool).value();
    app_ = pool_->Find("app");
  }
  // Commits one epoch writing `len` bytes at each of `offsets`.
  void CommitEpoch(const std::vector<uint64_t>& offsets, size_t len) {
    EpochBuilder b(app_);
    for (uint64_t off : offsets) ASSERT_TRUE(b.Add(1, off, std::vector<uint8_t>(len, static_cast<uint8_t>(off))));
    ASSERT_TRUE(b.CommitAndApply().ok());
  }
  uint64_t HistorySlotOffset(uint64_t epoch) const {
    AppEntry e;
    const int fd = open(path_.c_str(), O_RDONLY);
    EXPECT_EQ(pread(fd, &e, sizeof e, static_cast<off_t>(kAppTableOffset)), static_cast<ssize_t>(sizeof e));
    close(fd);
    return e.history_offset + (epoch % e.history_entries) * sizeof(EpochHistoryEntry);
  }
  void Overwrite(uint64_t file_offset, const void* bytes, size_t n) {
    const int fd = open(path_.c_str(), O_RDWR);
    ASSERT_EQ(pwrite(fd, bytes, n, static_cast<off_t>(file_offset)), static_cast<ssize_t>(n));
    close(fd);
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<Pool> pool_;
  App* app_ = nullptr;
};

TEST_F(HistoryTest, OneEntryPerCommitWithItsRecordsAndRingSpan) {
  CommitEpoch({0, 4096}, 100);
  CommitEpoch({}, 0);
  CommitEpoch({128}, 1000);
  const std::vector<wire::EpochInfo> h = app_->EpochHistory(0, 100);
  ASSERT_EQ(h.size(), 3u);
  const uint64_t bytes[] = {200, 0, 1000};
  const uint64_t records[] = {2, 0, 1};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(h[i].epoch, i + 1);
    EXPECT_EQ(h[i].payload_bytes, bytes[i]);
    EXPECT_EQ(h[i].record_count, records[i]);
    EXPECT_GT(h[i].commit_unix_ns, 0u);
    EXPECT_LT(h[i].first_pos, h[i].end_pos);
    if (i > 0) {
      EXPECT_EQ(h[i].first_pos, h[i - 1].end_pos);
      EXPECT_GE(h[i].commit_unix_ns, h[i - 1].commit_unix_ns);
    }
  }
  EXPECT_EQ(h.back().end_pos, app_->Position().ring_tail);
  // A sub-range, and a range past the committed epoch (clipped).
  EXPECT_EQ(app_->EpochHistory(2, 2).size(), 1u);
  EXPECT_EQ(app_->EpochHistory(3, 50).size(), 1u);
}

TEST_F(HistoryTest, WrapKeepsTheLastEntries) {
  const uint64_t total = kEpochHistoryEntries + 10;
  for (uint64_t e = 1; e <= total; ++e) CommitEpoch({}, 0);
  const std::vector<wire::EpochInfo> h = app_->EpochHistory(0, total);
  ASSERT_EQ(h.size(), kEpochHistoryEntries);
  EXPECT_EQ(h.front().epoch, total - kEpochHistoryEntries + 1);
  EXPECT_EQ(h.back().epoch, total);
  EXPECT_TRUE(app_->EpochHistory(1, 10).empty()) << "overwritten slots must not show older epochs";
  // And the same after a restart: the history is in the pool.
  Open();
  EXPECT_EQ(app_->EpochHistory(0, total).size(), kEpochHistoryEntries);
}

TEST_F(HistoryTest, TornEntryIsDroppedAloneAfterReopen) {
  for (int i = 0; i < 3; ++i) CommitEpoch({64u * i}, 64);
  pool_.reset();
  // A crash in the middle of rewriting epoch 2's slot for a later epoch:
  // only the first word of the new entry reached the media.
  const uint64_t later = 2 + kEpochHistoryEntries;
  Overwrite(HistorySlotOffset(2), &later, sizeof later);
  Open();
  ASSERT_NE(app_, nullptr);
  ASSERT_TRUE(app_->health().ok()) << app_->health().ToString();
  const std::vector<wire::EpochInfo> h = app_->EpochHistory(0, 10);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].epoch, 1u);
  EXPECT_EQ(h[1].epoch, 3u);
  auto w = app_->WrittenRanges(0, 3);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_EQ(w->size(), 3u);
  EXPECT_EQ((*w)[0].status, wire::WritesStatus::kPresent);
  EXPECT_EQ((*w)[1].status, wire::WritesStatus::kPresent) << "epoch 1's scan reaches epoch 2 through the ring";
  EXPECT_EQ((*w)[2].status, wire::WritesStatus::kPresent);
  // Without epoch 1's entry as a starting point, epoch 2 cannot be located.
  auto only2 = app_->WrittenRanges(1, 3);
  ASSERT_TRUE(only2.ok());
  EXPECT_EQ((*only2)[0].status, wire::WritesStatus::kNoHistory);
  EXPECT_EQ((*only2)[1].status, wire::WritesStatus::kPresent);
}

// A replica that missed epochs 3..6 is caught up with one epoch numbered 7
// (runtime/core/replicator.h). Committed but not applied, it must come back
// from the ring after a restart, its epoch number intact, and the epochs it
// skipped must read as unknown, not as empty.
TEST_F(HistoryTest, EpochThatJumpsAheadIsReplayedAfterReopen) {
  CommitEpoch({0}, 64);
  CommitEpoch({64}, 64);
  {
    EpochBuilder b(app_);
    b.JumpTo(7);
    ASSERT_TRUE(b.Add(1, 128, std::vector<uint8_t>(64, 7)));
    ASSERT_TRUE(b.Commit().ok());
    ASSERT_TRUE(b.Add(1, 192, std::vector<uint8_t>(64, 8)));
    ASSERT_TRUE(b.Commit().ok());  // epoch 8, the one after the jump
  }
  EXPECT_EQ(app_->Position().committed_epoch, 8u);
  // An epoch at or below the committed one is still refused.
  {
    EpochBuilder b(app_);
    b.JumpTo(8);
    ASSERT_TRUE(b.Add(1, 0, std::vector<uint8_t>(64, 1)));
    EXPECT_FALSE(b.Commit().ok());
  }
  Open();
  ASSERT_NE(app_, nullptr);
  ASSERT_TRUE(app_->health().ok()) << app_->health().ToString();
  EXPECT_EQ(app_->Position().committed_epoch, 8u);
  const std::vector<uint8_t> img = testing::ReadRegion(app_, 1, kSize1);
  EXPECT_EQ(img[128], 7);
  EXPECT_EQ(img[192], 8);
  auto w = app_->WrittenRanges(2, 8);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_EQ(w->size(), 6u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ((*w)[i].status, wire::WritesStatus::kNoHistory) << "epoch " << 3 + i;
  EXPECT_EQ((*w)[4].status, wire::WritesStatus::kPresent);
  ASSERT_EQ((*w)[4].ranges.size(), 1u);
  EXPECT_EQ((*w)[4].ranges[0].offset, 128u);
  EXPECT_EQ((*w)[5].status, wire::WritesStatus::kPresent);
}

// The ring alone cannot tell a jump from stale records of an earlier
// incarnation of the app: without the history entry that vouches for it,
// replay stops before the jump (the epoch was never acknowledged: its entry
// is written before the CommitAck).
TEST_F(HistoryTest, JumpWithoutItsHistoryEntryIsNotReplayed) {
  CommitEpoch({0}, 64);
  {
    EpochBuilder b(app_);
    b.JumpTo(5);
    ASSERT_TRUE(b.Add(1, 128, std::vector<uint8_t>(64, 5)));
    ASSERT_TRUE(b.Commit().ok());
  }
  pool_.reset();
  const EpochHistoryEntry zero{};
  Overwrite(HistorySlotOffset(5), &zero, sizeof zero);
  Open();
  ASSERT_NE(app_, nullptr);
  ASSERT_TRUE(app_->health().ok()) << app_->health().ToString();
  EXPECT_EQ(app_->Position().committed_epoch, 1u);
  EXPECT_EQ(testing::ReadRegion(app_, 1, kSize1)[128], 0);
}

TEST_F(HistoryTest, WrittenRangesAreTheRecordsOfEachEpoch) {
  CommitEpoch({0, 640}, 64);
  CommitEpoch({4096}, 200);
  auto w = app_->WrittenRanges(0, 2);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_EQ(w->size(), 2u);
  ASSERT_EQ((*w)[0].ranges.size(), 2u);
  EXPECT_EQ((*w)[0].ranges[0].offset, 0u);
  EXPECT_EQ((*w)[0].ranges[1].offset, 640u);
  EXPECT_EQ((*w)[0].ranges[1].length, 64u);
  ASSERT_EQ((*w)[1].ranges.size(), 1u);
  EXPECT_EQ((*w)[1].ranges[0].region_id, 1u);
  EXPECT_EQ((*w)[1].ranges[0].offset, 4096u);
  EXPECT_EQ((*w)[1].ranges[0].length, 200u);
}

TEST_F(HistoryTest, RecordsOverwrittenByALaterLapAreReportedNotMisread) {
  // 64 KiB per epoch: the 4 MiB ring wraps after ~64 epochs.
  const uint64_t epochs = 150;
  for (uint64_t e = 0; e < epochs; ++e) CommitEpoch({(e % 4) * 65536}, 65536 - 64);
  auto w = app_->WrittenRanges(0, epochs);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_EQ(w->size(), epochs);
  EXPECT_EQ(w->front().status, wire::WritesStatus::kOverwritten);
  EXPECT_EQ(w->back().status, wire::WritesStatus::kPresent);
  // Present epochs form one suffix, and each has its own record.
  size_t first_present = 0;
  while (first_present < w->size() && (*w)[first_present].status != wire::WritesStatus::kPresent) ++first_present;
  ASSERT_LT(first_present, w->size());
  EXPECT_GT(first_present, 0u);
  for (size_t i = first_present; i < w->size(); ++i) {
    ASSERT_EQ((*w)[i].status, wire::WritesStatus::kPresent) << "epoch " << i + 1;
    ASSERT_EQ((*w)[i].ranges.size(), 1u);
    EXPECT_EQ((*w)[i].ranges[0].offset, (i % 4) * 65536);
  }
}

TEST_F(HistoryTest, WrittenRangesRejectsBadRanges) {
  CommitEpoch({0}, 64);
  EXPECT_EQ(app_->WrittenRanges(1, 1).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(app_->WrittenRanges(0, 2).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(app_->WrittenRanges(2, 1).status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace respct::memnode
