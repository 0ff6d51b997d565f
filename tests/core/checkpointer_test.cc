// The Checkpointer with a scripted dirty tracker (tests/support/
// fake_dirty_tracker.h) and a Replicator on the fake memnode: what it stages
// under the pause for the pages the tracker reports — the changed 64-byte
// lines, copied, so that what ships is the memory as captured — and what
// else a capture does: the meta header, thread TLS blocks, kernel-write
// spans kept open, tracking that grows with a region, stacks compared whole
// under the mprotect tracker, the shadow of a recovered process.
#include "runtime/core/checkpointer.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <memory>
#include <vector>

#include "runtime/core/thread_registry.h"
#include "tests/support/fake_dirty_tracker.h"
#include "tests/support/fake_memnode.h"
#include "tests/support/test_image_file.h"

namespace respct::core {
namespace {

using respct::testing::FakeDirtyTracker;
using respct::testing::FakeMemnode;
using respct::testing::TestImageFile;

constexpr size_t kHeapPages = 64;
constexpr size_t kStackPages = 8;
constexpr uint32_t kThreads = 4;
constexpr int kWaitMs = 5000;

// An anonymous mapping, never touched (no page populated) until written.
class Mapping {
 public:
  explicit Mapping(size_t len) : len_(len) {
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    base_ = p == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p);
    if (base_ != nullptr) madvise(base_, len, MADV_NOHUGEPAGE);  // page-exact expectations
  }
  ~Mapping() { munmap(base_, len_); }
  uint8_t* at(size_t offset) const { return base_ + offset; }
  uintptr_t addr() const { return reinterpret_cast<uintptr_t>(base_); }
  size_t size() const { return len_; }

 private:
  uint8_t* base_;
  size_t len_;
};

struct Span {
  uint32_t region;
  uint64_t offset;
  size_t len;
  bool operator==(const Span&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Span& s) {
  return os << "{region " << s.region << ", +" << s.offset << ", " << s.len << " B}";
}

class CheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    slots_.reset(new ThreadSlot[kThreads]());
    controls_.reset(new SlotControl[kThreads]);
    registry_ = std::make_unique<ThreadRegistry>(slots_.get(), controls_.get(), kThreads);
    meta_storage_.assign(kMetaHeaderBytes / sizeof(uint64_t), 0);
  }
  void TearDown() override {
    checkpointer_.reset();
    if (replicator_ != nullptr) replicator_->Stop(kWaitMs);
  }

  MetaHeader* meta() { return reinterpret_cast<MetaHeader*>(meta_storage_.data()); }
  std::vector<RegionMapping> Regions() const {
    return {{kHeapRegion, heap_.addr(), heap_.size()}, {kStackRegion, stacks_.addr(), stacks_.size()}};
  }

  // The Checkpointer under test, its tracker a FakeDirtyTracker of kind
  // `tracker_kind` (the Checkpointer asks kind() for its mprotect case), its
  // replicator attached to the fake memnode.
  void Make(Checkpointer::Options o = {}, dirty::DirtyTracker::Kind tracker_kind = dirty::DirtyTracker::Kind::kScan) {
    ConnectOptions c;
    c.app = "app";
    c.writer = true;
    c.create = true;
    std::vector<RegionMapping> regions = Regions();
    for (const RegionMapping& r : regions) c.regions.push_back(RegionSpec{r.id, r.size, r.base});
    std::shared_ptr<FakeMemnode> m = memnode_;
    replicator_ = std::make_unique<Replicator>(
        ReplicaSet{{"fake://memnode"}, CommitQuorum::kMajority}, Secret::FromBytes("s"), c, regions, &stats_,
        [m](const std::string&, const ConnectOptions& opts) { return m->Connect(opts); });
    ASSERT_TRUE(replicator_->Connect().ok());
    replicator_->Start();
    o.make_tracker = [this, tracker_kind](dirty::DirtyTracker::Kind) -> Result<std::unique_ptr<dirty::DirtyTracker>> {
      auto t = std::make_unique<FakeDirtyTracker>(tracker_kind);
      tracker_ = t.get();
      return std::unique_ptr<dirty::DirtyTracker>(std::move(t));
    };
    auto cp = Checkpointer::Create(o, regions, meta(), registry_.get(), replicator_.get(), &stats_);
    ASSERT_TRUE(cp.ok()) << cp.status().ToString();
    checkpointer_ = std::move(cp.value());
  }

  // One round as the coordinator runs it: capture under the pause, release,
  // then the epoch ships; returns what the memnode committed for it.
  std::vector<Span> Checkpoint(uint64_t epoch) {
    EXPECT_TRUE(checkpointer_->CaptureQuiescent(epoch));
    Release(epoch);
    return Committed(epoch);
  }
  void Release(uint64_t epoch) {
    checkpointer_->AfterRelease(epoch, RoundResult{RoundResult::kCaptured, 1000, 500, 0, {}});
    EXPECT_TRUE(replicator_->WaitIdle(kWaitMs));
    EXPECT_EQ(memnode_->committed_epoch(), epoch);
  }
  std::vector<Span> Committed(uint64_t epoch) const {
    std::vector<Span> out;
    for (const FakeMemnode::Record& r : memnode_->RecordsOf(epoch))
      out.push_back(Span{r.region_id, r.offset, r.bytes.size()});
    return out;
  }
  void Mark(const Mapping& m, size_t offset, size_t len) { ASSERT_TRUE(tracker_->MarkWritten(m.at(offset), len).ok()); }
  // The memnode's image of the heap equals the heap.
  void ExpectHeapImaged() const {
    const std::vector<uint8_t> img = memnode_->ImageBytes(kHeapRegion, 0, heap_.size());
    EXPECT_EQ(std::memcmp(img.data(), heap_.at(0), heap_.size()), 0);
  }

  Mapping heap_{kHeapPages * kPageSize};
  Mapping stacks_{kStackPages * kPageSize};
  std::unique_ptr<ThreadSlot[]> slots_;
  std::unique_ptr<SlotControl[]> controls_;
  std::unique_ptr<ThreadRegistry> registry_;
  std::vector<uint64_t> meta_storage_;
  std::shared_ptr<FakeMemnode> memnode_ = FakeMemnode::Create("app");
  RuntimeStats stats_{64};
  std::unique_ptr<Replicator> replicator_;
  FakeDirtyTracker* tracker_ = nullptr;
  std::unique_ptr<Checkpointer> checkpointer_;
};

TEST_F(CheckpointerTest, FirstEpochShipsTheChangedLinesOfWhatTheRegionsHeld) {
  heap_.at(3 * kPageSize + 100)[0] = 0x11;                // one line
  std::memset(heap_.at(7 * kPageSize + 4032), 0x22, 128);  // two lines, across a page boundary
  Make();
  // Both regions tracked whole (no in_use).
  ASSERT_EQ(tracker_->tracked().size(), 2u);
  const std::vector<Span> want{{kHeapRegion, 3 * kPageSize + 64, 64}, {kHeapRegion, 7 * kPageSize + 4032, 128}};
  EXPECT_EQ(Checkpoint(1), want);
  ExpectHeapImaged();
  EXPECT_EQ(meta()->epoch, 1u);
  EXPECT_NE(meta()->capture_unix_ns, 0u);
  EXPECT_EQ(meta()->written_bytes[kHeapRegion], heap_.size());
  EXPECT_EQ(stats_.committed(), 1u);
}

TEST_F(CheckpointerTest, OnlyReportedPagesAreStagedAndTheCapturedCopyIsWhatShips) {
  Make();
  EXPECT_TRUE(Checkpoint(1).empty());  // nothing populated yet
  heap_.at(5 * kPageSize)[0] = 1;
  heap_.at(9 * kPageSize)[0] = 1;
  Mark(heap_, 5 * kPageSize, 1);  // page 9 written but not reported
  EXPECT_EQ(Checkpoint(2), (std::vector<Span>{{kHeapRegion, 5 * kPageSize, 64}}));
  // Reported but unchanged: nothing staged, the epoch commits empty.
  Mark(heap_, 5 * kPageSize, 1);
  EXPECT_TRUE(Checkpoint(3).empty());
  EXPECT_EQ(memnode_->CommitsOf(3), 1u);
  // Written again after the capture, before the epoch ships: the capture's
  // bytes ship, the later write is the next epoch's.
  Mark(heap_, 9 * kPageSize, 1);
  ASSERT_TRUE(checkpointer_->CaptureQuiescent(4));
  heap_.at(9 * kPageSize)[0] = 2;
  Release(4);
  EXPECT_EQ(memnode_->ImageBytes(kHeapRegion, 9 * kPageSize, 1)[0], 1);
  Mark(heap_, 9 * kPageSize, 1);
  EXPECT_EQ(Checkpoint(5), (std::vector<Span>{{kHeapRegion, 9 * kPageSize, 64}}));
  ExpectHeapImaged();
}

TEST_F(CheckpointerTest, PageGranularityShipsReportedPagesWhole) {
  Checkpointer::Options o;
  o.granularity = Granularity::kPage;
  Make(o);
  Checkpoint(1);
  heap_.at(5 * kPageSize + 700)[0] = 1;
  Mark(heap_, 5 * kPageSize, 1);
  EXPECT_EQ(Checkpoint(2), (std::vector<Span>{{kHeapRegion, 5 * kPageSize, kPageSize}}));
}

TEST_F(CheckpointerTest, FullGranularityShipsEveryTrackedPageEveryEpoch) {
  Checkpointer::Options o;
  o.granularity = Granularity::kFull;
  Make(o);
  const std::vector<Span> whole{{kHeapRegion, 0, heap_.size()}, {kStackRegion, 0, stacks_.size()}};
  EXPECT_EQ(Checkpoint(1), whole);
  heap_.at(2 * kPageSize)[0] = 9;  // written, not even reported
  EXPECT_EQ(Checkpoint(2), whole);
  ExpectHeapImaged();
}

TEST_F(CheckpointerTest, FailedCollectCapturesNothingAndLosesNothing) {
  std::vector<uint64_t> captured;
  Checkpointer::Options o;
  o.on_captured = [&](uint64_t e) { captured.push_back(e); };
  Make(o);
  Checkpoint(1);
  heap_.at(4 * kPageSize)[0] = 4;
  Mark(heap_, 4 * kPageSize, 1);
  tracker_->FailNextCollect(Status::Unavailable("a thread paused inside Track"));
  EXPECT_FALSE(checkpointer_->CaptureQuiescent(2));
  EXPECT_TRUE(replicator_->Idle());  // nothing handed over
  EXPECT_EQ(captured, (std::vector<uint64_t>{1}));
  // The page the failed round did not collect is the retried round's.
  EXPECT_EQ(Checkpoint(2), (std::vector<Span>{{kHeapRegion, 4 * kPageSize, 64}}));
  EXPECT_EQ(captured, (std::vector<uint64_t>{1, 2}));
  checkpointer_->Abandoned(3, RoundResult{RoundResult::kAbandoned, 0, 20'000'000, 3, {}});
  EXPECT_EQ(stats_.abandoned(), 1u);
}

TEST_F(CheckpointerTest, CopiesTheTlsBlockOfQuiescentThreadsOnly) {
  Make();
  uint8_t tls_parked[64], tls_running[64];
  std::memset(tls_parked, 0x5a, sizeof tls_parked);
  std::memset(tls_running, 0x6b, sizeof tls_running);
  auto set = [&](uint32_t i, SlotState st, uint8_t* tls) {
    slots_[i].state = st;
    slots_[i].tls_addr = reinterpret_cast<uintptr_t>(tls);
    slots_[i].tls_size = 64;
  };
  set(0, kSlotParked, tls_parked);
  set(1, kSlotRunning, tls_running);
  Checkpoint(1);
  EXPECT_EQ(std::memcmp(slots_[0].tls_image, tls_parked, 64), 0);
  EXPECT_EQ(slots_[1].tls_image[0], 0);
}

// The spans are handed over before the collect re-arms anything: the
// kernel may write them at any moment of the capture.
TEST_F(CheckpointerTest, KeepsTheKernelWriteSpansOfBlockedAndParkedThreadsWritable) {
  Make();
  const uintptr_t buf = heap_.addr() + 10 * kPageSize;
  for (uint32_t i : {0u, 1u, 2u}) {
    controls_[i].kernel_write_lo = buf + i * 1000;
    controls_[i].kernel_write_hi = buf + i * 1000 + 100;
  }
  slots_[0].state = kSlotBlocked;  // in read(2) into the buffer
  slots_[1].state = kSlotRunning;  // its span is stale: not in the call now
  slots_[2].state = kSlotParked;   // told the tracker, parked before calling
  const int collects = tracker_->collects();
  Checkpoint(1);
  ASSERT_EQ(tracker_->kept_writable().size(), 2u);
  EXPECT_EQ(tracker_->kept_writable()[0].addr, buf);
  EXPECT_EQ(tracker_->kept_writable()[0].len, 100u);
  EXPECT_EQ(tracker_->kept_writable()[1].addr, buf + 2000);
  for (const auto& k : tracker_->kept_writable()) EXPECT_EQ(k.collects_before, collects) << "told after the collect";
  EXPECT_TRUE(tracker_->kernel_writes().empty());
}

TEST_F(CheckpointerTest, StacksUnderTheMprotectTrackerAreComparedWholeEveryEpoch) {
  Make({}, dirty::DirtyTracker::Kind::kMprotect);
  // The stacks are not write-protected (a signal frame could not be written
  // on them): only the heap is tracked.
  ASSERT_EQ(tracker_->tracked(), (std::vector<dirty::PageRun>{{heap_.addr(), kHeapPages}}));
  Checkpoint(1);
  stacks_.at(3 * kPageSize + 200)[0] = 7;  // never reported
  EXPECT_EQ(Checkpoint(2), (std::vector<Span>{{kStackRegion, 3 * kPageSize + 192, 64}}));
}

TEST_F(CheckpointerTest, FinalCaptureMarksTheImageExited) {
  Make();
  Checkpoint(1);
  EXPECT_EQ(meta()->exited, 0u);
  checkpointer_->MarkFinalCapture();
  Checkpoint(2);
  EXPECT_EQ(meta()->exited, kMetaExitedMark);
  EXPECT_EQ(meta()->epoch, 2u);
}

// A region that fills from its start (the heap) is tracked as far as it is
// in use, plus slack, and tracking grows under the pause as it does.
TEST(CheckpointerGrowthTest, TracksAGrowingRegionAsFarAsItIsUsed) {
  constexpr size_t kSize = size_t{128} << 20;
  constexpr size_t kStep = size_t{32} << 20;  // Checkpointer's growth step
  Mapping region(kSize);
  std::unique_ptr<ThreadSlot[]> slots(new ThreadSlot[1]());
  std::unique_ptr<SlotControl[]> controls(new SlotControl[1]);
  ThreadRegistry registry(slots.get(), controls.get(), 1);
  std::vector<uint64_t> meta_storage(kMetaHeaderBytes / sizeof(uint64_t), 0);
  auto* meta = reinterpret_cast<MetaHeader*>(meta_storage.data());
  RuntimeStats stats(8);
  Replicator replicator(ReplicaSet{{"fake://unused"}, CommitQuorum::kMajority}, Secret::FromBytes("s"), {}, {},
                        &stats);  // never connected: not shipped
  size_t in_use = 1u << 20;
  FakeDirtyTracker* tracker = nullptr;
  Checkpointer::Options o;
  o.in_use = {{kHeapRegion, [&] { return in_use; }}};
  o.make_tracker = [&](dirty::DirtyTracker::Kind) -> Result<std::unique_ptr<dirty::DirtyTracker>> {
    auto t = std::make_unique<FakeDirtyTracker>();
    tracker = t.get();
    return std::unique_ptr<dirty::DirtyTracker>(std::move(t));
  };
  auto cp = Checkpointer::Create(o, {{kHeapRegion, region.addr(), kSize}}, meta, &registry, &replicator, &stats);
  ASSERT_TRUE(cp.ok()) << cp.status().ToString();
  // At least one step of slack beyond the use, to a step boundary.
  const std::vector<dirty::PageRun> first{{region.addr(), 2 * kStep / kPageSize}};
  EXPECT_EQ(tracker->tracked(), first);
  EXPECT_EQ(meta->written_bytes[kHeapRegion], in_use);
  // Growth within the slack registers nothing new.
  in_use = 20u << 20;
  ASSERT_TRUE((*cp)->CaptureQuiescent(1));
  EXPECT_EQ(tracker->tracked(), first);
  in_use = (40u << 20) + 100;
  ASSERT_TRUE((*cp)->CaptureQuiescent(2));
  const std::vector<dirty::PageRun> grown{first[0], {region.addr() + 2 * kStep, kStep / kPageSize}};
  EXPECT_EQ(tracker->tracked(), grown);
  EXPECT_EQ(meta->written_bytes[kHeapRegion], (40u << 20) + kPageSize);  // page-rounded
  // A high-water mark: shrinking use keeps what was tracked and reported.
  in_use = 1u << 20;
  ASSERT_TRUE((*cp)->CaptureQuiescent(3));
  EXPECT_EQ(tracker->tracked(), grown);
  EXPECT_EQ(meta->written_bytes[kHeapRegion], (40u << 20) + kPageSize);
}

// In a recovered process the shadow starts as the memnode's image: the
// first epoch ships what differs from it, not everything that is non-zero.
TEST_F(CheckpointerTest, RecoveredProcessShipsOnlyWhatDiffersFromTheImage) {
  std::memset(heap_.at(0), 0x33, 2 * kPageSize);  // as restored from the image...
  std::vector<uint8_t> heap_image(heap_.at(0), heap_.at(0) + 2 * kPageSize);
  heap_.at(kPageSize + 64 * 5)[0] = 0x44;          // ...then changed by the program
  std::vector<uint8_t> meta_image(MetaKeysOffset(1), 0);
  MetaHeader m{};
  m.magic = kMetaMagic;
  m.version = kMetaVersion;
  m.max_threads = 1;
  m.slots_offset = MetaSlotsOffset();
  std::memcpy(meta_image.data(), &m, sizeof m);
  auto file = TestImageFile::Write(1, "app",
                                   {{kMetaRegion, 0, meta_image.size(), meta_image},
                                    {kHeapRegion, heap_.addr(), heap_.size(), heap_image}});
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  auto image = RecoveryImage::Open(file->path());
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  Checkpointer::Options o;
  o.image = &image.value();
  Make(o);
  EXPECT_EQ(Checkpoint(1), (std::vector<Span>{{kHeapRegion, kPageSize + 64 * 5, 64}}));
}

}  // namespace
}  // namespace respct::core
