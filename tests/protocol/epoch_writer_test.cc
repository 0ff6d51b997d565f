// EpochWriter against a memory ring: placement, pads at lap ends, splitting of
// large payloads, back-pressure and the "does not fit" error.
#include "runtime/transport/epoch_writer.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "tests/protocol/memory_ring_sink.h"

namespace respct {
namespace {

using test::MemoryRingSink;
constexpr uint64_t kCap = wire::kMinRingCapacity;

// Plays the memnode: acknowledges a commit the way DESIGN.md §5 and wire/ring_cursor.h say.
wire::CommitAckMsg AckFor(const wire::CommitMsg& c, uint64_t applied) {
  wire::RingCursor cur(kCap, c.end_pos, applied);
  wire::RingCursor::Placement p;
  EXPECT_TRUE(cur.Place(wire::kCommitFootprint, &p));
  return wire::CommitAckMsg{c.epoch, p.end, applied};
}

const EpochWriter::WaitForSpace kNoWait = [] { return Status::Unavailable("test: nothing to wait for"); };

TEST(EpochWriterTest, SmallRecordsAreContiguousAndValidate) {
  MemoryRingSink sink(kCap);
  TransportStats stats;
  EpochWriter w(&sink, &stats, kCap, 0, 0, 0);
  std::vector<uint8_t> a(100, 1), b(10, 2);
  ASSERT_TRUE(w.Append(1, 7, 0, a.data(), a.size(), kNoWait).ok());
  ASSERT_TRUE(w.Append(1, 7, 500, b.data(), b.size(), kNoWait).ok());
  auto c = w.PrepareCommit(1, kNoWait);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->first_pos, 0u);
  EXPECT_EQ(c->end_pos, wire::RecordFootprint(100) + wire::RecordFootprint(10));
  MemoryRingSink::Walk walk;
  ASSERT_TRUE(sink.Validate(*c, &walk).ok());
  EXPECT_EQ(walk.records, 2u);
  EXPECT_EQ(walk.bytes, 110u);
  EXPECT_EQ(walk.data[1].header.offset, 500u);
  EXPECT_EQ(sink.flushes, 1);
  ASSERT_TRUE(w.Committed(AckFor(*c, 0)).ok());
  EXPECT_EQ(w.committed_epoch(), 1u);
  EXPECT_EQ(w.cursor().tail(), c->end_pos + wire::kCommitFootprint);
  EXPECT_EQ(stats.records, 2u);
  EXPECT_EQ(stats.commits, 1u);
}

TEST(EpochWriterTest, PayloadAboveMaxIsSplitIntoConsecutiveRecords) {
  MemoryRingSink sink(kCap);
  TransportStats stats;
  EpochWriter w(&sink, &stats, kCap, 0, 0, 0);
  std::vector<uint8_t> big(wire::kMaxRecordPayload * 2 + 123);
  std::iota(big.begin(), big.end(), 0);
  ASSERT_TRUE(w.Append(1, 3, 4096, big.data(), big.size(), kNoWait).ok());
  auto c = w.PrepareCommit(1, kNoWait);
  ASSERT_TRUE(c.ok());
  MemoryRingSink::Walk walk;
  ASSERT_TRUE(sink.Validate(*c, &walk).ok());
  ASSERT_EQ(walk.records, 3u);
  EXPECT_EQ(walk.data[0].header.length, wire::kMaxRecordPayload);
  EXPECT_EQ(walk.data[1].header.offset, 4096u + wire::kMaxRecordPayload);
  EXPECT_EQ(walk.data[2].header.length, 123u);
  EXPECT_EQ(0, std::memcmp(walk.data[2].payload, big.data() + 2 * wire::kMaxRecordPayload, 123));
}

TEST(EpochWriterTest, RecordThatWouldStraddleTheLapEndGetsAPad) {
  MemoryRingSink sink(kCap);
  TransportStats stats;
  // Start 128 bytes before the lap end, with everything before applied.
  const uint64_t start = kCap - 128;
  EpochWriter w(&sink, &stats, kCap, start, start, 5);
  std::vector<uint8_t> a(1000, 9);
  ASSERT_TRUE(w.Append(6, 1, 0, a.data(), a.size(), kNoWait).ok());
  auto c = w.PrepareCommit(6, kNoWait);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->first_pos, start);
  EXPECT_EQ(c->end_pos, kCap + wire::RecordFootprint(1000));
  MemoryRingSink::Walk walk;
  ASSERT_TRUE(sink.Validate(*c, &walk).ok()) << sink.Validate(*c, &walk).ToString();
  EXPECT_EQ(walk.pads, 1u);
  EXPECT_EQ(walk.records, 1u);
  EXPECT_EQ(walk.data[0].header.ring_pos, kCap);
  EXPECT_EQ(stats.ring_bytes, 128 + wire::RecordFootprint(1000));
}

TEST(EpochWriterTest, EmptyEpochCommits) {
  MemoryRingSink sink(kCap);
  TransportStats stats;
  EpochWriter w(&sink, &stats, kCap, 640, 640, 9);
  auto c = w.PrepareCommit(10, kNoWait);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->first_pos, c->end_pos);
  EXPECT_EQ(c->record_count, 0u);
  EXPECT_EQ(c->epoch_checksum, wire::EpochChecksum().Digest());
  ASSERT_TRUE(w.Committed(AckFor(*c, 640)).ok());
  EXPECT_EQ(w.committed_epoch(), 10u);
}

TEST(EpochWriterTest, WrongEpochIsRefused) {
  MemoryRingSink sink(kCap);
  TransportStats stats;
  EpochWriter w(&sink, &stats, kCap, 0, 0, 4);
  uint8_t x = 1;
  EXPECT_EQ(w.Append(4, 0, 0, &x, 1, kNoWait).code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(w.Append(3, 0, 0, &x, 1, kNoWait).code(), Status::Code::kFailedPrecondition);
  // Above the committed epoch by more than one is a catch-up; but once an
  // epoch is being built, records and commit must name it.
  EXPECT_TRUE(w.Append(6, 0, 0, &x, 1, kNoWait).ok());
  EXPECT_EQ(w.Append(5, 0, 0, &x, 1, kNoWait).code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(w.PrepareCommit(7, kNoWait).status().code(), Status::Code::kFailedPrecondition);
}

TEST(EpochWriterTest, FullRingWaitsForProgressThenContinues) {
  MemoryRingSink sink(kCap);
  TransportStats stats;
  EpochWriter w(&sink, &stats, kCap, 0, 0, 0);
  std::vector<uint8_t> mb(wire::kMaxRecordPayload, 5);
  // Epoch 1 fills most of the ring and is committed but not applied.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(w.Append(1, 0, 0, mb.data(), mb.size(), kNoWait).ok());
  auto c1 = w.PrepareCommit(1, kNoWait);
  ASSERT_TRUE(c1.ok());
  const wire::CommitAckMsg ack1 = AckFor(*c1, 0);
  ASSERT_TRUE(w.Committed(ack1).ok());
  // Epoch 2 needs space epoch 1 holds: the writer must wait once, and the
  // "memnode" applies epoch 1 while it waits.
  int waits = 0;
  auto wait = [&] {
    ++waits;
    w.SetApplied(ack1.ring_tail);
    return Status::OK();
  };
  ASSERT_TRUE(w.Append(2, 0, 0, mb.data(), mb.size(), wait).ok());
  ASSERT_TRUE(w.Append(2, 0, 0, mb.data(), mb.size(), wait).ok());
  EXPECT_EQ(waits, 1);
  EXPECT_EQ(stats.ring_full_waits, 1u);
  auto c2 = w.PrepareCommit(2, kNoWait);
  ASSERT_TRUE(c2.ok());
  MemoryRingSink::Walk walk;
  ASSERT_TRUE(sink.Validate(*c2, &walk).ok());
  EXPECT_EQ(walk.records, 2u);
}

TEST(EpochWriterTest, EpochLargerThanTheRingIsResourceExhaustedAndDropped) {
  MemoryRingSink sink(kCap);
  TransportStats stats;
  EpochWriter w(&sink, &stats, kCap, 0, 0, 0);
  std::vector<uint8_t> big(kCap, 1);
  Status st = w.Append(1, 0, 0, big.data(), big.size(), kNoWait);
  ASSERT_EQ(st.code(), Status::Code::kResourceExhausted);
  EXPECT_NE(st.message().find("does not fit the ring of " + std::to_string(kCap) + " bytes"), std::string::npos)
      << st.message();
  // The epoch was dropped: a small one in its place starts at the old tail.
  uint8_t x = 1;
  ASSERT_TRUE(w.Append(1, 0, 0, &x, 1, kNoWait).ok());
  auto c = w.PrepareCommit(1, kNoWait);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->first_pos, 0u);
  MemoryRingSink::Walk walk;
  ASSERT_TRUE(sink.Validate(*c, &walk).ok());
}

TEST(EpochWriterTest, AckWithUnexpectedTailIsCorruption) {
  MemoryRingSink sink(kCap);
  TransportStats stats;
  EpochWriter w(&sink, &stats, kCap, 0, 0, 0);
  auto c = w.PrepareCommit(1, kNoWait);
  ASSERT_TRUE(c.ok());
  wire::CommitAckMsg ack = AckFor(*c, 0);
  ack.ring_tail += 64;
  EXPECT_TRUE(w.Committed(ack).IsCorruption());
}

TEST(EpochWriterTest, ProgressNeverMovesBackwardsOrPastTheCommittedTail) {
  MemoryRingSink sink(kCap);
  TransportStats stats;
  EpochWriter w(&sink, &stats, kCap, 4096, 1024, 3);
  w.SetApplied(512);
  EXPECT_EQ(w.cursor().applied(), 1024u);
  w.SetApplied(1 << 20);
  EXPECT_EQ(w.cursor().applied(), 1024u);
  w.SetApplied(4096);
  EXPECT_EQ(w.cursor().applied(), 4096u);
}

}  // namespace
}  // namespace respct
