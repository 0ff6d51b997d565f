#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <thread>
#include <vector>

#include "runtime/sync/sync.h"
#include "tests/sync/test_util.h"

namespace respct::sync {
namespace {

using testing::OnOtherThread;

TEST(Barrier, InitRejectsZeroCount) {
  pthread_barrier_t barrier;
  EXPECT_EQ(BarrierInit(&barrier, nullptr, 0), EINVAL);
}

TEST(Barrier, SingleThreadBarrierIsAlwaysSerial) {
  pthread_barrier_t barrier;
  ASSERT_EQ(BarrierInit(&barrier, nullptr, 1), 0);
  for (int round = 0; round < 3; ++round) EXPECT_EQ(BarrierWait(&barrier), PTHREAD_BARRIER_SERIAL_THREAD);
  EXPECT_EQ(BarrierDestroy(&barrier), 0);
}

// Exactly one serial thread per round, over many rounds, and no thread gets
// ahead of the round (the per-round arrival counter checks the barrier
// really holds everyone until the last arrival).
TEST(Barrier, OneSerialThreadPerRoundOverManyRounds) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  pthread_barrier_t barrier;
  ASSERT_EQ(BarrierInit(&barrier, nullptr, kThreads), 0);
  std::vector<std::atomic<int>> serial_per_round(kRounds);
  std::vector<std::atomic<int>> arrivals_per_round(kRounds);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < kRounds; ++round) {
        ++arrivals_per_round[round];
        int result = BarrierWait(&barrier);
        ASSERT_TRUE(result == 0 || result == PTHREAD_BARRIER_SERIAL_THREAD) << result;
        EXPECT_EQ(arrivals_per_round[round].load(), kThreads);
        if (result == PTHREAD_BARRIER_SERIAL_THREAD) ++serial_per_round[round];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int round = 0; round < kRounds; ++round) EXPECT_EQ(serial_per_round[round].load(), 1) << round;
  EXPECT_EQ(BarrierDestroy(&barrier), 0);
}

TEST(Barrier, DestroyIsBusyWhileThreadsWait) {
  pthread_barrier_t barrier;
  ASSERT_EQ(BarrierInit(&barrier, nullptr, 2), 0);
  std::thread waiter([&] { BarrierWait(&barrier); });
  while (std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(barrier.__size + 4)).load() == 0) {
    std::this_thread::yield();
  }
  EXPECT_EQ(BarrierDestroy(&barrier), EBUSY);
  BarrierWait(&barrier);
  waiter.join();
  EXPECT_EQ(BarrierDestroy(&barrier), 0);
}

TEST(Spin, LockTrylockUnlock) {
  pthread_spinlock_t lock;
  ASSERT_EQ(SpinInit(&lock, PTHREAD_PROCESS_PRIVATE), 0);
  EXPECT_EQ(SpinLock(&lock), 0);
  EXPECT_EQ(LockDepth(), 1u);
  EXPECT_EQ(SpinTrylock(&lock), EBUSY);
  EXPECT_EQ(OnOtherThread([&] { return SpinTrylock(&lock); }), EBUSY);
  EXPECT_EQ(LockDepth(), 1u);
  EXPECT_EQ(SpinUnlock(&lock), 0);
  EXPECT_EQ(LockDepth(), 0u);
  EXPECT_EQ(SpinTrylock(&lock), 0);
  EXPECT_EQ(SpinUnlock(&lock), 0);
  EXPECT_EQ(SpinDestroy(&lock), 0);
}

TEST(Spin, ContendedSpinnerWaitsAtDepthZero) {
  pthread_spinlock_t lock = 0;
  ASSERT_EQ(SpinLock(&lock), 0);
  std::atomic<bool> acquired{false};
  std::thread spinner([&] {
    EXPECT_EQ(SpinLock(&lock), 0);
    EXPECT_EQ(LockDepth(), 1u);
    acquired = true;
    EXPECT_EQ(SpinUnlock(&lock), 0);
    EXPECT_EQ(LockDepth(), 0u);
  });
  std::this_thread::yield();
  EXPECT_FALSE(acquired);
  EXPECT_EQ(SpinUnlock(&lock), 0);
  spinner.join();
  EXPECT_TRUE(acquired);
}

}  // namespace
}  // namespace respct::sync
