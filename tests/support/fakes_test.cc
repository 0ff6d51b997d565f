// The fakes themselves: a test that relies on a fake memnode or tracker is
// only as good as the fake's rules, so those are checked here — what the
// fake memnode refuses, what survives a reconnection, what each fault does,
// what the fake tracker reports.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <vector>

#include "runtime/wire/record.h"
#include "tests/support/fake_dirty_tracker.h"
#include "tests/support/fake_memnode.h"

namespace respct::testing {
namespace {

using Op = FakeMemnode::Op;
constexpr uint32_t kRegion = 7;
constexpr uint64_t kRegionSize = 4u << 20;

ConnectOptions Writer(uint8_t token) {
  ConnectOptions o;
  o.app = "app";
  o.writer = true;
  o.create = true;
  o.regions = {RegionSpec{kRegion, kRegionSize, 0x1000}};
  o.writer_token.fill(token);
  return o;
}

class FakeMemnodeTest : public ::testing::Test {
 protected:
  std::unique_ptr<Transport> Connect(const ConnectOptions& o) {
    auto t = memnode_->Connect(o);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? std::move(t.value()) : nullptr;
  }
  std::shared_ptr<FakeMemnode> memnode_ = FakeMemnode::Create("app");
  const uint8_t bytes_[64] = {1, 2, 3, 4, 5};
};

TEST_F(FakeMemnodeTest, RefusesWhatAMemnodeRefuses) {
  ConnectOptions no_create = Writer(1);
  no_create.create = false;
  EXPECT_TRUE(memnode_->Connect(no_create).status().IsNotFound());
  auto w = Connect(Writer(1));
  ASSERT_NE(w, nullptr);
  // Not above the committed epoch (above by more than one is a catch-up).
  EXPECT_EQ(w->Append(0, kRegion, 0, bytes_, 8).code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(w->Append(1, kRegion, kRegionSize - 4, bytes_, 8).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(w->Append(1, 99, 0, bytes_, 8).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(w->Commit(0).code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(memnode_->refusals().size(), 4u);
  ConnectOptions other = Writer(1);
  other.regions[0].size *= 2;
  EXPECT_EQ(memnode_->Connect(other).status().code(), Status::Code::kFailedPrecondition);
  // One writer: another token is busy; the same one takes the session over.
  EXPECT_TRUE(memnode_->Connect(Writer(2)).status().IsBusy());
  auto again = Connect(Writer(1));
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(w->Commit(1).IsUnavailable());
  EXPECT_TRUE(again->Commit(1).ok());
}

TEST_F(FakeMemnodeTest, CommittedStateSurvivesReconnectionAndUncommittedDoesNot) {
  {
    auto w = Connect(Writer(1));
    ASSERT_TRUE(w->Append(1, kRegion, 4096, bytes_, 64).ok());
    ASSERT_TRUE(w->Commit(1).ok());
    ASSERT_TRUE(w->Append(2, kRegion, 0, bytes_, 64).ok());  // never committed
  }
  auto r = Connect(Writer(1));
  EXPECT_EQ(r->info().committed_epoch, 1u);
  uint8_t got[64];
  ASSERT_TRUE(r->ReadImage(kRegion, 4096, got, sizeof got).ok());
  EXPECT_EQ(std::memcmp(got, bytes_, sizeof got), 0);
  ASSERT_TRUE(r->ReadImage(kRegion, 0, got, sizeof got).ok());
  EXPECT_EQ(got[0], 0);  // epoch 2's record went with its connection
  ASSERT_TRUE(r->Commit(2).ok());  // an empty epoch 2 now
  EXPECT_TRUE(memnode_->RecordsOf(2).empty());
  EXPECT_EQ(memnode_->CommitOrder(), (std::vector<uint64_t>{1, 2}));
}

TEST_F(FakeMemnodeTest, EpochLargerThanTheRingIsRefusedAndTheSessionStaysUsable) {
  ConnectOptions o = Writer(1);
  o.ring_capacity = wire::kMinRingCapacity;
  o.regions[0].size = 8u << 20;
  auto w = Connect(o);
  std::vector<uint8_t> mib(1u << 20, 0xcd);
  Status st;
  for (uint64_t i = 0; i < 5 && st.ok(); ++i) st = w->Append(1, kRegion, i << 20, mib.data(), mib.size());
  EXPECT_EQ(st.code(), Status::Code::kResourceExhausted);
  EXPECT_TRUE(w->Append(1, kRegion, 0, mib.data(), mib.size()).ok());
  EXPECT_TRUE(w->Commit(1).ok());
  EXPECT_EQ(memnode_->RecordsOf(1).size(), 1u);
}

TEST_F(FakeMemnodeTest, FaultsDoWhatTheySay) {
  auto w = Connect(Writer(1));
  memnode_->FailNext(Op::kAppend, 1);
  EXPECT_EQ(w->Append(1, kRegion, 0, bytes_, 8).code(), Status::Code::kIOError);
  EXPECT_TRUE(w->Append(1, kRegion, 0, bytes_, 8).IsUnavailable());  // dead until reconnected
  w = Connect(Writer(1));
  memnode_->LoseNextCommitAck();
  ASSERT_TRUE(w->Append(1, kRegion, 0, bytes_, 8).ok());
  EXPECT_TRUE(w->Commit(1).IsUnavailable());
  EXPECT_EQ(memnode_->committed_epoch(), 1u);  // committed all the same
  w = Connect(Writer(1));
  EXPECT_EQ(w->info().committed_epoch, 1u);
  memnode_->DisconnectAfterAppends(1);
  EXPECT_TRUE(w->Append(2, kRegion, 0, bytes_, 8).ok());
  EXPECT_TRUE(w->Append(2, kRegion, 8, bytes_, 8).IsUnavailable());
  EXPECT_TRUE(w->Commit(2).IsUnavailable());
  w = Connect(Writer(1));
  uint8_t got[8];
  memnode_->CorruptNextRead(FakeMemnode::Corruption::kFlipByte);
  ASSERT_TRUE(w->ReadImage(kRegion, 0, got, sizeof got).ok());
  EXPECT_NE(std::memcmp(got, bytes_, sizeof got), 0);
  ASSERT_TRUE(w->ReadImage(kRegion, 0, got, sizeof got).ok());
  EXPECT_EQ(std::memcmp(got, bytes_, sizeof got), 0);
  memnode_->CorruptNextRead(FakeMemnode::Corruption::kErrorStatus);
  EXPECT_TRUE(w->ReadImage(kRegion, 0, got, sizeof got).IsCorruption());
  memnode_->SetReachable(false);
  EXPECT_TRUE(memnode_->Connect(Writer(1)).status().IsUnavailable());
  EXPECT_EQ(memnode_->CommitsOf(1), 1u);
}

TEST_F(FakeMemnodeTest, ListsAnswerFromTheCommittedState) {
  auto w = Connect(Writer(1));
  std::vector<uint8_t> big(wire::kMaxRecordPayload + 10, 1);
  ASSERT_TRUE(w->Append(1, kRegion, 0, big.data(), big.size()).ok());
  ASSERT_TRUE(w->Commit(1).ok());
  ASSERT_TRUE(w->Commit(2).ok());
  auto apps = w->ListApps();
  ASSERT_TRUE(apps.ok());
  ASSERT_EQ(apps->size(), 1u);
  EXPECT_STREQ((*apps)[0].name, "app");
  EXPECT_EQ((*apps)[0].committed_epoch, 2u);
  auto epochs = w->ListEpochs("", 0, 10);
  ASSERT_TRUE(epochs.ok());
  ASSERT_EQ(epochs->epochs.size(), 2u);
  EXPECT_EQ(epochs->epochs[0].record_count, 2u);  // split at kMaxRecordPayload
  EXPECT_EQ(epochs->epochs[0].payload_bytes, big.size());
  EXPECT_EQ(epochs->epochs[1].first_pos, epochs->epochs[0].end_pos);
  auto writes = w->ListWrites("app", 0, 2);
  ASSERT_TRUE(writes.ok());
  ASSERT_EQ(writes->size(), 2u);
  ASSERT_EQ((*writes)[0].ranges.size(), 2u);
  EXPECT_EQ((*writes)[0].ranges[1].offset, wire::kMaxRecordPayload);
  EXPECT_TRUE((*writes)[1].ranges.empty());
  EXPECT_TRUE(w->ListEpochs("other", 0, 1).status().IsPermissionDenied());
  EXPECT_EQ(w->ListWrites("", 1, 3).status().code(), Status::Code::kInvalidArgument);  // beyond the committed epoch
  EXPECT_TRUE(w->ListApps().ok());  // a refused query leaves the session usable
}

class Pages {
 public:
  explicit Pages(size_t n) : n_(n) {
    void* p = mmap(nullptr, n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    base_ = p == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p);
  }
  ~Pages() { munmap(base_, n_ * 4096); }
  uint8_t* page(size_t i) { return base_ + i * 4096; }

 private:
  uint8_t* base_;
  size_t n_;
};

TEST(FakeDirtyTrackerTest, ReportsWhatItIsToldInMergedRunsWithinRanges) {
  Pages mem(8);
  mem.page(1)[0] = 1;  // populated before Track: reported by the first Collect
  FakeDirtyTracker t;
  ASSERT_TRUE(t.Track(mem.page(0), 4 * 4096).ok());
  ASSERT_TRUE(t.Track(mem.page(4), 4 * 4096).ok());
  EXPECT_EQ(t.Track(mem.page(2), 4096).code(), Status::Code::kInvalidArgument);  // overlaps
  std::vector<dirty::PageRun> runs;
  ASSERT_TRUE(t.Collect(&runs).ok());
  EXPECT_EQ(runs, (std::vector<dirty::PageRun>{{reinterpret_cast<uintptr_t>(mem.page(1)), 1}}));
  ASSERT_TRUE(t.MarkWritten(mem.page(2) + 100, 2 * 4096).ok());  // pages 2, 3 and 4
  ASSERT_TRUE(t.Collect(&runs).ok());
  const std::vector<dirty::PageRun> want{{reinterpret_cast<uintptr_t>(mem.page(2)), 2},
                                         {reinterpret_cast<uintptr_t>(mem.page(4)), 1}};
  EXPECT_EQ(runs, want);  // split at the range boundary
  ASSERT_TRUE(t.Collect(&runs).ok());
  EXPECT_TRUE(runs.empty());
  ASSERT_TRUE(t.Untrack(mem.page(4), 4 * 4096).ok());
  EXPECT_EQ(t.MarkWritten(mem.page(5), 1).code(), Status::Code::kInvalidArgument);
  t.FailNextCollect(Status::Unavailable("paused in Track"));
  EXPECT_TRUE(t.Collect(&runs).IsUnavailable());
}

}  // namespace
}  // namespace respct::testing
