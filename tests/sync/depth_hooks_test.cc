// Lock depth at each step, the restart-point hook called exactly at depth-0
// boundaries (while a checkpoint is requested), and every futex sleep going
// through the blocking-wait hook whatever the depth. Hooks are process-wide;
// each test counts only the calls made by the threads it cares about
// (thread_local counters).
#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <thread>

#include "runtime/sync/sync.h"

namespace respct::sync {
namespace {

thread_local int t_restart_points = 0;
thread_local int t_blocking_begins = 0;
thread_local int t_blocking_ends = 0;
thread_local bool t_restart_point_saw_nonzero_depth = false;
thread_local bool t_blocking_nested = false;
std::atomic<int> g_blocked_now{0};

void CountRestartPoint() {
  ++t_restart_points;
  if (LockDepth() != 0) t_restart_point_saw_nonzero_depth = true;
}

// Counts the sleep, then sleeps as FutexWait would.
int CountBlockingWait(uint32_t* word, uint32_t expected, bool process_shared, const timespec* abstime,
                      clockid_t clock) {
  if (t_blocking_begins != t_blocking_ends) t_blocking_nested = true;
  ++t_blocking_begins;
  ++g_blocked_now;
  const int r = detail::FutexWait(word, expected, process_shared, detail::Deadline{abstime, clock});
  ++t_blocking_ends;
  --g_blocked_now;
  return r;
}

class DepthHooks : public ::testing::Test {
 protected:
  void SetUp() override {
    InstallSafepointHooks({CountRestartPoint, CountBlockingWait});
    // The restart-point hook is only called while a checkpoint is requested.
    detail::g_checkpoint_request.store(1);
    ResetCounters();
  }
  void TearDown() override {
    EXPECT_FALSE(t_restart_point_saw_nonzero_depth);
    EXPECT_FALSE(t_blocking_nested);
    detail::g_checkpoint_request.store(0);
    InstallSafepointHooks({});
  }
  static void ResetCounters() {
    t_restart_points = t_blocking_begins = t_blocking_ends = 0;
    t_restart_point_saw_nonzero_depth = t_blocking_nested = false;
  }
  static void WaitUntilBlocked(int count) {
    while (g_blocked_now.load() < count) std::this_thread::yield();
  }
};

TEST_F(DepthHooks, MutexNestingCountsAndBoundaries) {
  pthread_mutex_t outer = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_t inner = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
  EXPECT_EQ(LockDepth(), 0u);
  MutexLock(&outer);
  EXPECT_EQ(t_restart_points, 1) << "before acquiring from depth 0";
  EXPECT_EQ(LockDepth(), 1u);
  MutexLock(&inner);
  MutexLock(&inner);
  EXPECT_EQ(LockDepth(), 3u) << "each recursive level counts";
  MutexUnlock(&inner);
  MutexUnlock(&inner);
  EXPECT_EQ(LockDepth(), 1u);
  EXPECT_EQ(t_restart_points, 1) << "no boundary while a lock is held";
  MutexUnlock(&outer);
  EXPECT_EQ(LockDepth(), 0u);
  EXPECT_EQ(t_restart_points, 2) << "after releasing to depth 0";
  EXPECT_EQ(MutexTrylock(&outer), 0);
  EXPECT_EQ(t_restart_points, 3);
  MutexUnlock(&outer);
  EXPECT_EQ(t_restart_points, 4);
  EXPECT_EQ(t_blocking_begins, 0);
}

TEST_F(DepthHooks, FailedAttemptsRestoreDepth) {
  pthread_mutex_t mutex = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
  MutexLock(&mutex);
  EXPECT_EQ(MutexLock(&mutex), EDEADLK);
  EXPECT_EQ(LockDepth(), 1u);
  MutexUnlock(&mutex);
  EXPECT_EQ(MutexUnlock(&mutex), EPERM);
  EXPECT_EQ(LockDepth(), 0u);
  pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
  std::thread holder([&] { MutexLock(&held); });
  holder.join();
  EXPECT_EQ(MutexTrylock(&held), EBUSY);
  timespec past{0, 1};
  EXPECT_EQ(MutexTimedlock(&held, &past), ETIMEDOUT);
  EXPECT_EQ(LockDepth(), 0u);
  EXPECT_EQ(t_blocking_begins, t_blocking_ends);
}

TEST_F(DepthHooks, RwlockAndSpinCount) {
  pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
  pthread_spinlock_t spin = 0;
  RwlockRdlock(&rwlock);
  RwlockRdlock(&rwlock);
  SpinLock(&spin);
  EXPECT_EQ(LockDepth(), 3u);
  EXPECT_EQ(t_restart_points, 1);
  SpinUnlock(&spin);
  RwlockUnlock(&rwlock);
  RwlockUnlock(&rwlock);
  EXPECT_EQ(LockDepth(), 0u);
  EXPECT_EQ(t_restart_points, 2);
  RwlockWrlock(&rwlock);
  EXPECT_EQ(LockDepth(), 1u);
  RwlockUnlock(&rwlock);
  EXPECT_EQ(t_restart_points, 4);
  EXPECT_EQ(RwlockTrywrlock(&rwlock), 0);
  EXPECT_EQ(SpinTrylock(&spin), 0);
  SpinUnlock(&spin);
  RwlockUnlock(&rwlock);
  EXPECT_EQ(t_restart_points, 6);
  EXPECT_EQ(LockDepth(), 0u);
}

TEST_F(DepthHooks, ContendedMutexFromDepthZeroReportsBlocking) {
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  MutexLock(&mutex);
  int begins = 0, ends = 0;
  std::thread waiter([&] {
    MutexLock(&mutex);
    EXPECT_EQ(LockDepth(), 1u);
    MutexUnlock(&mutex);
    begins = t_blocking_begins;
    ends = t_blocking_ends;
    EXPECT_FALSE(t_restart_point_saw_nonzero_depth);
  });
  WaitUntilBlocked(1);
  MutexUnlock(&mutex);
  waiter.join();
  EXPECT_GE(begins, 1);
  EXPECT_EQ(begins, ends);
}

// A thread that already holds a lock sleeps through the hook too: a
// checkpoint must not wait for it (the image shows it holding `other`).
TEST_F(DepthHooks, ContendedMutexAtDepthOneAlsoSleepsThroughTheHook) {
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  MutexLock(&mutex);
  std::atomic<bool> about_to_block{false};
  int begins = -1;
  std::thread waiter([&] {
    pthread_mutex_t other = PTHREAD_MUTEX_INITIALIZER;
    MutexLock(&other);
    about_to_block = true;
    MutexLock(&mutex);
    EXPECT_EQ(LockDepth(), 2u);
    begins = t_blocking_begins;
    MutexUnlock(&mutex);
    MutexUnlock(&other);
  });
  while (!about_to_block) std::this_thread::yield();
  WaitUntilBlocked(1);
  MutexUnlock(&mutex);
  waiter.join();
  EXPECT_GE(begins, 1);
}

TEST_F(DepthHooks, CondWaitDropsDepthAndParks) {
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
  bool ready = false;
  int restart_points = 0, begins = 0, ends = 0;
  std::thread waiter([&] {
    MutexLock(&mutex);
    int before = t_restart_points;
    while (!ready) CondWait(&cond, &mutex);
    EXPECT_EQ(LockDepth(), 1u) << "restored after the wait";
    restart_points = t_restart_points - before;
    begins = t_blocking_begins;
    ends = t_blocking_ends;
    MutexUnlock(&mutex);
    EXPECT_FALSE(t_restart_point_saw_nonzero_depth);
  });
  WaitUntilBlocked(1);
  MutexLock(&mutex);
  ready = true;
  CondSignal(&cond);
  MutexUnlock(&mutex);
  waiter.join();
  EXPECT_GE(restart_points, 2) << "at the wait and before re-acquiring";
  EXPECT_GE(begins, 1);
  EXPECT_EQ(begins, ends);
}

TEST_F(DepthHooks, CondWaitHoldingAnotherLockIsNoRestartPoint) {
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_t other = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
  MutexLock(&other);
  MutexLock(&mutex);
  int restart_points = t_restart_points;
  timespec past{0, 1};
  EXPECT_EQ(CondTimedwait(&cond, &mutex, &past), ETIMEDOUT);
  EXPECT_EQ(LockDepth(), 2u);
  EXPECT_EQ(t_restart_points, restart_points);
  EXPECT_EQ(t_blocking_begins, t_blocking_ends) << "the (timed-out) sleep still goes through the hook";
  MutexUnlock(&mutex);
  MutexUnlock(&other);
}

TEST_F(DepthHooks, BarrierIsARestartPointAndParks) {
  pthread_barrier_t barrier;
  BarrierInit(&barrier, nullptr, 2);
  int restart_points = 0, begins = 0, ends = 0;
  std::thread waiter([&] {
    EXPECT_EQ(BarrierWait(&barrier), 0);
    restart_points = t_restart_points;
    begins = t_blocking_begins;
    ends = t_blocking_ends;
  });
  WaitUntilBlocked(1);
  EXPECT_EQ(BarrierWait(&barrier), PTHREAD_BARRIER_SERIAL_THREAD);
  waiter.join();
  EXPECT_EQ(t_restart_points, 1);
  EXPECT_EQ(restart_points, 1);
  EXPECT_GE(begins, 1);
  EXPECT_EQ(begins, ends);
  BarrierDestroy(&barrier);
}

TEST_F(DepthHooks, NoRequestNoHookCall) {
  detail::g_checkpoint_request.store(0);
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  MutexLock(&mutex);
  MutexUnlock(&mutex);
  EXPECT_EQ(t_restart_points, 0);
}

TEST_F(DepthHooks, NullHooksAreSkipped) {
  InstallSafepointHooks({});
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  MutexLock(&mutex);
  MutexUnlock(&mutex);
  EXPECT_EQ(t_restart_points, 0);
}

}  // namespace
}  // namespace respct::sync
