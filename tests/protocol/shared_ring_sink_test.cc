// SharedRingSink over a memfd: records land in the mapped slots, and the
// ring is faulted in only a window ahead of what has been written.
#include "runtime/transport/shared_ring_sink.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace respct {
namespace {

constexpr uint64_t kCapacity = 64ull << 20;

std::unique_ptr<SharedRingSink> MakeSink(int* fd_out) {
  const int fd = memfd_create("shared_ring_sink_test", MFD_CLOEXEC);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(ftruncate(fd, kCapacity), 0);
  *fd_out = dup(fd);  // the sink takes `fd` over; the test keeps a view of the memory
  auto sink = SharedRingSink::Map(fd, kCapacity);
  EXPECT_TRUE(sink.ok()) << sink.status().ToString();
  return sink.ok() ? std::move(sink.value()) : nullptr;
}

// Bytes of the memfd that have memory behind them (faulted in by anyone).
uint64_t ResidentBytes(int fd) {
  void* view = mmap(nullptr, kCapacity, PROT_READ, MAP_SHARED, fd, 0);
  EXPECT_NE(view, MAP_FAILED);
  std::vector<unsigned char> vec(kCapacity / 4096);
  EXPECT_EQ(mincore(view, kCapacity, vec.data()), 0);
  munmap(view, kCapacity);
  uint64_t n = 0;
  for (unsigned char c : vec) n += (c & 1) ? 4096 : 0;
  return n;
}

void WarmUp(SharedRingSink* sink) {
  for (int i = 0; i < 1000 && !sink->PrefaultSome(1ull << 20); ++i) {
  }
}

TEST(SharedRingSinkTest, AnUnwrittenRingIsWarmedOnlyTheMinimumWindow) {
  int view_fd = -1;
  auto sink = MakeSink(&view_fd);
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(sink->WarmTarget(), SharedRingSink::kMinWarmAhead);
  WarmUp(sink.get());
  EXPECT_TRUE(sink->PrefaultSome(1ull << 20));
  EXPECT_EQ(ResidentBytes(view_fd), SharedRingSink::kMinWarmAhead);
  close(view_fd);
}

TEST(SharedRingSinkTest, TheWindowGrowsWithTheWritesUpToTheWholeRing) {
  int view_fd = -1;
  auto sink = MakeSink(&view_fd);
  ASSERT_NE(sink, nullptr);
  WarmUp(sink.get());
  auto p = sink->Reserve(0, 20ull << 20);
  ASSERT_TRUE(p.ok());
  std::memset(p.value(), 0xab, 4096);
  EXPECT_EQ(sink->WarmTarget(), 40ull << 20);
  EXPECT_FALSE(sink->PrefaultSome(1ull << 20));  // more to do since the write
  WarmUp(sink.get());
  EXPECT_EQ(ResidentBytes(view_fd), 40ull << 20);

  // Past the middle, as much again reaches the end: the whole ring.
  ASSERT_TRUE(sink->Reserve(33ull << 20, 4096).ok());
  EXPECT_EQ(sink->WarmTarget(), kCapacity);
  WarmUp(sink.get());
  EXPECT_EQ(ResidentBytes(view_fd), kCapacity);
  close(view_fd);
}

TEST(SharedRingSinkTest, ReservationsAreSlotsOfTheSharedMemory) {
  int view_fd = -1;
  auto sink = MakeSink(&view_fd);
  ASSERT_NE(sink, nullptr);
  auto p = sink->Reserve(kCapacity + 128, 64);  // the second lap's slot 128
  ASSERT_TRUE(p.ok());
  std::memset(p.value(), 0x5a, 64);
  ASSERT_TRUE(sink->Flush().ok());
  unsigned char got = 0;
  ASSERT_EQ(pread(view_fd, &got, 1, 128), 1);
  EXPECT_EQ(got, 0x5a);
  EXPECT_FALSE(sink->Reserve(kCapacity - 64, 128).ok());  // crosses the end
  close(view_fd);
}

}  // namespace
}  // namespace respct
