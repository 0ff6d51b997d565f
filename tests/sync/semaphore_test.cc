// SemWait / SemClockWait on glibc's sem_t, beside libc's sem_post and
// sem_trywait: units are taken once each, a sleeper is woken by a post, a
// deadline passes with ETIMEDOUT, a bad one is EINVAL only when the call
// would block, and the waiter count is back to zero afterwards.
#include "runtime/sync/semaphore.h"

#include <errno.h>
#include <semaphore.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace respct::sync {
namespace {

// The waiter count in the word's high half, read atomically: the sleeper
// updates the word concurrently (a plain read was a data race, found by TSan).
uint32_t Waiters(sem_t* s) {
  const uint64_t d = std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(s)).load(std::memory_order_acquire);
  return static_cast<uint32_t>(d >> 32);
}

TEST(Semaphore, TakesAvailableUnitsWithoutSleeping) {
  sem_t s;
  ASSERT_EQ(sem_init(&s, 0, 2), 0);
  EXPECT_EQ(SemWait(&s), 0);
  EXPECT_EQ(SemWait(&s), 0);
  int v = -1;
  sem_getvalue(&s, &v);
  EXPECT_EQ(v, 0);
  EXPECT_EQ(sem_trywait(&s), -1);
  sem_destroy(&s);
}

TEST(Semaphore, ASleeperIsWokenByLibcsPost) {
  sem_t s;
  ASSERT_EQ(sem_init(&s, 0, 0), 0);
  std::atomic<bool> done{false};
  std::thread t([&] {
    EXPECT_EQ(SemWait(&s), 0);
    done = true;
  });
  while (Waiters(&s) == 0) std::this_thread::yield();
  EXPECT_FALSE(done);
  ASSERT_EQ(sem_post(&s), 0);
  t.join();
  EXPECT_TRUE(done);
  EXPECT_EQ(Waiters(&s), 0u);
  sem_destroy(&s);
}

TEST(Semaphore, DeadlinesTimeOutAndBadOnesAreRefusedOnlyWhenBlocking) {
  sem_t s;
  ASSERT_EQ(sem_init(&s, 0, 0), 0);
  timespec soon{};
  clock_gettime(CLOCK_MONOTONIC, &soon);
  soon.tv_nsec += 20'000'000;
  if (soon.tv_nsec >= 1'000'000'000) {
    soon.tv_sec += 1;
    soon.tv_nsec -= 1'000'000'000;
  }
  EXPECT_EQ(SemClockWait(&s, CLOCK_MONOTONIC, &soon), -1);
  EXPECT_EQ(errno, ETIMEDOUT);
  const timespec bad{0, 2'000'000'000};
  EXPECT_EQ(SemClockWait(&s, CLOCK_REALTIME, &bad), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(SemClockWait(&s, CLOCK_PROCESS_CPUTIME_ID, &soon), -1);
  EXPECT_EQ(errno, EINVAL);
  ASSERT_EQ(sem_post(&s), 0);
  EXPECT_EQ(SemClockWait(&s, CLOCK_REALTIME, &bad), 0);  // a unit is there: no deadline checked
  EXPECT_EQ(Waiters(&s), 0u);
  sem_destroy(&s);
}

TEST(Semaphore, ManyThreadsHandOffEveryUnitOnce) {
  sem_t s;
  ASSERT_EQ(sem_init(&s, 0, 1), 0);
  long counter = 0;
  std::vector<std::thread> ts;
  for (int k = 0; k < 4; ++k) {
    ts.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        ASSERT_EQ(SemWait(&s), 0);
        ++counter;  // the semaphore is a lock here
        sem_post(&s);
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(counter, 80000);
  EXPECT_EQ(Waiters(&s), 0u);
  sem_destroy(&s);
}

}  // namespace
}  // namespace respct::sync
