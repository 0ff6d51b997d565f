#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "runtime/sync/sync.h"
#include "tests/sync/test_util.h"

namespace respct::sync {
namespace {

using testing::DeadlineIn;
using testing::OnOtherThread;

pthread_mutex_t MakeMutex(int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, type);
  pthread_mutex_t mutex;
  EXPECT_EQ(MutexInit(&mutex, &attr), 0);
  pthread_mutexattr_destroy(&attr);
  return mutex;
}

TEST(Mutex, NormalLockUnlockTrylock) {
  pthread_mutex_t mutex = MakeMutex(PTHREAD_MUTEX_NORMAL);
  EXPECT_EQ(MutexLock(&mutex), 0);
  EXPECT_EQ(OnOtherThread([&] { return MutexTrylock(&mutex); }), EBUSY);
  EXPECT_EQ(MutexUnlock(&mutex), 0);
  EXPECT_EQ(MutexTrylock(&mutex), 0);
  EXPECT_EQ(MutexDestroy(&mutex), EBUSY);
  EXPECT_EQ(MutexUnlock(&mutex), 0);
  EXPECT_EQ(MutexUnlock(&mutex), EPERM) << "unlocking a free mutex is refused";
  EXPECT_EQ(MutexDestroy(&mutex), 0);
}

TEST(Mutex, NullAttrIsNormal) {
  pthread_mutex_t mutex;
  ASSERT_EQ(MutexInit(&mutex, nullptr), 0);
  EXPECT_EQ(MutexLock(&mutex), 0);
  EXPECT_EQ(MutexTrylock(&mutex), EBUSY);
  EXPECT_EQ(MutexUnlock(&mutex), 0);
}

TEST(Mutex, ErrorcheckRelockAndForeignUnlock) {
  pthread_mutex_t mutex = MakeMutex(PTHREAD_MUTEX_ERRORCHECK);
  EXPECT_EQ(MutexUnlock(&mutex), EPERM);
  EXPECT_EQ(MutexLock(&mutex), 0);
  EXPECT_EQ(MutexLock(&mutex), EDEADLK);
  EXPECT_EQ(MutexTrylock(&mutex), EBUSY);
  timespec deadline = DeadlineIn(CLOCK_REALTIME, 10);
  EXPECT_EQ(MutexTimedlock(&mutex, &deadline), EDEADLK);
  EXPECT_EQ(OnOtherThread([&] { return MutexUnlock(&mutex); }), EPERM);
  EXPECT_EQ(LockDepth(), 1u);
  EXPECT_EQ(MutexUnlock(&mutex), 0);
  EXPECT_EQ(MutexUnlock(&mutex), EPERM);
  EXPECT_EQ(LockDepth(), 0u);
}

TEST(Mutex, RecursiveCountsLevels) {
  pthread_mutex_t mutex = MakeMutex(PTHREAD_MUTEX_RECURSIVE);
  EXPECT_EQ(MutexLock(&mutex), 0);
  EXPECT_EQ(MutexLock(&mutex), 0);
  EXPECT_EQ(MutexTrylock(&mutex), 0);
  EXPECT_EQ(LockDepth(), 3u);
  EXPECT_EQ(OnOtherThread([&] { return MutexTrylock(&mutex); }), EBUSY);
  EXPECT_EQ(OnOtherThread([&] { return MutexUnlock(&mutex); }), EPERM);
  EXPECT_EQ(MutexUnlock(&mutex), 0);
  EXPECT_EQ(MutexUnlock(&mutex), 0);
  EXPECT_EQ(OnOtherThread([&] { return MutexTrylock(&mutex); }), EBUSY) << "one level still held";
  EXPECT_EQ(MutexUnlock(&mutex), 0);
  EXPECT_EQ(MutexUnlock(&mutex), EPERM);
  EXPECT_EQ(LockDepth(), 0u);
  EXPECT_EQ(OnOtherThread([&] {
              int locked = MutexTrylock(&mutex);
              return locked == 0 ? MutexUnlock(&mutex) : locked;
            }),
            0);
}

TEST(Mutex, AdaptiveExcludes) {
  pthread_mutex_t mutex = MakeMutex(PTHREAD_MUTEX_ADAPTIVE_NP);
  EXPECT_EQ(MutexLock(&mutex), 0);
  EXPECT_EQ(OnOtherThread([&] { return MutexTrylock(&mutex); }), EBUSY);
  EXPECT_EQ(MutexUnlock(&mutex), 0);
}

TEST(Mutex, StaticInitialisersHaveTheirType) {
  pthread_mutex_t normal = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_t recursive = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
  pthread_mutex_t errorcheck = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
  pthread_mutex_t adaptive = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;

  EXPECT_EQ(MutexLock(&normal), 0);
  EXPECT_EQ(MutexTrylock(&normal), EBUSY);
  EXPECT_EQ(MutexUnlock(&normal), 0);

  EXPECT_EQ(MutexLock(&recursive), 0);
  EXPECT_EQ(MutexLock(&recursive), 0);
  EXPECT_EQ(MutexUnlock(&recursive), 0);
  EXPECT_EQ(MutexUnlock(&recursive), 0);
  EXPECT_EQ(MutexUnlock(&recursive), EPERM);

  EXPECT_EQ(MutexLock(&errorcheck), 0);
  EXPECT_EQ(MutexLock(&errorcheck), EDEADLK);
  EXPECT_EQ(MutexUnlock(&errorcheck), 0);
  EXPECT_EQ(MutexUnlock(&errorcheck), EPERM);

  EXPECT_EQ(MutexLock(&adaptive), 0);
  EXPECT_EQ(MutexTrylock(&adaptive), EBUSY);
  EXPECT_EQ(MutexUnlock(&adaptive), 0);
  EXPECT_EQ(LockDepth(), 0u);
}

TEST(Mutex, TimedlockTimesOutWhileHeldElsewhere) {
  for (int type : {PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_RECURSIVE, PTHREAD_MUTEX_ERRORCHECK,
                   PTHREAD_MUTEX_ADAPTIVE_NP}) {
    pthread_mutex_t mutex = MakeMutex(type);
    ASSERT_EQ(MutexLock(&mutex), 0);
    EXPECT_EQ(OnOtherThread([&] {
                timespec deadline = DeadlineIn(CLOCK_REALTIME, 20);
                return MutexTimedlock(&mutex, &deadline);
              }),
              ETIMEDOUT)
        << "type " << type;
    for (clockid_t clock : {CLOCK_REALTIME, CLOCK_MONOTONIC}) {
      EXPECT_EQ(OnOtherThread([&] {
                  timespec deadline = DeadlineIn(clock, 20);
                  return MutexClocklock(&mutex, clock, &deadline);
                }),
                ETIMEDOUT)
          << "type " << type << " clock " << clock;
    }
    EXPECT_EQ(OnOtherThread([&] {
                timespec past{-1, 0};
                return MutexTimedlock(&mutex, &past);
              }),
              ETIMEDOUT);
    EXPECT_EQ(OnOtherThread([] { return LockDepth(); }), 0u);
    EXPECT_EQ(MutexUnlock(&mutex), 0);
  }
}

TEST(Mutex, TimedlockRejectsBadTimespecAndClock) {
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  ASSERT_EQ(MutexLock(&mutex), 0);
  EXPECT_EQ(OnOtherThread([&] {
              timespec bad{0, 1'000'000'000};
              return MutexTimedlock(&mutex, &bad);
            }),
            EINVAL);
  EXPECT_EQ(OnOtherThread([&] {
              timespec bad{0, -1};
              return MutexClocklock(&mutex, CLOCK_MONOTONIC, &bad);
            }),
            EINVAL);
  timespec deadline = DeadlineIn(CLOCK_REALTIME, 10);
  EXPECT_EQ(MutexClocklock(&mutex, CLOCK_PROCESS_CPUTIME_ID, &deadline), EINVAL);
  EXPECT_EQ(MutexUnlock(&mutex), 0);
  EXPECT_EQ(MutexTimedlock(&mutex, &deadline), 0) << "uncontended: succeeds";
  EXPECT_EQ(MutexUnlock(&mutex), 0);
}

TEST(Mutex, TimedlockSucceedsWhenReleased) {
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  ASSERT_EQ(MutexLock(&mutex), 0);
  std::atomic<bool> waiting{false};
  std::thread waiter([&] {
    waiting = true;
    timespec deadline = DeadlineIn(CLOCK_MONOTONIC, 60'000);
    EXPECT_EQ(MutexClocklock(&mutex, CLOCK_MONOTONIC, &deadline), 0);
    EXPECT_EQ(MutexUnlock(&mutex), 0);
  });
  while (!waiting) std::this_thread::yield();
  EXPECT_EQ(MutexUnlock(&mutex), 0);
  waiter.join();
}

TEST(Mutex, RobustAndPriorityProtocolsAreNotSupported) {
  pthread_mutexattr_t attr;
  pthread_mutex_t mutex;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  EXPECT_EQ(MutexInit(&mutex, &attr), ENOTSUP);
  pthread_mutexattr_destroy(&attr);
  for (int protocol : {PTHREAD_PRIO_INHERIT, PTHREAD_PRIO_PROTECT}) {
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setprotocol(&attr, protocol);
    EXPECT_EQ(MutexInit(&mutex, &attr), ENOTSUP);
    pthread_mutexattr_destroy(&attr);
  }
}

TEST(Mutex, OwnerIdsAreDistinctAndSettable) {
  uint32_t mine = CurrentOwnerId();
  EXPECT_NE(mine, 0u);
  EXPECT_EQ(mine, CurrentOwnerId());
  EXPECT_NE(OnOtherThread([] { return CurrentOwnerId(); }), mine);
  EXPECT_EQ(OnOtherThread([] {
              SetCurrentOwnerId(7);
              return CurrentOwnerId();
            }),
            7u);
}

TEST(Mutex, ErrorcheckUsesRuntimeAssignedOwnerIds) {
  pthread_mutex_t mutex = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
  OnOtherThread([&] {
    SetCurrentOwnerId(5);
    EXPECT_EQ(MutexLock(&mutex), 0);
    EXPECT_EQ(mutex.__data.__owner, 5) << "the lock records the runtime's id, not a tid";
    EXPECT_EQ(MutexLock(&mutex), EDEADLK);
    EXPECT_EQ(MutexUnlock(&mutex), 0);
    EXPECT_EQ(mutex.__data.__owner, 0);
    return 0;
  });
}

}  // namespace
}  // namespace respct::sync
