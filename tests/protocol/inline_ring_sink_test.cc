// InlineRingSink over a socketpair: what RingWrite frames it sends.
#include "runtime/transport/inline_ring_sink.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <thread>
#include <vector>

#include "runtime/transport/frame_socket.h"
#include "runtime/wire/record.h"

namespace respct {
namespace {

struct Pair {
  Pair() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    client = FrameSocket(fds[0]);
    server = FrameSocket(fds[1]);
  }
  FrameSocket client, server;
};

struct Write {
  uint64_t pos;
  std::vector<uint8_t> bytes;
};

// Reads frames until the client side shuts its write side.
std::vector<Write> Drain(FrameSocket& s) {
  std::vector<Write> out;
  for (;;) {
    Frame f;
    if (!s.Receive(&f, 5000).ok()) return out;
    EXPECT_EQ(f.type(), wire::MsgType::kRingWrite);
    Write w{f.As<wire::RingWriteMsg>().pos, {}};
    w.bytes.assign(f.payload.begin() + sizeof(wire::RingWriteMsg), f.payload.end());
    out.push_back(std::move(w));
  }
}

TEST(InlineRingSinkTest, ContiguousReservationsTravelInOneWrite) {
  Pair p;
  std::vector<Write> got;
  std::thread reader([&] { got = Drain(p.server); });
  InlineRingSink sink(&p.client, wire::kMinRingCapacity);
  for (uint64_t pos = 0; pos < 10 * 64; pos += 64) {
    auto d = sink.Reserve(pos, 64);
    ASSERT_TRUE(d.ok());
    std::memset(*d, static_cast<int>(pos / 64), 64);
  }
  ASSERT_TRUE(sink.Flush().ok());
  p.client.ShutdownWrite();
  reader.join();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].pos, 0u);
  ASSERT_EQ(got[0].bytes.size(), 640u);
  EXPECT_EQ(got[0].bytes[639], 9);
}

TEST(InlineRingSinkTest, GapsAndLapEndsStartNewWrites) {
  Pair p;
  std::vector<Write> got;
  std::thread reader([&] { got = Drain(p.server); });
  const uint64_t cap = wire::kMinRingCapacity;
  InlineRingSink sink(&p.client, cap);
  ASSERT_TRUE(sink.Reserve(cap - 128, 64).ok());  // a pad's header; the pad reaches the lap end
  ASSERT_TRUE(sink.Reserve(cap, 256).ok());       // next lap
  ASSERT_TRUE(sink.Reserve(cap + 256, 64).ok());
  ASSERT_TRUE(sink.Flush().ok());
  p.client.ShutdownWrite();
  reader.join();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].pos, cap - 128);
  EXPECT_EQ(got[0].bytes.size(), 64u);
  EXPECT_EQ(got[1].pos, cap);
  EXPECT_EQ(got[1].bytes.size(), 320u);
}

TEST(InlineRingSinkTest, LargeBatchesAreSplitToTheFrameBoundAndFlushedEarly) {
  Pair p;
  std::vector<Write> got;
  std::thread reader([&] { got = Drain(p.server); });
  const uint64_t cap = 64 * wire::kMinRingCapacity;
  InlineRingSink sink(&p.client, cap, /*batch_bytes=*/256 * 1024);
  uint64_t pos = 0;
  const uint64_t big = wire::RecordFootprint(wire::kMaxRecordPayload);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(sink.Reserve(pos, big).ok());
    pos += big;
  }
  ASSERT_TRUE(sink.Flush().ok());
  p.client.ShutdownWrite();
  reader.join();
  uint64_t expect = 0;
  for (const Write& w : got) {
    EXPECT_EQ(w.pos, expect);
    EXPECT_LE(w.bytes.size() + sizeof(wire::RingWriteMsg), wire::kMaxFramePayload);
    expect += w.bytes.size();
  }
  EXPECT_EQ(expect, pos);
  EXPECT_GE(got.size(), 3u);
}

}  // namespace
}  // namespace respct
