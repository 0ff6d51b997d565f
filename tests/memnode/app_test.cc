// App: commit, apply, replay after a crash, torn tails, applied-mark slots,
// ring wrap-around, back-pressure and bounds checks, all driven directly.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <random>
#include <thread>

#include "memnode/pool.h"
#include "memnode/pool_layout.h"
#include "tests/memnode/test_util.h"

namespace respct::memnode {
namespace {

using testing::EpochBuilder;
using testing::ReadRegion;
using testing::Region;
using testing::TempDir;

constexpr uint64_t kPool = 64ull << 20;
constexpr uint64_t kSize1 = 256 << 10;
constexpr uint64_t kSize2 = 8192;

class AppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("pool");
    Open();
    Pool::AttachRequest r;
    r.name = "app";
    r.regions = {Region(1, kSize1), Region(2, kSize2)};
    r.create = true;
    r.ring_capacity = wire::kMinRingCapacity;
    auto app = pool_->Attach(r);
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    app_ = *app;
    shadow1_.assign(kSize1, 0);
    shadow2_.assign(kSize2, 0);
  }

  // Closes and reopens the pool: what a memnode restart (after kill -9:
  // nothing but the pool's bytes survive) looks like to the App.
  void Open() {
    pool_.reset();
    auto pool = Pool::Open(path_, kPool, Pool::OpenMode::kReadWrite);
    ASSERT_TRUE(pool.ok()) << pool.status().ToString();
    pool_ = std::move(pool).value();
    app_ = pool_->Find("app");
  }

  std::vector<uint8_t> Bytes(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
    return v;
  }
  void Write(EpochBuilder& b, uint32_t region, uint64_t off, const std::vector<uint8_t>& bytes) {
    ASSERT_TRUE(b.Add(region, off, bytes));
    auto& shadow = region == 1 ? shadow1_ : shadow2_;
    std::copy(bytes.begin(), bytes.end(), shadow.begin() + static_cast<ptrdiff_t>(off));
  }
  void ExpectImageMatchesShadow() {
    EXPECT_TRUE(ReadRegion(app_, 1, kSize1) == shadow1_);
    EXPECT_TRUE(ReadRegion(app_, 2, kSize2) == shadow2_);
  }
  // The creation of a second, small app "other" beside "app".
  static Pool::AttachRequest OtherApp() {
    Pool::AttachRequest r;
    r.name = "other";
    r.regions = {Region(1, 4096)};
    r.create = true;
    r.ring_capacity = wire::kMinRingCapacity;
    return r;
  }
  // Pool-file offset of the app's ring and table entry (the app is in slot 0).
  uint64_t EntryOffset() const { return kAppTableOffset; }
  AppEntry ReadEntry() const {
    AppEntry e;
    const int fd = open(path_.c_str(), O_RDONLY);
    EXPECT_EQ(pread(fd, &e, sizeof e, static_cast<off_t>(EntryOffset())), static_cast<ssize_t>(sizeof e));
    close(fd);
    return e;
  }
  void FlipBit(uint64_t file_offset) {
    const int fd = open(path_.c_str(), O_RDWR);
    uint8_t b;
    ASSERT_EQ(pread(fd, &b, 1, static_cast<off_t>(file_offset)), 1);
    b ^= 0x10;
    ASSERT_EQ(pwrite(fd, &b, 1, static_cast<off_t>(file_offset)), 1);
    close(fd);
  }
  uint64_t RingFileOffset(uint64_t pos) const {
    const AppEntry e = ReadEntry();
    return e.ring_offset + pos % e.ring_capacity;
  }
  uint64_t HistoryFileOffset(uint64_t epoch) const {
    const AppEntry e = ReadEntry();
    return e.history_offset + epoch % e.history_entries * sizeof(EpochHistoryEntry);
  }
  // Pool-file offset of byte `off` of region 1 (the first region of the image).
  uint64_t ImageFileOffset(uint64_t off) const { return ReadEntry().image_offset + off; }
  void ZeroFile(uint64_t file_offset, size_t len) {
    const std::vector<uint8_t> zeros(len);
    const int fd = open(path_.c_str(), O_RDWR);
    ASSERT_EQ(pwrite(fd, zeros.data(), len, static_cast<off_t>(file_offset)), static_cast<ssize_t>(len));
    close(fd);
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<Pool> pool_;
  App* app_ = nullptr;
  std::vector<uint8_t> shadow1_, shadow2_;
};

TEST_F(AppTest, CommitApplyImageEqualsRecords) {
  for (int e = 0; e < 5; ++e) {
    EpochBuilder b(app_);
    Write(b, 1, 100 * e, Bytes(1000, static_cast<uint8_t>(e)));
    Write(b, 2, kSize2 - 64, Bytes(64, 9));
    Write(b, 1, kSize1 - 1, Bytes(1, 3));
    ASSERT_TRUE(b.CommitAndApply().ok());
  }
  const AppPosition p = app_->Position();
  EXPECT_EQ(p.committed_epoch, 5u);
  EXPECT_EQ(p.applied_epoch, 5u);
  EXPECT_EQ(p.ring_tail, p.ring_applied);
  ExpectImageMatchesShadow();
  Open();
  ExpectImageMatchesShadow();
  EXPECT_EQ(app_->Position().committed_epoch, 5u);
}

TEST_F(AppTest, EmptyEpochCommits) {
  EpochBuilder b(app_);
  ASSERT_TRUE(b.CommitAndApply().ok());
  ASSERT_TRUE(b.CommitAndApply().ok());
  EXPECT_EQ(app_->Position().committed_epoch, 2u);
  Open();
  EXPECT_EQ(app_->Position().applied_epoch, 2u);
}

TEST_F(AppTest, ReplaysCommittedButUnappliedEpochs) {
  {
    EpochBuilder b(app_);
    Write(b, 1, 0, Bytes(4096, 1));
    ASSERT_TRUE(b.CommitAndApply().ok());
    Write(b, 1, 10, Bytes(500, 2));
    Write(b, 2, 0, Bytes(kSize2, 3));
    ASSERT_TRUE(b.Commit().ok());  // crash here: committed, not applied
    Write(b, 1, 4000, Bytes(300, 4));
    ASSERT_TRUE(b.Commit().ok());
  }
  EXPECT_EQ(app_->Position().applied_epoch, 1u);
  Open();
  EXPECT_EQ(app_->replay_scan().committed.size(), 2u);
  const AppPosition p = app_->Position();
  EXPECT_EQ(p.committed_epoch, 3u);
  EXPECT_EQ(p.applied_epoch, 3u);
  EXPECT_EQ(p.ring_applied, p.ring_tail);
  ExpectImageMatchesShadow();
  // The next epoch continues after the replayed ones.
  EpochBuilder b(app_);
  EXPECT_EQ(b.epoch(), 4u);
  Write(b, 2, 8, Bytes(8, 5));
  ASSERT_TRUE(b.CommitAndApply().ok());
  ExpectImageMatchesShadow();
}

TEST_F(AppTest, DiscardsRecordsWithoutCommit) {
  EpochBuilder b(app_);
  Write(b, 1, 0, Bytes(100, 1));
  ASSERT_TRUE(b.CommitAndApply().ok());
  const AppPosition before = app_->Position();
  ASSERT_TRUE(b.Add(1, 0, Bytes(100, 2)));  // torn: no commit record
  ASSERT_TRUE(b.Add(2, 0, Bytes(100, 3)));
  Open();
  EXPECT_EQ(app_->replay_scan().discarded_records, 2u);
  const AppPosition after = app_->Position();
  EXPECT_EQ(after.committed_epoch, 1u);
  EXPECT_EQ(after.ring_tail, before.ring_tail);
  ExpectImageMatchesShadow();
}

TEST_F(AppTest, DiscardsEpochWithCorruptCommitRecord) {
  EpochBuilder b(app_);
  Write(b, 1, 0, Bytes(100, 1));
  ASSERT_TRUE(b.CommitAndApply().ok());
  const AppPosition before = app_->Position();
  ASSERT_TRUE(b.Add(1, 0, Bytes(100, 2)));
  const uint64_t commit_pos = b.cursor().tail();
  ASSERT_TRUE(b.Commit().ok());
  // A commit record torn by a crash (one flipped bit in its epoch checksum),
  // before its history entry was written: the epoch never committed.
  FlipBit(RingFileOffset(commit_pos) + wire::kRecordHeaderSize + offsetof(wire::CommitBody, epoch_checksum));
  ZeroFile(HistoryFileOffset(2), sizeof(EpochHistoryEntry));
  Open();
  ASSERT_TRUE(app_->health().ok()) << app_->health().ToString();
  const AppPosition after = app_->Position();
  EXPECT_EQ(after.committed_epoch, 1u);
  EXPECT_EQ(after.ring_tail, before.ring_tail);
  EXPECT_EQ(app_->replay_scan().discarded_records, 1u);
  ExpectImageMatchesShadow();
}

TEST_F(AppTest, ADamagedRecordOfACommittedEpochIsReportedNotDiscarded) {
  EpochBuilder b(app_);
  Write(b, 1, 0, Bytes(100, 1));
  ASSERT_TRUE(b.CommitAndApply().ok());
  const uint64_t record_pos = b.cursor().tail();
  ASSERT_TRUE(b.Add(1, 0, Bytes(100, 2)));
  ASSERT_TRUE(b.Commit().ok());  // committed, acknowledged, not applied yet
  // A bit flip on the media in the committed epoch's data record: taking it
  // for a torn tail would silently lose an acknowledged epoch.
  FlipBit(RingFileOffset(record_pos) + wire::kRecordHeaderSize + 10);
  Open();
  ASSERT_TRUE(app_->health().IsCorruption());
  EXPECT_NE(app_->health().message().find("epoch 2 was committed"), std::string::npos) << app_->health().ToString();
  Pool::AttachRequest r;
  r.name = "app";
  EXPECT_TRUE(pool_->Attach(r).status().IsCorruption());
}

TEST_F(AppTest, AnImageBitFlipIsFoundOnReadAndByVerify) {
  EpochBuilder b(app_);
  Write(b, 1, 8192, Bytes(300, 1));
  Write(b, 2, 0, Bytes(64, 5));
  ASSERT_TRUE(b.CommitAndApply().ok());
  ASSERT_TRUE(app_->VerifyImage().ok());
  FlipBit(ImageFileOffset(8192 + 4096 + 17));  // a page no epoch wrote: zeros, and a zero checksum
  Open();
  ASSERT_TRUE(app_->health().ok());  // nothing reads image pages at start-up
  const Status verify = app_->VerifyImage();
  ASSERT_TRUE(verify.IsCorruption());
  EXPECT_NE(verify.message().find("1 of"), std::string::npos) << verify.ToString();
  EXPECT_NE(verify.message().find("region 1, offset 12288"), std::string::npos) << verify.ToString();
  int pieces = 0;
  const Status read = app_->ReadImage(1, 0, kSize1, 1 << 20, [&](const App::ImagePiece&) {
    ++pieces;
    return Status::OK();
  });
  ASSERT_TRUE(read.IsCorruption());
  EXPECT_NE(read.message().find("region 1, offset 12288"), std::string::npos) << read.ToString();
  EXPECT_EQ(pieces, 0);  // nothing of a damaged range is served
  // Other pages and regions still read.
  EXPECT_TRUE(ReadRegion(app_, 2, kSize2) == shadow2_);
  EXPECT_TRUE(app_->ReadImage(1, 0, 8192, 4096, [](const App::ImagePiece&) { return Status::OK(); }).ok());
}

TEST_F(AppTest, ApplyRefusesToCoverDamageWithANewChecksum) {
  EpochBuilder b(app_);
  Write(b, 1, 0, Bytes(64, 1));
  ASSERT_TRUE(b.CommitAndApply().ok());
  FlipBit(ImageFileOffset(2000));
  Open();
  // The next epoch writes another line of the damaged page.
  EpochBuilder next(app_);
  Write(next, 1, 64, Bytes(64, 2));
  const Status st = next.CommitAndApply();
  ASSERT_TRUE(st.IsCorruption()) << st.ToString();
  EXPECT_NE(st.message().find("before epoch 2 was applied"), std::string::npos) << st.ToString();
  EXPECT_TRUE(app_->health().IsCorruption());
}

TEST_F(AppTest, APageRewrittenWholeNeedsNoIntactOldBytes) {
  EpochBuilder b(app_);
  Write(b, 1, 0, Bytes(64, 1));
  ASSERT_TRUE(b.CommitAndApply().ok());
  FlipBit(ImageFileOffset(4096 + 100));
  Open();
  EpochBuilder next(app_);
  Write(next, 1, 4096, Bytes(4096, 2));  // the damaged page, every byte of it
  ASSERT_TRUE(next.CommitAndApply().ok());
  EXPECT_TRUE(app_->VerifyImage().ok()) << app_->VerifyImage().ToString();
  ExpectImageMatchesShadow();
}

TEST_F(AppTest, ReplayRewritesPagesAndChecksumsOfAHalfAppliedEpoch) {
  EpochBuilder b(app_);
  Write(b, 1, 0, Bytes(64, 1));
  ASSERT_TRUE(b.CommitAndApply().ok());
  EpochBuilder next(app_);
  Write(next, 1, 4000, Bytes(200, 2));  // spans two pages
  Write(next, 2, 128, Bytes(64, 3));
  ASSERT_TRUE(next.Commit().ok());
  // A crash during apply: part of the epoch's bytes reached the image, no
  // checksum and no mark did.
  const std::vector<uint8_t> part = Bytes(50, 2);
  const int fd = open(path_.c_str(), O_RDWR);
  ASSERT_EQ(pwrite(fd, part.data(), part.size(), static_cast<off_t>(ImageFileOffset(4000))),
            static_cast<ssize_t>(part.size()));
  close(fd);
  Open();
  ASSERT_TRUE(app_->health().ok()) << app_->health().ToString();
  EXPECT_EQ(app_->Position().applied_epoch, 2u);
  EXPECT_TRUE(app_->VerifyImage().ok()) << app_->VerifyImage().ToString();
  ExpectImageMatchesShadow();
}

TEST_F(AppTest, ADamagedStateWordIsReportedAndItsSpaceKept) {
  Pool::AttachRequest r = OtherApp();
  ASSERT_TRUE(pool_->Attach(r).ok());
  const uint64_t app_begin = app_->alloc_begin();
  const uint64_t app_end = app_->alloc_end();
  FlipBit(EntryOffset() + offsetof(AppEntry, state));
  Open();
  ASSERT_EQ(pool_->ListApps().size(), 2u);
  ASSERT_NE(app_, nullptr);
  EXPECT_TRUE(app_->health().IsCorruption());
  EXPECT_NE(app_->health().message().find("state word"), std::string::npos) << app_->health().ToString();
  r.create = false;
  r.regions.clear();
  EXPECT_TRUE(pool_->Attach(r).ok());
  // A new app does not take the damaged entry's slot or space.
  r.name = "third";
  r.create = true;
  r.regions = {Region(1, 4096)};
  auto third = pool_->Attach(r);
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_TRUE((*third)->alloc_begin() >= app_end || (*third)->alloc_end() <= app_begin);
  EXPECT_EQ(app_->alloc_end(), app_end);
}

// Writes, with RingWrite (as a client could, and leaving it unpersisted
// as a crash could), one data record claiming ring position `claimed_pos`
// at the tail and a commit record that matches it exactly.
void PlantEpoch(App* app, uint64_t claimed_pos, uint64_t epoch, const std::vector<uint8_t>& payload) {
  const AppPosition p = app->Position();
  std::vector<uint8_t> rec(wire::RecordFootprint(payload.size()));
  const uint64_t sum = wire::EncodeDataRecord(rec.data(), claimed_pos, epoch, 1, 0, payload.data(),
                                              static_cast<uint32_t>(payload.size()));
  ASSERT_TRUE(app->RingWrite(p.ring_tail, rec.data(), rec.size()).ok());
  wire::EpochChecksum ck;
  ck.Add(sum);
  std::vector<uint8_t> commit(wire::kCommitFootprint);
  const uint64_t commit_pos = p.ring_tail + rec.size();
  wire::EncodeCommitRecord(commit.data(), commit_pos,
                           wire::CommitBody{app->app_id(), epoch, 1, payload.size(), ck.Digest(), p.ring_tail});
  ASSERT_TRUE(app->RingWrite(commit_pos, commit.data(), commit.size()).ok());
}

TEST_F(AppTest, ReplaysAPlantedEpoch) {
  // The control for the test below: the same bytes at the right position commit.
  EpochBuilder b(app_);
  Write(b, 1, 0, Bytes(100, 1));
  ASSERT_TRUE(b.CommitAndApply().ok());
  const std::vector<uint8_t> payload = Bytes(64, 7);
  PlantEpoch(app_, app_->Position().ring_tail, 2, payload);
  std::copy(payload.begin(), payload.end(), shadow1_.begin());
  Open();
  EXPECT_EQ(app_->Position().committed_epoch, 2u);
  ExpectImageMatchesShadow();
}

TEST_F(AppTest, DiscardsRecordFromAnOlderLap) {
  EpochBuilder b(app_);
  while (app_->Position().ring_tail < 2 * wire::kMinRingCapacity) {
    Write(b, 1, 0, Bytes(64 << 10, static_cast<uint8_t>(b.epoch())));
    ASSERT_TRUE(b.CommitAndApply().ok());
  }
  const AppPosition p = app_->Position();
  PlantEpoch(app_, p.ring_tail - p.ring_capacity, p.committed_epoch + 1, Bytes(64, 7));
  Open();
  EXPECT_EQ(app_->Position().committed_epoch, p.committed_epoch);
  EXPECT_EQ(app_->Position().ring_tail, p.ring_tail);
  EXPECT_NE(app_->replay_scan().stop_reason.find("names ring position"), std::string::npos)
      << app_->replay_scan().stop_reason;
  ExpectImageMatchesShadow();
}

TEST_F(AppTest, FallsBackToTheOtherAppliedMarkSlot) {
  EpochBuilder b(app_);
  for (int e = 0; e < 4; ++e) {
    Write(b, 1, 64 * e, Bytes(64, static_cast<uint8_t>(e + 1)));
    ASSERT_TRUE(b.CommitAndApply().ok());
  }
  // Every update went to the slot not holding the current mark, so both
  // are valid: seq 5 (epoch 4) and seq 4 (epoch 3).
  const AppEntry e = ReadEntry();
  ASSERT_TRUE(MarkValid(e.mark[0]) && MarkValid(e.mark[1]));
  const int cur = e.mark[0].seq > e.mark[1].seq ? 0 : 1;
  ASSERT_EQ(e.mark[cur].seq, 5u);
  ASSERT_EQ(e.mark[cur].applied_epoch, 4u);
  ASSERT_EQ(e.mark[1 - cur].applied_epoch, 3u);
  // A torn update of the current slot.
  FlipBit(EntryOffset() + offsetof(AppEntry, mark) + cur * sizeof(AppliedMark) + offsetof(AppliedMark, applied_pos));
  Open();
  ASSERT_TRUE(app_->health().ok()) << app_->health().ToString();
  // Epoch 4 is still in the ring after the older mark: replayed again (idempotent).
  EXPECT_EQ(app_->replay_scan().committed.size(), 1u);
  EXPECT_EQ(app_->Position().applied_epoch, 4u);
  ExpectImageMatchesShadow();
  // The next mark overwrote the torn slot: a later restart is clean.
  Open();
  EXPECT_TRUE(app_->replay_scan().committed.empty());
  EXPECT_EQ(app_->Position().applied_epoch, 4u);
}

TEST_F(AppTest, FirstMarkUpdateKeepsTheInitialMark) {
  EpochBuilder b(app_);
  ASSERT_TRUE(b.CommitAndApply().ok());
  const AppEntry e = ReadEntry();
  EXPECT_TRUE(MarkValid(e.mark[0]));
  EXPECT_TRUE(MarkValid(e.mark[1]));
}

TEST_F(AppTest, BothMarkSlotsCorruptDamagesOnlyThatApp) {
  Pool::AttachRequest r = OtherApp();
  ASSERT_TRUE(pool_->Attach(r).ok());
  EpochBuilder b(app_);
  Write(b, 1, 0, Bytes(64, 1));
  ASSERT_TRUE(b.CommitAndApply().ok());
  FlipBit(EntryOffset() + offsetof(AppEntry, mark) + offsetof(AppliedMark, seq));
  FlipBit(EntryOffset() + offsetof(AppEntry, mark) + sizeof(AppliedMark) + offsetof(AppliedMark, seq));
  Open();
  r.create = false;
  r.name = "app";
  EXPECT_TRUE(pool_->Attach(r).status().IsCorruption());
  r.name = "other";
  r.regions.clear();
  EXPECT_TRUE(pool_->Attach(r).ok());
  EXPECT_EQ(pool_->ListApps().size(), 2u);
}

TEST_F(AppTest, RingWrapsWithPadsOverManyEpochs) {
  std::mt19937_64 rng(42);
  uint64_t pads_seen = 0;
  EpochBuilder b(app_);
  for (int e = 0; e < 300; ++e) {
    const int n = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < n; ++i) {
      const uint64_t len = 1 + rng() % (48 << 10);
      const uint64_t off = rng() % (kSize1 - len + 1);
      const uint64_t lap = b.cursor().tail() / b.cursor().capacity();
      Write(b, 1, off, Bytes(len, static_cast<uint8_t>(rng())));
      if (b.cursor().tail() / b.cursor().capacity() != lap) ++pads_seen;
    }
    ASSERT_TRUE(b.CommitAndApply().ok()) << "epoch " << b.epoch();
  }
  const AppPosition p = app_->Position();
  EXPECT_GT(p.ring_tail / p.ring_capacity, 3u) << "the ring should have wrapped several times";
  EXPECT_GT(pads_seen, 0u);
  ExpectImageMatchesShadow();
  Open();
  EXPECT_TRUE(app_->replay_scan().committed.empty());
  EXPECT_EQ(app_->Position().committed_epoch, 300u);
  ExpectImageMatchesShadow();
}

TEST_F(AppTest, CommitThatDoesNotFitIsRefused) {
  EpochBuilder b(app_);
  Write(b, 1, 0, Bytes(100, 1));
  ASSERT_TRUE(b.Commit().ok());  // committed, not applied: holds ring space
  const AppPosition held = app_->Position();
  // Fill the rest of the ring so that no commit record fits after it.
  const std::vector<uint8_t> chunk = Bytes(60 << 10, 2);
  while (b.Add(1, 0, chunk)) {
  }
  while (b.Add(1, 0, Bytes(1, 3))) {
  }
  wire::RingCursor::Placement place;
  ASSERT_FALSE(b.cursor().Place(wire::kCommitFootprint, &place));
  wire::CommitAckMsg ack;
  Status s = app_->Commit(b.Message(), nullptr, &ack);
  EXPECT_EQ(s.code(), Status::Code::kResourceExhausted) << s.ToString();
  // Nothing moved, nothing was overwritten: the held epoch applies intact.
  EXPECT_EQ(app_->Position().ring_tail, held.ring_tail);
  EXPECT_EQ(app_->Position().committed_epoch, 1u);
  // Client writes past the free space are refused outright.
  EXPECT_EQ(app_->RingWrite(held.ring_applied + held.ring_capacity, chunk.data(), 64).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(app_->RingWrite(held.ring_applied, chunk.data(), 64).code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(app_->ApplyCommitted(nullptr).ok());
  ExpectImageMatchesShadow();
}

TEST_F(AppTest, RejectsBadEpochs) {
  EpochBuilder b(app_);
  Write(b, 1, 0, Bytes(100, 1));
  ASSERT_TRUE(b.CommitAndApply().ok());
  const AppPosition before = app_->Position();
  wire::CommitAckMsg ack;

  // Out of region bounds, and an unknown region.
  {
    EpochBuilder bad(app_);
    ASSERT_TRUE(bad.Add(2, kSize2 - 10, Bytes(11, 1)));
    Status s = app_->Commit(bad.Message(), nullptr, &ack);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_NE(s.message().find("outside region 2"), std::string::npos) << s.ToString();
  }
  {
    EpochBuilder bad(app_);
    ASSERT_TRUE(bad.Add(9, 0, Bytes(8, 1)));
    Status s = app_->Commit(bad.Message(), nullptr, &ack);
    EXPECT_NE(s.message().find("unknown region 9"), std::string::npos) << s.ToString();
  }
  // A record of another epoch, wrong counts, wrong checksum, wrong epoch, wrong start.
  {
    EpochBuilder bad(app_);
    ASSERT_TRUE(bad.Add(1, 0, Bytes(8, 1), /*record_epoch=*/7));
    EXPECT_TRUE(app_->Commit(bad.Message(), nullptr, &ack).IsCorruption());
  }
  EpochBuilder good(app_);
  ASSERT_TRUE(good.Add(1, 0, Bytes(8, 1)));
  wire::CommitMsg m = good.Message();
  m.record_count = 2;
  EXPECT_TRUE(app_->Commit(m, nullptr, &ack).IsCorruption());
  m = good.Message();
  m.epoch_checksum ^= 1;
  EXPECT_TRUE(app_->Commit(m, nullptr, &ack).IsCorruption());
  m = good.Message();
  m.epoch = 1;  // not above the committed one (above by more is a catch-up: history_test)
  EXPECT_EQ(app_->Commit(m, nullptr, &ack).message(), "epoch 1 does not follow committed 1");
  m.epoch = 5;  // a jump whose records say another epoch
  EXPECT_TRUE(app_->Commit(m, nullptr, &ack).IsCorruption());
  m = good.Message();
  m.first_pos += 64;
  EXPECT_EQ(app_->Commit(m, nullptr, &ack).code(), Status::Code::kInvalidArgument);
  m = good.Message();
  m.end_pos = m.first_pos + wire::kMinRingCapacity * 3;
  EXPECT_EQ(app_->Commit(m, nullptr, &ack).code(), Status::Code::kInvalidArgument);
  m = good.Message();
  m.end_pos -= 64;  // cuts the record short
  EXPECT_TRUE(app_->Commit(m, nullptr, &ack).IsCorruption());

  // None of it changed anything; the honest epoch still commits.
  EXPECT_EQ(app_->Position().ring_tail, before.ring_tail);
  EXPECT_EQ(app_->Position().committed_epoch, 1u);
  shadow1_[0] = Bytes(8, 1)[0];
  std::copy_n(Bytes(8, 1).begin(), 8, shadow1_.begin());
  ASSERT_TRUE(good.CommitAndApply().ok());
  ExpectImageMatchesShadow();
}

TEST_F(AppTest, ReadImageChecksBoundsAndPieces) {
  EpochBuilder b(app_);
  Write(b, 1, 0, Bytes(kSize1, 3));
  ASSERT_TRUE(b.CommitAndApply().ok());
  auto sink = [](const App::ImagePiece&) { return Status::OK(); };
  EXPECT_EQ(app_->ReadImage(1, kSize1 - 1, 2, 4096, sink).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(app_->ReadImage(1, UINT64_MAX, 2, 4096, sink).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(app_->ReadImage(3, 0, 1, 4096, sink).code(), Status::Code::kInvalidArgument);
  std::vector<size_t> pieces;
  ASSERT_TRUE(app_->ReadImage(1, 10, 10000, 4096, [&](const App::ImagePiece& p) {
                    EXPECT_EQ(p.offset, 10 + 4096 * pieces.size());
                    EXPECT_EQ(std::memcmp(p.data, shadow1_.data() + p.offset, p.len), 0);
                    pieces.push_back(p.len);
                    return Status::OK();
                  }).ok());
  EXPECT_EQ(pieces, (std::vector<size_t>{4096, 4096, 1808}));
}

// A read hands its bytes on without the app's mutex: a reader that stalls
// (a slow network) holds up neither commits nor their acknowledgement, and
// still sees one epoch's image; the epochs committed meanwhile are applied
// when it ends.
TEST_F(AppTest, AStalledReadHoldsUpNoCommitAndSeesOneEpoch) {
  EpochBuilder first(app_);
  Write(first, 1, 0, Bytes(8192, 1));
  ASSERT_TRUE(first.CommitAndApply().ok());
  const std::vector<uint8_t> before(shadow1_.begin(), shadow1_.begin() + 8192);

  std::promise<void> in_sink, release;
  std::shared_future<void> released = release.get_future().share();
  std::vector<uint8_t> seen;
  std::thread reader([&] {
    bool first_piece = true;
    const Status st = app_->ReadImage(1, 0, 8192, 4096, [&](const App::ImagePiece& p) {
      if (first_piece) {
        first_piece = false;
        in_sink.set_value();
        // Bounded: the test releases it, or fails after 30 s.
        EXPECT_EQ(released.wait_for(std::chrono::seconds(30)), std::future_status::ready);
      }
      seen.insert(seen.end(), p.data, p.data + p.len);
      return Status::OK();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
  });
  ASSERT_EQ(in_sink.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);

  // Three epochs commit while the read is stalled between its two pieces.
  for (int e = 0; e < 3; ++e) {
    EpochBuilder b(app_);
    Write(b, 1, 0, Bytes(8192, static_cast<uint8_t>(10 + e)));
    ASSERT_TRUE(b.CommitAndApply().ok());
  }
  AppPosition p = app_->Position();
  EXPECT_EQ(p.committed_epoch, 4u);
  EXPECT_EQ(p.applied_epoch, 1u) << "an epoch was applied under a read in progress";
  // A reset must wait for the read too (it would free the image being sent).
  EXPECT_EQ(app_->Retire("test").code(), Status::Code::kBusy);

  release.set_value();
  reader.join();
  EXPECT_TRUE(seen == before) << "the read saw bytes of more than one epoch";
  p = app_->Position();
  EXPECT_EQ(p.applied_epoch, 4u) << "the read that ended last applies what waited";
  EXPECT_EQ(p.ring_applied, p.ring_tail);
  ExpectImageMatchesShadow();
}

// A read that arrives while epochs wait for a stalled read to end does not
// join it (it would return the older image): it waits, applies them, and
// returns the last committed epoch.
TEST_F(AppTest, AReadArrivingWhileEpochsWaitReturnsTheLastCommittedEpoch) {
  EpochBuilder first(app_);
  Write(first, 1, 0, Bytes(4096, 1));
  ASSERT_TRUE(first.CommitAndApply().ok());

  std::promise<void> in_sink, release;
  std::shared_future<void> released = release.get_future().share();
  std::thread slow([&] {
    EXPECT_TRUE(app_->ReadImage(1, 0, 4096, 4096, [&](const App::ImagePiece&) {
                      in_sink.set_value();
                      EXPECT_EQ(released.wait_for(std::chrono::seconds(30)), std::future_status::ready);
                      return Status::OK();
                    }).ok());
  });
  ASSERT_EQ(in_sink.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EpochBuilder second(app_);
  Write(second, 1, 0, Bytes(4096, 2));
  ASSERT_TRUE(second.CommitAndApply().ok());

  std::atomic<bool> done{false};
  std::vector<uint8_t> seen;
  std::thread late([&] {
    EXPECT_TRUE(app_->ReadImage(1, 0, 4096, 4096, [&](const App::ImagePiece& p) {
                      seen.assign(p.data, p.data + p.len);
                      return Status::OK();
                    }).ok());
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(done) << "the late read joined a read of an older epoch";
  release.set_value();
  slow.join();
  late.join();
  EXPECT_TRUE(seen == std::vector<uint8_t>(shadow1_.begin(), shadow1_.begin() + 4096));
}

TEST_F(AppTest, ReadOnlyPoolSeesCommittedEpochsWithoutApplying) {
  EpochBuilder b(app_);
  Write(b, 1, 0, Bytes(64, 1));
  ASSERT_TRUE(b.CommitAndApply().ok());
  Write(b, 1, 0, Bytes(64, 2));
  ASSERT_TRUE(b.Commit().ok());
  auto ro = Pool::Open(path_, 0, Pool::OpenMode::kReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.status().ToString();
  const auto apps = (*ro)->ListApps();
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_EQ(apps[0].committed_epoch, 2u);
  EXPECT_EQ(apps[0].applied_epoch, 1u);
  EXPECT_GT(apps[0].ring_used, 0u);
}

// Writer generations (wire::kAttachGeneration): an older writer is refused
// as fenced, also after the memnode restarted; a newer one ends the attached
// writer's session; a writer that gives none is neither fenced nor fences.
TEST_F(AppTest, WriterGenerationsFenceOlderWritersAcrossARestart) {
  AppPosition pos;
  int ended = 0;
  ASSERT_TRUE(app_->AttachWriter(&pos, {}, [&] { ++ended; }, 5).ok());
  EXPECT_EQ(app_->writer_generation(), 5u);
  app_->DetachWriter();
  Open();
  ASSERT_NE(app_, nullptr);
  EXPECT_EQ(app_->writer_generation(), 5u) << "the generation must be durable";
  const Status older = app_->AttachWriter(&pos, {}, nullptr, 3);
  EXPECT_TRUE(older.IsFenced()) << older.ToString();
  // A newer generation takes the slot over from an attached writer: its
  // session is told to end (as Session shuts its channel down), and its
  // thread detaches it a moment later.
  std::atomic<bool> told{false};
  ASSERT_TRUE(app_->AttachWriter(&pos, {}, [&] { ++ended; told = true; }, 5).ok());
  std::thread old_session([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!told && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    app_->DetachWriter();
  });
  // Without take_over a newer generation finds the slot busy, and changes
  // nothing (a second recovery racing the first must not fence it).
  EXPECT_TRUE(app_->AttachWriter(&pos, {}, nullptr, 8).IsBusy());
  EXPECT_EQ(app_->writer_generation(), 5u);
  EXPECT_EQ(ended, 0);
  EXPECT_TRUE(app_->AttachWriter(&pos, {}, nullptr, 9, /*take_over=*/true).ok());
  old_session.join();
  EXPECT_EQ(ended, 1);
  EXPECT_EQ(app_->writer_generation(), 9u);
  app_->DetachWriter();
  EXPECT_TRUE(app_->AttachWriter(&pos, {}, nullptr, 5).IsFenced());
  ASSERT_TRUE(app_->AttachWriter(&pos, {}, nullptr, 0).ok()) << "no generation: not fenced";
  app_->DetachWriter();
}

}  // namespace
}  // namespace respct::memnode
