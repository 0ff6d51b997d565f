// 8 threads hammering each lock kind: the protected counter must equal the
// expected total; and a producer/consumer queue over a condvar must deliver
// every item (a lost wake-up hangs, bounded by the ctest timeout).
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <ctime>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "runtime/sync/sync.h"

namespace respct::sync {
namespace {

constexpr int kThreads = 8;
constexpr int kIterations = 20'000;

// Non-atomic on purpose: the lock under test is the only protection, and
// TSan reports any increment it fails to order.
void RunCounter(const std::function<void()>& lock, const std::function<void()>& unlock,
                int64_t* counter) {
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIterations; ++i) {
        lock();
        ++*counter;
        unlock();
      }
      EXPECT_EQ(LockDepth(), 0u);
    });
  }
  for (auto& thread : threads) thread.join();
}

pthread_mutex_t MakeMutex(int type, int process_shared = PTHREAD_PROCESS_PRIVATE) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, type);
  pthread_mutexattr_setpshared(&attr, process_shared);
  pthread_mutex_t mutex;
  EXPECT_EQ(MutexInit(&mutex, &attr), 0);
  pthread_mutexattr_destroy(&attr);
  return mutex;
}

TEST(Contention, MutexOfEveryType) {
  for (int type : {PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_RECURSIVE, PTHREAD_MUTEX_ERRORCHECK,
                   PTHREAD_MUTEX_ADAPTIVE_NP}) {
    pthread_mutex_t mutex = MakeMutex(type);
    int64_t counter = 0;
    RunCounter([&] { ASSERT_EQ(MutexLock(&mutex), 0); }, [&] { ASSERT_EQ(MutexUnlock(&mutex), 0); },
               &counter);
    EXPECT_EQ(counter, int64_t{kThreads} * kIterations) << "type " << type;
    EXPECT_EQ(mutex.__data.__lock, 0);
  }
}

TEST(Contention, RecursiveMutexNestedLevels) {
  pthread_mutex_t mutex = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
  int64_t counter = 0;
  RunCounter(
      [&] {
        MutexLock(&mutex);
        MutexLock(&mutex);
      },
      [&] {
        MutexUnlock(&mutex);
        MutexUnlock(&mutex);
      },
      &counter);
  EXPECT_EQ(counter, int64_t{kThreads} * kIterations);
}

TEST(Contention, TimedAndTryMutexPaths) {
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  int64_t counter = 0;
  RunCounter(
      [&] {
        timespec far{INT32_MAX, 0};
        if (MutexTrylock(&mutex) != 0) {
          ASSERT_EQ(MutexTimedlock(&mutex, &far), 0);
        }
      },
      [&] { MutexUnlock(&mutex); }, &counter);
  EXPECT_EQ(counter, int64_t{kThreads} * kIterations);
}

TEST(Contention, RwlockWritersWithConcurrentReaders) {
  for (pthread_rwlock_t rwlock : {pthread_rwlock_t PTHREAD_RWLOCK_INITIALIZER,
                                  pthread_rwlock_t PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP}) {
    int64_t counter = 0;
    std::atomic<bool> done{false};
    std::vector<std::thread> readers;
    for (int r = 0; r < 2; ++r) {
      readers.emplace_back([&] {
        int64_t last = 0;
        while (!done) {
          RwlockRdlock(&rwlock);
          EXPECT_GE(counter, last) << "readers see a monotonic counter";
          last = counter;
          RwlockUnlock(&rwlock);
        }
      });
    }
    RunCounter([&] { ASSERT_EQ(RwlockWrlock(&rwlock), 0); }, [&] { ASSERT_EQ(RwlockUnlock(&rwlock), 0); },
               &counter);
    done = true;
    for (auto& reader : readers) reader.join();
    EXPECT_EQ(counter, int64_t{kThreads} * kIterations);
    EXPECT_EQ(rwlock.__data.__readers, 0u);
  }
}

// Writers that keep timing out while readers queue behind them (writer
// preference): each give-up must let the blocked readers in. A lost wake-up
// hangs a reader (bounded by the ctest timeout).
TEST(Contention, TimingOutPreferredWritersNeverStrandReaders) {
  pthread_rwlock_t rwlock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
  std::atomic<int> readers_running{3};
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2'000; ++i) {
        ASSERT_EQ(RwlockRdlock(&rwlock), 0);
        std::this_thread::yield();
        ASSERT_EQ(RwlockUnlock(&rwlock), 0);
      }
      --readers_running;
    });
  }
  for (int w = 0; w < 3; ++w) {
    threads.emplace_back([&] {
      while (readers_running > 0) {
        timespec deadline{};
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_nsec += 50'000;
        if (deadline.tv_nsec >= 1'000'000'000) {
          deadline.tv_nsec -= 1'000'000'000;
          ++deadline.tv_sec;
        }
        int result = RwlockClockwrlock(&rwlock, CLOCK_MONOTONIC, &deadline);
        ASSERT_TRUE(result == 0 || result == ETIMEDOUT) << result;
        if (result == 0) {
          ASSERT_EQ(RwlockUnlock(&rwlock), 0);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(rwlock.__data.__readers, 0u);
  EXPECT_EQ(rwlock.__data.__writers, 0u);
  EXPECT_EQ(rwlock.__data.__pad3, 0u);
}

TEST(Contention, Spinlock) {
  pthread_spinlock_t lock = 0;
  int64_t counter = 0;
  RunCounter([&] { SpinLock(&lock); }, [&] { SpinUnlock(&lock); }, &counter);
  EXPECT_EQ(counter, int64_t{kThreads} * kIterations);
}

// Bounded queue, 4 producers and 4 consumers, 100k items: every item is
// consumed exactly once. Consumers alternate plain and timed waits so both
// paths see the races.
TEST(Contention, ProducerConsumerLosesNoWakeups) {
  constexpr int kItems = 100'000;
  constexpr int kProducers = 4;
  constexpr int kConsumers = 4;
  constexpr size_t kCapacity = 16;
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
  pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
  std::array<int, kCapacity> ring{};
  size_t head = 0;
  size_t size = 0;
  int produced = 0;
  int consumed = 0;
  int64_t sum = 0;

  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&] {
      for (;;) {
        MutexLock(&mutex);
        while (size == kCapacity && produced < kItems) CondWait(&not_full, &mutex);
        if (produced == kItems) {
          MutexUnlock(&mutex);
          return;
        }
        ring[(head + size) % kCapacity] = ++produced;
        ++size;
        if (produced == kItems) CondBroadcast(&not_full);
        CondSignal(&not_empty);
        MutexUnlock(&mutex);
      }
    });
  }
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      for (int n = 0;; ++n) {
        MutexLock(&mutex);
        while (size == 0 && consumed < kItems) {
          if ((n + c) % 2 == 0) {
            CondWait(&not_empty, &mutex);
          } else {
            timespec far{INT32_MAX, 0};
            CondTimedwait(&not_empty, &mutex, &far);
          }
        }
        if (consumed == kItems) {
          MutexUnlock(&mutex);
          return;
        }
        sum += ring[head];
        head = (head + 1) % kCapacity;
        --size;
        if (++consumed == kItems) CondBroadcast(&not_empty);
        CondSignal(&not_full);
        MutexUnlock(&mutex);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(consumed, kItems);
  EXPECT_EQ(sum, int64_t{kItems} * (kItems + 1) / 2);
  EXPECT_EQ(CondDestroy(&not_empty), 0);
  EXPECT_EQ(CondDestroy(&not_full), 0);
}

// A PTHREAD_PROCESS_SHARED mutex in a MAP_SHARED page, contended by a parent
// and a forked child: exercises the shared (non-private) futex ops.
TEST(Contention, ProcessSharedMutexAcrossFork) {
  struct Shared {
    pthread_mutex_t mutex;
    int64_t counter;
  };
  void* page = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(page, MAP_FAILED);
  auto* shared = new (page) Shared{MakeMutex(PTHREAD_MUTEX_NORMAL, PTHREAD_PROCESS_SHARED), 0};
  auto hammer = [&] {
    for (int i = 0; i < kIterations; ++i) {
      MutexLock(&shared->mutex);
      ++shared->counter;
      MutexUnlock(&shared->mutex);
    }
  };
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    hammer();
    _exit(0);
  }
  hammer();
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(shared->counter, int64_t{2} * kIterations);
  munmap(page, sizeof(Shared));
}

// Ping-pong between a parent and a forked child through a process-shared
// condvar and mutex in a MAP_SHARED page: each side waits for its turn, so a
// private futex op (keyed on the process) would never wake the other side.
TEST(Contention, ProcessSharedCondAcrossFork) {
  constexpr int kTurns = 2'000;
  struct Shared {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int turn;
  };
  void* page = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(page, MAP_FAILED);
  auto* shared = new (page) Shared{MakeMutex(PTHREAD_MUTEX_NORMAL, PTHREAD_PROCESS_SHARED), {}, 0};
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  ASSERT_EQ(CondInit(&shared->cond, &attr), 0);
  pthread_condattr_destroy(&attr);
  auto play = [&](int parity) {
    for (int i = 0; i < kTurns; ++i) {
      MutexLock(&shared->mutex);
      while (shared->turn % 2 != parity) CondWait(&shared->cond, &shared->mutex);
      ++shared->turn;
      CondSignal(&shared->cond);
      MutexUnlock(&shared->mutex);
    }
  };
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    play(1);
    _exit(0);
  }
  play(0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(shared->turn, 2 * kTurns);
  munmap(page, sizeof(Shared));
}

}  // namespace
}  // namespace respct::sync
