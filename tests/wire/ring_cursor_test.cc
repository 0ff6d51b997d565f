// Ring arithmetic: placement, pads at the lap end, wrap-around, back-pressure.
#include "runtime/wire/ring_cursor.h"

#include <gtest/gtest.h>

#include <random>

namespace respct::wire {
namespace {

constexpr uint64_t kCap = 4096;

TEST(RingCursor, PlacesContiguouslyUntilFull) {
  RingCursor c(kCap, 0, 0);
  RingCursor::Placement p;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(c.Place(1024, &p));
    EXPECT_EQ(p.pad_len, 0u);
    EXPECT_EQ(p.pos, uint64_t(i) * 1024);
    c.Advance(p);
  }
  EXPECT_EQ(c.used(), kCap);
  // Full: nothing more until the memnode applies.
  EXPECT_FALSE(c.Place(64, &p));
  c.SetApplied(1024);
  ASSERT_TRUE(c.Place(1024, &p));
  EXPECT_EQ(p.pos, 4096u);
  EXPECT_EQ(c.Slot(p.pos), 0u);
}

TEST(RingCursor, PadsWhenRecordWouldStraddleLapEnd) {
  RingCursor c(kCap, 3840, 3840);  // 256 bytes before the lap end
  RingCursor::Placement p;
  ASSERT_TRUE(c.Place(512, &p));
  EXPECT_EQ(p.pad_pos, 3840u);
  EXPECT_EQ(p.pad_len, 256u);
  EXPECT_EQ(p.pos, 4096u);
  EXPECT_EQ(p.end, 4608u);
  c.Advance(p);
  EXPECT_EQ(c.used(), 768u);
}

TEST(RingCursor, PadCountsAgainstFreeSpace) {
  // 256 bytes to the lap end, 512 free in all: a 512-byte record needs the pad
  // too, so it does not fit even though 512 bytes are free.
  RingCursor c(kCap, 3840, 3840 - (kCap - 512));
  RingCursor::Placement p;
  EXPECT_FALSE(c.Place(512, &p));
  EXPECT_TRUE(c.Place(256, &p));
  EXPECT_EQ(p.pad_len, 0u);
}

TEST(RingCursor, RandomWalkKeepsInvariants) {
  std::mt19937_64 rng(42);
  RingCursor c(kCap, 0, 0);
  uint64_t placed = 0;
  for (int i = 0; i < 100000; ++i) {
    const uint64_t fp = RecordFootprint(rng() % 1500);
    RingCursor::Placement p;
    if (c.Place(fp, &p)) {
      // Never straddles a lap end, never overruns unapplied bytes.
      ASSERT_LE(c.Slot(p.pos) + fp, kCap);
      ASSERT_LE(p.end - c.applied(), kCap);
      ASSERT_EQ(p.pos % kRecordAlign, 0u);
      if (p.pad_len != 0) {
        ASSERT_EQ(c.Slot(p.pos), 0u);
      }
      c.Advance(p);
      ++placed;
    } else {
      // Apply a random amount of what is outstanding.
      const uint64_t used = c.used();
      ASSERT_GT(fp + (c.ToLapEnd(c.tail()) < fp ? c.ToLapEnd(c.tail()) : 0), c.free_bytes());
      c.SetApplied(c.applied() + (used == 0 ? 0 : (rng() % used + 1)) / kRecordAlign * kRecordAlign);
    }
  }
  EXPECT_GT(placed, 10000u);
  EXPECT_GT(c.tail(), 100 * kCap);  // wrapped many times
}

}  // namespace
}  // namespace respct::wire
