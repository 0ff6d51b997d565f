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

using testing::DeadlineIn;

pthread_cond_t MakeCond(clockid_t clock) {
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, clock);
  pthread_cond_t cond;
  EXPECT_EQ(CondInit(&cond, &attr), 0);
  pthread_condattr_destroy(&attr);
  return cond;
}

pthread_mutex_t MakeMutex(int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, type);
  pthread_mutex_t mutex;
  EXPECT_EQ(MutexInit(&mutex, &attr), 0);
  pthread_mutexattr_destroy(&attr);
  return mutex;
}

uint32_t Waiters(pthread_cond_t* cond) { return std::atomic_ref<uint32_t>(cond->__data.__g_refs[1]).load(); }

TEST(Cond, SignalWithoutWaitersIsANoOp) {
  pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
  EXPECT_EQ(CondSignal(&cond), 0);
  EXPECT_EQ(CondBroadcast(&cond), 0);
  EXPECT_EQ(CondDestroy(&cond), 0);
}

TEST(Cond, SignalWakesAWaiterWithEveryMutexType) {
  for (int type : {PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_RECURSIVE, PTHREAD_MUTEX_ERRORCHECK,
                   PTHREAD_MUTEX_ADAPTIVE_NP}) {
    pthread_mutex_t mutex = MakeMutex(type);
    pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
    bool ready = false;
    std::thread waiter([&] {
      EXPECT_EQ(MutexLock(&mutex), 0);
      while (!ready) EXPECT_EQ(CondWait(&cond, &mutex), 0);
      EXPECT_EQ(LockDepth(), 1u);
      EXPECT_EQ(MutexUnlock(&mutex), 0);
    });
    while (Waiters(&cond) == 0) std::this_thread::yield();
    EXPECT_EQ(MutexLock(&mutex), 0);
    ready = true;
    EXPECT_EQ(CondSignal(&cond), 0);
    EXPECT_EQ(MutexUnlock(&mutex), 0);
    waiter.join();
    EXPECT_EQ(CondDestroy(&cond), 0) << "type " << type;
  }
}

TEST(Cond, RecursiveMutexHeldTwiceIsFullyReleasedAndRestored) {
  pthread_mutex_t mutex = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
  pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
  bool ready = false;
  std::thread waiter([&] {
    EXPECT_EQ(MutexLock(&mutex), 0);
    EXPECT_EQ(MutexLock(&mutex), 0);
    while (!ready) EXPECT_EQ(CondWait(&cond, &mutex), 0);
    EXPECT_EQ(LockDepth(), 2u);
    EXPECT_EQ(MutexUnlock(&mutex), 0);
    EXPECT_EQ(MutexUnlock(&mutex), 0);
    EXPECT_EQ(MutexUnlock(&mutex), EPERM);
  });
  while (Waiters(&cond) == 0) std::this_thread::yield();
  EXPECT_EQ(MutexLock(&mutex), 0);
  ready = true;
  EXPECT_EQ(CondSignal(&cond), 0);
  EXPECT_EQ(MutexUnlock(&mutex), 0);
  waiter.join();
}

TEST(Cond, WaitWithUnownedErrorcheckMutexIsEperm) {
  pthread_mutex_t mutex = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
  pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
  EXPECT_EQ(CondWait(&cond, &mutex), EPERM);
  EXPECT_EQ(Waiters(&cond), 0u);
  pthread_mutex_t normal = PTHREAD_MUTEX_INITIALIZER;
  EXPECT_EQ(CondWait(&cond, &normal), EPERM) << "a free normal mutex is detected too";
}

TEST(Cond, BroadcastWakesAll) {
  constexpr int kWaiters = 6;
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
  bool go = false;
  std::atomic<int> woken{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.emplace_back([&] {
      MutexLock(&mutex);
      while (!go) CondWait(&cond, &mutex);
      MutexUnlock(&mutex);
      ++woken;
    });
  }
  while (Waiters(&cond) < kWaiters) std::this_thread::yield();
  MutexLock(&mutex);
  go = true;
  EXPECT_EQ(CondBroadcast(&cond), 0);
  MutexUnlock(&mutex);
  for (auto& waiter : waiters) waiter.join();
  EXPECT_EQ(woken, kWaiters);
  EXPECT_EQ(CondDestroy(&cond), 0);
}

TEST(Cond, TimedwaitTimesOutOnTheAttrClock) {
  for (clockid_t clock : {CLOCK_REALTIME, CLOCK_MONOTONIC}) {
    pthread_cond_t cond = MakeCond(clock);
    pthread_mutex_t mutex = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
    ASSERT_EQ(MutexLock(&mutex), 0);
    timespec deadline = DeadlineIn(clock, 20);
    EXPECT_EQ(CondTimedwait(&cond, &mutex, &deadline), ETIMEDOUT) << "clock " << clock;
    EXPECT_EQ(MutexLock(&mutex), EDEADLK) << "the mutex is held again after a timeout";
    EXPECT_EQ(LockDepth(), 1u);
    timespec past{-1, 0};
    EXPECT_EQ(CondTimedwait(&cond, &mutex, &past), ETIMEDOUT);
    EXPECT_EQ(MutexUnlock(&mutex), 0);
  }
}

TEST(Cond, ClockwaitTimesOutOnEitherClock) {
  pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  ASSERT_EQ(MutexLock(&mutex), 0);
  for (clockid_t clock : {CLOCK_REALTIME, CLOCK_MONOTONIC}) {
    timespec deadline = DeadlineIn(clock, 20);
    EXPECT_EQ(CondClockwait(&cond, &mutex, clock, &deadline), ETIMEDOUT) << "clock " << clock;
  }
  EXPECT_EQ(MutexUnlock(&mutex), 0);
  EXPECT_EQ(Waiters(&cond), 0u);
}

TEST(Cond, TimedwaitRejectsBadTimespecAndClock) {
  pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  ASSERT_EQ(MutexLock(&mutex), 0);
  timespec bad{0, 1'000'000'000};
  EXPECT_EQ(CondTimedwait(&cond, &mutex, &bad), EINVAL);
  timespec negative{0, -1};
  EXPECT_EQ(CondClockwait(&cond, &mutex, CLOCK_MONOTONIC, &negative), EINVAL);
  timespec deadline = DeadlineIn(CLOCK_REALTIME, 20);
  EXPECT_EQ(CondClockwait(&cond, &mutex, CLOCK_BOOTTIME, &deadline), EINVAL);
  EXPECT_EQ(LockDepth(), 1u);
  EXPECT_EQ(MutexUnlock(&mutex), 0);
}

TEST(Cond, TimedwaitReturnsZeroWhenSignalled) {
  pthread_cond_t cond = MakeCond(CLOCK_MONOTONIC);
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  bool ready = false;
  std::thread waiter([&] {
    MutexLock(&mutex);
    timespec deadline = DeadlineIn(CLOCK_MONOTONIC, 60'000);
    while (!ready) EXPECT_EQ(CondTimedwait(&cond, &mutex, &deadline), 0);
    MutexUnlock(&mutex);
  });
  while (Waiters(&cond) == 0) std::this_thread::yield();
  MutexLock(&mutex);
  ready = true;
  CondSignal(&cond);
  MutexUnlock(&mutex);
  waiter.join();
}

// The last thread out may destroy and reuse the condvar's memory while other
// woken waiters are still on their way out: destroy waits for them.
TEST(Cond, DestroyAfterBroadcastWaitsForWokenWaiters) {
  for (int round = 0; round < 200; ++round) {
    auto* cond = new pthread_cond_t(PTHREAD_COND_INITIALIZER);
    pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
    bool go = false;
    std::vector<std::thread> waiters;
    for (int i = 0; i < 3; ++i) {
      waiters.emplace_back([&] {
        MutexLock(&mutex);
        while (!go) CondWait(cond, &mutex);
        MutexUnlock(&mutex);
      });
    }
    while (Waiters(cond) < 3) std::this_thread::yield();
    MutexLock(&mutex);
    go = true;
    CondBroadcast(cond);
    MutexUnlock(&mutex);
    EXPECT_EQ(CondDestroy(cond), 0);
    delete cond;
    for (auto& waiter : waiters) waiter.join();
  }
}

}  // namespace
}  // namespace respct::sync
