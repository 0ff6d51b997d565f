// The Replicator against an in-memory memnode with injected faults
// (tests/support/fake_memnode.h): epochs ship and commit in order; a lost
// commit is sent again after a reconnection and committed once; a lost
// acknowledgement is found out on reconnection and not sent again; a
// connection lost mid-epoch makes the epoch go again whole; the application
// side never waits for the memnode; an outage is reported once; an epoch
// larger than the ring stops shipping for good; Stop keeps its bound.
#include "runtime/core/replicator.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/base/clock.h"
#include "runtime/core/layout.h"
#include "runtime/core/meta_region.h"
#include "runtime/wire/record.h"
#include "tests/support/captured_stderr.h"
#include "tests/support/fake_memnode.h"

namespace respct::core {
namespace {

using respct::testing::CapturedStderr;
using respct::testing::FakeMemnode;
using Op = FakeMemnode::Op;
using std::chrono::milliseconds;

constexpr size_t kRegionSize = 8u << 20;
constexpr int kWaitMs = 5000;  // bound of every wait for something that should happen

uint64_t ElapsedMs(uint64_t since_ns) { return (MonotonicNs() - since_ns) / 1'000'000; }

// What on_commit was told, with a bounded wait for it.
class CommitLog {
 public:
  void Note(uint64_t epoch, bool never) {
    std::lock_guard<std::mutex> l(mu_);
    calls_.push_back({epoch, never});
    cv_.notify_all();
  }
  bool WaitNever(milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return !calls_.empty() && calls_.back().never; });
  }
  struct Call {
    uint64_t epoch;
    bool never;
    bool operator==(const Call&) const = default;
  };
  std::vector<Call> calls() {
    std::lock_guard<std::mutex> l(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Call> calls_;
};

class ReplicatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    void* p = mmap(nullptr, kRegionSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    memory_ = static_cast<uint8_t*>(p);
    auto staging = dirty::StagingBuffer::Create(2 * kRegionSize);
    ASSERT_TRUE(staging.ok());
    staging_ = std::move(staging.value());
    memnode_ = FakeMemnode::Create("app");
  }
  void TearDown() override {
    replicator_.reset();  // joins the ship thread before the memory goes
    munmap(memory_, kRegionSize);
  }

  // A started Replicator attached to the fake memnode, as the runtime makes
  // one (writer, create) with a ring of `ring` bytes.
  void Start(uint64_t ring = 8u << 20, bool reset = false) {
    ConnectOptions o;
    o.app = "app";
    o.writer = true;
    o.create = true;
    o.reset = reset;
    o.ring_capacity = ring;
    o.regions = {RegionSpec{kHeapRegion, kRegionSize, reinterpret_cast<uint64_t>(memory_)}};
    std::shared_ptr<FakeMemnode> m = memnode_;
    replicator_ = std::make_unique<Replicator>(
        ReplicaSet{{"fake://memnode"}, CommitQuorum::kMajority}, Secret::FromBytes("secret"), o,
        std::vector<RegionMapping>{{kHeapRegion, reinterpret_cast<uintptr_t>(memory_), kRegionSize}}, &stats_,
        [m](const std::string&, const ConnectOptions& opts) { return m->Connect(opts); });
    ASSERT_TRUE(replicator_->Connect().ok());
    replicator_->set_on_commit([this](uint64_t e, bool never) { commits_.Note(e, never); });
    replicator_->Start();
  }

  // Writes `len` bytes of `fill` at `offset` of the region and stages them
  // as a capture would.
  void Stage(uint64_t offset, size_t len, uint8_t fill) {
    std::memset(memory_ + offset, fill, len);
    std::byte* dst = staging_->Reserve(reinterpret_cast<uintptr_t>(memory_) + offset, len);
    ASSERT_NE(dst, nullptr);
    std::memcpy(dst, memory_ + offset, len);
  }
  // Epoch `epoch`: `ranges` ranges of 64 B, 4 KiB apart, filled with `epoch`.
  void StageEpoch(uint64_t epoch, int ranges) {
    staging_->Clear();
    for (int i = 0; i < ranges; ++i) Stage(uint64_t(i) * 4096 + 64 * (epoch % 8), 64, static_cast<uint8_t>(epoch));
  }
  void Submit(uint64_t epoch) { replicator_->Submit(epoch, staging_.get(), stats_.RecordCaptured(EpochSample{})); }

  // The memnode's image of the whole region equals the region.
  void ExpectImageIsMemory() {
    const std::vector<uint8_t> img = memnode_->ImageBytes(kHeapRegion, 0, kRegionSize);
    EXPECT_EQ(std::memcmp(img.data(), memory_, kRegionSize), 0);
  }

  uint8_t* memory_ = nullptr;
  std::unique_ptr<dirty::StagingBuffer> staging_;
  std::shared_ptr<FakeMemnode> memnode_;
  RuntimeStats stats_{64};
  CommitLog commits_;
  std::unique_ptr<Replicator> replicator_;
};

TEST_F(ReplicatorTest, ShipsAndCommitsEpochsInOrder) {
  Start();
  for (uint64_t e = 1; e <= 5; ++e) {
    StageEpoch(e, 3);
    Submit(e);
    ASSERT_TRUE(replicator_->WaitIdle(kWaitMs)) << "epoch " << e;
    EXPECT_EQ(replicator_->committed_epoch(), e);
  }
  EXPECT_EQ(memnode_->CommitOrder(), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  for (uint64_t e = 1; e <= 5; ++e) EXPECT_EQ(memnode_->CommitsOf(e), 1u);
  // Epoch 3's records are exactly what was staged for it, in order.
  const std::vector<FakeMemnode::Record> r3 = memnode_->RecordsOf(3);
  ASSERT_EQ(r3.size(), 3u);
  for (size_t i = 0; i < r3.size(); ++i) {
    EXPECT_EQ(r3[i].region_id, kHeapRegion);
    EXPECT_EQ(r3[i].offset, i * 4096 + 64 * 3);
    EXPECT_EQ(r3[i].bytes, std::vector<uint8_t>(64, 3));
  }
  ExpectImageIsMemory();
  EXPECT_EQ(memnode_->connections(), 1u);
  EXPECT_TRUE(memnode_->refusals().empty()) << memnode_->refusals().front();
  const std::vector<CommitLog::Call> want{{1, false}, {2, false}, {3, false}, {4, false}, {5, false}};
  EXPECT_EQ(commits_.calls(), want);
  EXPECT_EQ(stats_.committed(), 5u);
}

TEST_F(ReplicatorTest, DroppedCommitIsSentAgainAfterReconnectingAndCommittedOnce) {
  Start();
  StageEpoch(1, 4);
  memnode_->FailNext(Op::kCommit, 1);
  Submit(1);
  ASSERT_TRUE(replicator_->WaitIdle(kWaitMs));
  EXPECT_EQ(replicator_->committed_epoch(), 1u);
  EXPECT_EQ(memnode_->CommitsOf(1), 1u);
  EXPECT_EQ(memnode_->connections(), 2u);
  // The memnode dropped the first attempt's records with the connection:
  // the epoch went again whole.
  EXPECT_EQ(memnode_->AppendsReceived(1), 8u);
  EXPECT_EQ(memnode_->RecordsOf(1).size(), 4u);
  ExpectImageIsMemory();
  EXPECT_TRUE(memnode_->refusals().empty()) << memnode_->refusals().front();
}

TEST_F(ReplicatorTest, LostAcknowledgementIsFoundOnReconnectionAndNotSentAgain) {
  Start();
  StageEpoch(1, 4);
  memnode_->LoseNextCommitAck();
  Submit(1);
  ASSERT_TRUE(replicator_->WaitIdle(kWaitMs));
  EXPECT_EQ(replicator_->committed_epoch(), 1u);
  EXPECT_EQ(memnode_->connections(), 2u);         // it reconnected to find out
  EXPECT_EQ(memnode_->AppendsReceived(1), 4u);    // and did not resend
  EXPECT_EQ(memnode_->CallsStarted(Op::kCommit), 1u);
  EXPECT_EQ(memnode_->CommitsOf(1), 1u);
  // The next epoch ships on the new connection.
  StageEpoch(2, 2);
  Submit(2);
  ASSERT_TRUE(replicator_->WaitIdle(kWaitMs));
  EXPECT_EQ(memnode_->CommitOrder(), (std::vector<uint64_t>{1, 2}));
  ExpectImageIsMemory();
  EXPECT_TRUE(memnode_->refusals().empty()) << memnode_->refusals().front();
  const std::vector<CommitLog::Call> want{{1, false}, {2, false}};
  EXPECT_EQ(commits_.calls(), want);
}

// The statistics count an epoch committed whether its acknowledgement
// arrived or was found on reconnection ("epochs committed" in the report).
TEST_F(ReplicatorTest, EpochWhoseAcknowledgementWasLostCountsAsCommitted) {
  Start();
  StageEpoch(1, 1);
  memnode_->LoseNextCommitAck();
  Submit(1);
  ASSERT_TRUE(replicator_->WaitIdle(kWaitMs));
  StageEpoch(2, 1);
  Submit(2);
  ASSERT_TRUE(replicator_->WaitIdle(kWaitMs));
  EXPECT_EQ(memnode_->committed_epoch(), 2u);
  EXPECT_EQ(stats_.committed(), 2u);
}

TEST_F(ReplicatorTest, DisconnectMidEpochSendsTheEpochAgainWhole) {
  Start();
  StageEpoch(1, 5);
  memnode_->DisconnectAfterAppends(2);
  Submit(1);
  ASSERT_TRUE(replicator_->WaitIdle(kWaitMs));
  EXPECT_EQ(memnode_->CommitsOf(1), 1u);
  EXPECT_EQ(memnode_->AppendsReceived(1), 2u + 5u);  // two before the cut, then all five
  const std::vector<FakeMemnode::Record> r = memnode_->RecordsOf(1);
  ASSERT_EQ(r.size(), 5u);
  for (size_t i = 0; i < r.size(); ++i) EXPECT_EQ(r[i].offset, i * 4096 + 64);
  ExpectImageIsMemory();
  EXPECT_TRUE(memnode_->refusals().empty()) << memnode_->refusals().front();
}

// A reconnection neither creates nor resets the app again: a --fresh start
// resets once, at the first connection, and the epochs committed since stay.
TEST_F(ReplicatorTest, ReconnectionDoesNotResetTheApp) {
  Start(8u << 20, /*reset=*/true);
  StageEpoch(1, 2);
  Submit(1);
  ASSERT_TRUE(replicator_->WaitIdle(kWaitMs));
  StageEpoch(2, 1);
  memnode_->FailNext(Op::kCommit, 1);
  Submit(2);
  ASSERT_TRUE(replicator_->WaitIdle(kWaitMs));
  EXPECT_EQ(memnode_->connections(), 2u);
  EXPECT_EQ(memnode_->CommitOrder(), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(memnode_->RecordsOf(1).size(), 2u);
  ExpectImageIsMemory();
}

TEST_F(ReplicatorTest, ApplicationSideNeverWaitsForTheMemnode) {
  Start();
  StageEpoch(1, 1);
  memnode_->Delay(Op::kAppend, 300);
  const uint64_t submitted = MonotonicNs();
  Submit(1);
  EXPECT_LT(ElapsedMs(submitted), 50u);
  ASSERT_TRUE(memnode_->WaitForCalls(Op::kAppend, 1, milliseconds(kWaitMs)));
  // The ship thread is inside the delayed append: what the coordinator and
  // the exit path ask answers at once.
  const uint64_t asked = MonotonicNs();
  EXPECT_FALSE(replicator_->ReadyForCheckpoint());
  EXPECT_FALSE(replicator_->Idle());
  EXPECT_EQ(replicator_->committed_epoch(), 0u);
  EXPECT_FALSE(replicator_->WaitIdle(20));
  EXPECT_LT(ElapsedMs(asked), 150u);
  ASSERT_TRUE(replicator_->WaitIdle(kWaitMs));
  EXPECT_GE(ElapsedMs(submitted), 290u);  // the delay was real
  EXPECT_TRUE(replicator_->ReadyForCheckpoint());
}

TEST_F(ReplicatorTest, OutageIsReportedOncePerOutage) {
  CapturedStderr log;
  Start();
  StageEpoch(1, 1);
  memnode_->FailNext(Op::kCommit, 3);  // three attempts fail (backoff 50 + 100 + 200 ms)
  Submit(1);
  ASSERT_TRUE(replicator_->WaitIdle(kWaitMs));
  EXPECT_EQ(memnode_->CallsStarted(Op::kCommit), 4u);
  EXPECT_EQ(log.Count("retrying"), 1u) << log.text();
  EXPECT_EQ(log.Count("reachable again"), 1u) << log.text();
  // A healthy epoch says nothing.
  StageEpoch(2, 1);
  Submit(2);
  ASSERT_TRUE(replicator_->WaitIdle(kWaitMs));
  EXPECT_EQ(log.Count("retrying"), 1u) << log.text();
  // A second outage is a new one: reported again, once.
  StageEpoch(3, 1);
  memnode_->FailNext(Op::kCommit, 1);
  memnode_->FailNext(Op::kConnect, 2);  // and the first two reconnections
  Submit(3);
  ASSERT_TRUE(replicator_->WaitIdle(kWaitMs));
  EXPECT_EQ(log.Count("retrying"), 2u) << log.text();
  EXPECT_EQ(log.Count("reachable again"), 2u) << log.text();
  const std::string report = stats_.Report(false, false, "");
  EXPECT_NE(report.find("ship failures 6"), std::string::npos) << report;
  EXPECT_EQ(memnode_->CommitOrder(), (std::vector<uint64_t>{1, 2, 3}));
}

// A memnode that neither answers nor fails (a silent link) is reported by
// ReadyForCheckpoint, which the coordinator asks every millisecond, once the
// commit has waited kSilenceWarnMs (2 s) — and only once, even though the
// commit then fails too.
TEST_F(ReplicatorTest, SilentMemnodeIsReportedOnceWhileTheCommitWaits) {
  CapturedStderr log;
  Start();
  StageEpoch(1, 1);
  memnode_->Delay(Op::kCommit, 2300);
  memnode_->FailNext(Op::kCommit, 1);
  Submit(1);
  // The first commit took its delay; the one after the reconnection must not.
  ASSERT_TRUE(memnode_->WaitForCalls(Op::kCommit, 1, milliseconds(kWaitMs)));
  memnode_->Delay(Op::kCommit, 0);
  // As the coordinator does (epoch_coordinator.h): ask, every millisecond.
  const uint64_t start = MonotonicNs();
  while (!replicator_->ReadyForCheckpoint() && ElapsedMs(start) < 3 * kWaitMs)
    std::this_thread::sleep_for(milliseconds(1));
  ASSERT_TRUE(replicator_->Idle());
  EXPECT_EQ(log.Count("does not answer"), 1u) << log.text();
  EXPECT_EQ(log.Count("retrying"), 0u) << log.text();
  EXPECT_EQ(log.Count("reachable again"), 1u) << log.text();
  EXPECT_EQ(memnode_->CommitsOf(1), 1u);
}

TEST_F(ReplicatorTest, EpochLargerThanTheRingStopsShippingForGood) {
  CapturedStderr log;
  Start(/*ring=*/wire::kMinRingCapacity);
  StageEpoch(1, 1);
  Submit(1);
  ASSERT_TRUE(replicator_->WaitIdle(kWaitMs));
  staging_->Clear();
  for (uint64_t at = 0; at < (5u << 20); at += 1u << 20) Stage(at, 1u << 20, 0xab);  // 5 MiB: more than the ring
  Submit(2);
  ASSERT_TRUE(commits_.WaitNever(milliseconds(kWaitMs)));
  EXPECT_TRUE(replicator_->failed());
  EXPECT_FALSE(replicator_->ReadyForCheckpoint());
  EXPECT_EQ(replicator_->committed_epoch(), 1u);
  EXPECT_EQ(memnode_->committed_epoch(), 1u);
  EXPECT_EQ(memnode_->CommitsOf(2), 0u);
  EXPECT_EQ(log.Count("cannot be committed"), 1u) << log.text();
  const std::vector<CommitLog::Call> want{{1, false}, {1, true}};
  EXPECT_EQ(commits_.calls(), want);
  // Nothing is retried: one attempt, one connection.
  EXPECT_EQ(memnode_->connections(), 1u);
  const uint64_t stopping = MonotonicNs();
  replicator_->Stop(100);
  EXPECT_LT(ElapsedMs(stopping), 1000u);
}

TEST_F(ReplicatorTest, StopDrainsTheEpochInFlight) {
  Start();
  StageEpoch(1, 2);
  memnode_->Delay(Op::kCommit, 200);
  Submit(1);
  const uint64_t stopping = MonotonicNs();
  replicator_->Stop(kWaitMs);
  EXPECT_LT(ElapsedMs(stopping), uint64_t{kWaitMs});
  EXPECT_EQ(memnode_->CommitsOf(1), 1u);
  EXPECT_EQ(replicator_->committed_epoch(), 1u);
}

TEST_F(ReplicatorTest, StopKeepsItsBoundWhenTheMemnodeIsGone) {
  Start();
  StageEpoch(1, 2);
  memnode_->SetReachable(false);
  memnode_->FailNext(Op::kCommit, 1);
  Submit(1);
  const uint64_t stopping = MonotonicNs();
  replicator_->Stop(300);
  const uint64_t took = ElapsedMs(stopping);
  EXPECT_GE(took, 290u);  // it did wait for the drain
  EXPECT_LT(took, 1000u);
  EXPECT_FALSE(replicator_->Idle());
  EXPECT_EQ(memnode_->committed_epoch(), 0u);
}

// ---- several memnodes (a ReplicaSet) ----

// Three fake memnodes as replicas, commit on a majority (or all), and two
// regions: the meta region (its header says how much of the heap is in use,
// which is what a replica that lost everything is sent) and the heap.
class ReplicaSetTest : public ::testing::Test {
 protected:
  static constexpr size_t kMetaSize = kMetaHeaderBytes;
  void SetUp() override {
    const size_t total = kMetaSize + kRegionSize;
    void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    meta_ = static_cast<uint8_t*>(p);
    heap_ = meta_ + kMetaSize;
    auto staging = dirty::StagingBuffer::Create(2 * kRegionSize);
    ASSERT_TRUE(staging.ok());
    staging_ = std::move(staging.value());
    for (auto& m : memnodes_) m = FakeMemnode::Create("app");
  }
  void TearDown() override {
    replicator_.reset();
    munmap(meta_, kMetaSize + kRegionSize);
  }
  std::vector<RegionMapping> Regions() const {
    return {{kMetaRegion, reinterpret_cast<uintptr_t>(meta_), kMetaSize},
            {kHeapRegion, reinterpret_cast<uintptr_t>(heap_), kRegionSize}};
  }
  Status Start(CommitQuorum quorum = CommitQuorum::kMajority) {
    replicator_ = MakeReplicator(quorum);
    RESPCT_RETURN_IF_ERROR(replicator_->Connect());
    replicator_->Start();
    return Status::OK();
  }
  std::unique_ptr<Replicator> MakeReplicator(CommitQuorum quorum = CommitQuorum::kMajority, bool take_over = false) {
    ConnectOptions o;
    o.take_over = take_over;
    o.app = "app";
    o.writer = true;
    o.create = true;
    o.ring_capacity = 16u << 20;  // room for a catch-up of the whole image
    for (const RegionMapping& r : Regions()) o.regions.push_back(RegionSpec{r.id, r.size, r.base});
    auto memnodes = memnodes_;
    return std::make_unique<Replicator>(
        ReplicaSet{{"fake://0", "fake://1", "fake://2"}, quorum}, Secret::FromBytes("secret"), o, Regions(), &stats_,
        [memnodes](const std::string& url, const ConnectOptions& opts) {
          return memnodes[static_cast<size_t>(url.back() - '0')]->Connect(opts);
        });
  }
  // Epoch `epoch`: 3 lines of the heap and the meta header's high-water mark.
  void StageEpoch(uint64_t epoch) {
    staging_->Clear();
    MetaHeader m{};
    m.epoch = epoch;
    m.written_bytes[kHeapRegion] = kRegionSize;
    std::memcpy(meta_, &m, sizeof m);
    StageBytes(meta_, sizeof m);
    for (int i = 0; i < 3; ++i) {
      uint8_t* at = heap_ + (epoch * 3 + i) * 4096 % kRegionSize;
      std::memset(at, static_cast<int>(epoch), 64);
      StageBytes(at, 64);
    }
  }
  void StageBytes(const uint8_t* at, size_t len) {
    std::byte* dst = staging_->Reserve(reinterpret_cast<uintptr_t>(at), len);
    ASSERT_NE(dst, nullptr);
    std::memcpy(dst, at, len);
  }
  void Commit(uint64_t epoch) {
    StageEpoch(epoch);
    replicator_->Submit(epoch, staging_.get(), stats_.RecordCaptured(EpochSample{}));
    ASSERT_TRUE(replicator_->WaitIdle(kWaitMs)) << "epoch " << epoch;
    EXPECT_EQ(replicator_->committed_epoch(), epoch);
  }
  // Memnode `i` holds epoch `epoch` and exactly the process's memory.
  void ExpectReplicaIsMemory(size_t i, uint64_t epoch) {
    EXPECT_EQ(memnodes_[i]->committed_epoch(), epoch) << "memnode " << i;
    const std::vector<uint8_t> heap = memnodes_[i]->ImageBytes(kHeapRegion, 0, kRegionSize);
    EXPECT_EQ(std::memcmp(heap.data(), heap_, kRegionSize), 0) << "memnode " << i;
    const std::vector<uint8_t> meta = memnodes_[i]->ImageBytes(kMetaRegion, 0, kMetaSize);
    EXPECT_EQ(std::memcmp(meta.data(), meta_, kMetaSize), 0) << "memnode " << i;
    EXPECT_TRUE(memnodes_[i]->refusals().empty()) << memnodes_[i]->refusals().front();
  }
  // Waits (bounded) until memnode `i` committed `epoch`.
  bool WaitCommitted(size_t i, uint64_t epoch) {
    const uint64_t start = MonotonicNs();
    while (memnodes_[i]->committed_epoch() < epoch && ElapsedMs(start) < uint64_t{kWaitMs})
      std::this_thread::sleep_for(milliseconds(5));
    return memnodes_[i]->committed_epoch() >= epoch;
  }
  // Catch-ups start between epochs: ask as the coordinator would until the
  // replicator takes the next capture again.
  bool WaitReady() {
    const uint64_t start = MonotonicNs();
    while (!replicator_->ReadyForCheckpoint() && ElapsedMs(start) < uint64_t{kWaitMs})
      std::this_thread::sleep_for(milliseconds(1));
    return replicator_->ReadyForCheckpoint();
  }

  uint8_t* meta_ = nullptr;
  uint8_t* heap_ = nullptr;
  std::unique_ptr<dirty::StagingBuffer> staging_;
  std::array<std::shared_ptr<FakeMemnode>, 3> memnodes_;
  RuntimeStats stats_{64};
  std::unique_ptr<Replicator> replicator_;
};

TEST_F(ReplicaSetTest, EveryReplicaGetsEveryEpoch) {
  ASSERT_TRUE(Start().ok());
  for (uint64_t e = 1; e <= 4; ++e) Commit(e);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(WaitCommitted(i, 4));
    ExpectReplicaIsMemory(i, 4);
    EXPECT_EQ(memnodes_[i]->CommitOrder(), (std::vector<uint64_t>{1, 2, 3, 4}));
  }
  EXPECT_EQ(stats_.committed(), 4u);
}

// A replica that fails mid-run neither stops nor slows the commits (two of
// three are a majority); when it answers again it is sent the bytes it
// missed as one epoch numbered as the last committed, then rejoins.
TEST_F(ReplicaSetTest, LostReplicaIsCaughtUpWithWhatItMissedAndRejoins) {
  CapturedStderr log;
  ASSERT_TRUE(Start().ok());
  Commit(1);
  ASSERT_TRUE(WaitCommitted(2, 1));
  memnodes_[2]->SetReachable(false);
  memnodes_[2]->FailNext(Op::kCommit, 1);
  for (uint64_t e = 2; e <= 6; ++e) Commit(e);
  EXPECT_EQ(memnodes_[2]->committed_epoch(), 1u);
  EXPECT_EQ(log.Count("out of the write quorum"), 1u) << log.text();
  memnodes_[2]->SetReachable(true);
  ASSERT_TRUE(WaitCommitted(2, 6));
  ASSERT_TRUE(WaitReady());
  ExpectReplicaIsMemory(2, 6);
  EXPECT_EQ(memnodes_[2]->CommitOrder(), (std::vector<uint64_t>{1, 6}));
  // Only what epochs 2..6 wrote, never the whole image: the ranges this
  // process shipped meanwhile (one meta header, 15 lines), or, when the
  // replica failed epoch 2 after its bytes left the staging buffer, the
  // ranges the source's log lists for each epoch (5 meta headers).
  uint64_t bytes = 0;
  for (const FakeMemnode::Record& r : memnodes_[2]->RecordsOf(6)) bytes += r.bytes.size();
  EXPECT_GE(bytes, sizeof(MetaHeader) + 15 * 64);
  EXPECT_LE(bytes, 5 * sizeof(MetaHeader) + 15 * 64);
  EXPECT_EQ(log.Count("caught up from epoch 1 to 6"), 1u) << log.text();
  // Back in the quorum: it gets the next epochs as they come.
  Commit(7);
  ASSERT_TRUE(WaitCommitted(2, 7));
  ExpectReplicaIsMemory(2, 7);
  const auto replicas = replicator_->replicas();
  ASSERT_EQ(replicas.size(), 3u);
  EXPECT_EQ(replicas[2].state, Replicator::ReplicaState::kInQuorum);
  EXPECT_EQ(replicas[2].catch_ups, 1u);
}

// A replica that was down when the program started (or lost its pool) holds
// nothing: it is sent the whole image in use, as the meta header sizes it.
TEST_F(ReplicaSetTest, ReplicaDownAtStartIsSentTheWholeImageInUse) {
  memnodes_[1]->SetReachable(false);
  ASSERT_TRUE(Start().ok());
  for (uint64_t e = 1; e <= 3; ++e) Commit(e);
  EXPECT_EQ(memnodes_[1]->committed_epoch(), 0u);
  memnodes_[1]->SetReachable(true);
  ASSERT_TRUE(WaitCommitted(1, 3));
  ASSERT_TRUE(WaitReady());
  ExpectReplicaIsMemory(1, 3);
  uint64_t bytes = 0;
  for (const FakeMemnode::Record& r : memnodes_[1]->RecordsOf(3)) bytes += r.bytes.size();
  EXPECT_EQ(bytes, kMetaSize + kRegionSize);
}

// Fewer replicas than a write quorum: the start is refused, naming them.
TEST_F(ReplicaSetTest, StartNeedsAWriteQuorum) {
  memnodes_[0]->SetReachable(false);
  memnodes_[2]->SetReachable(false);
  const Status st = Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("1 of 3 memnodes attached, a write quorum is 2"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("fake://0"), std::string::npos) << st.ToString();
}

// --commit-quorum all: one replica down holds the commits back (the
// application still never waits), and they go on once it is back.
TEST_F(ReplicaSetTest, QuorumAllWaitsForEveryReplica) {
  ASSERT_TRUE(Start(CommitQuorum::kAll).ok());
  Commit(1);
  memnodes_[0]->SetReachable(false);
  memnodes_[0]->FailNext(Op::kCommit, 1);
  StageEpoch(2);
  replicator_->Submit(2, staging_.get(), stats_.RecordCaptured(EpochSample{}));
  EXPECT_FALSE(replicator_->WaitIdle(300));
  EXPECT_EQ(replicator_->committed_epoch(), 1u);
  memnodes_[0]->SetReachable(true);
  ASSERT_TRUE(replicator_->WaitIdle(kWaitMs));
  EXPECT_EQ(replicator_->committed_epoch(), 2u);
  for (size_t i = 0; i < 3; ++i) ExpectReplicaIsMemory(i, 2);
}

// A writer believed dead (frozen, cut off) while its app is recovered
// elsewhere: the recovered writer attaches with a later generation, every
// memnode ends the old writer's sessions, and the old writer's next attempt
// is refused as fenced by each: it is told once, and never commits again.
TEST_F(ReplicaSetTest, OlderWriterIsFencedOnEveryMemnodeOnceANewerOneAttaches) {
  ASSERT_TRUE(Start().ok());
  Commit(1);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> fenced;
  replicator_.reset();
  // The old writer, started again as the frozen process would wake up.
  auto old_writer = MakeReplicator();
  ASSERT_TRUE(old_writer->Connect().ok());
  old_writer->set_on_fenced([&](const Status& why) {
    std::lock_guard<std::mutex> l(mu);
    fenced.push_back(why.ToString());
    cv.notify_all();
  });
  old_writer->Start();
  // A second writer without take-over is refused (busy) and fences no one.
  {
    auto racer = MakeReplicator();
    const Status st = racer->Connect();
    EXPECT_NE(st.message().find("already has a writer"), std::string::npos) << st.ToString();
  }
  // The recovered writer: a later generation taking over, on every memnode.
  auto recovered = MakeReplicator(CommitQuorum::kMajority, /*take_over=*/true);
  ASSERT_TRUE(recovered->Connect().ok());
  recovered->Start();
  // The old writer's next epoch: its sessions were ended; the reconnections
  // are refused.
  StageEpoch(2);
  old_writer->Submit(2, staging_.get(), stats_.RecordCaptured(EpochSample{}));
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, milliseconds(kWaitMs), [&] { return !fenced.empty(); }));
  }
  EXPECT_TRUE(old_writer->failed());
  EXPECT_FALSE(old_writer->ReadyForCheckpoint());
  old_writer->Stop(0);
  EXPECT_EQ(fenced.size(), 1u);
  EXPECT_NE(fenced[0].find("fenced"), std::string::npos) << fenced[0];
  for (auto& m : memnodes_) EXPECT_EQ(m->committed_epoch(), 1u) << "the fenced writer committed";
  // The recovered writer commits on. (The fenced writer's calls on the
  // connections the memnodes ended count as refusals of the fake: not
  // checked here.)
  replicator_ = std::move(recovered);
  Commit(2);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(WaitCommitted(i, 2));
    const std::vector<uint8_t> heap = memnodes_[i]->ImageBytes(kHeapRegion, 0, kRegionSize);
    EXPECT_EQ(std::memcmp(heap.data(), heap_, kRegionSize), 0) << "memnode " << i;
  }
}

}  // namespace
}  // namespace respct::core
