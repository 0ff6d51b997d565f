// The snapshot property: a lock object copied byte for byte while no thread
// holds it — even after heavy contended use — is a valid free lock in another
// process. The forked child stands in for the process that resumes from a
// checkpoint: it gets only the copied bytes, its own threads and owner ids.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "runtime/sync/sync.h"

namespace respct::sync {
namespace {

constexpr int kThreads = 4;
constexpr int kIterations = 5'000;

void Contend(const std::function<void()>& critical_section) {
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIterations; ++i) critical_section();
    });
  }
  for (auto& thread : threads) thread.join();
}

// Runs `body` in a forked child and expects it to return true; the child
// exits with _exit so no parent state (gtest, atexit) runs twice.
void ExpectInChild(const std::function<bool()>& body) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(body() ? 0 : 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status)) << "child crashed or hung";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// In the child: several threads, with fresh owner ids, contend on the copy.
bool CounterWorksInChild(const std::function<void()>& lock, const std::function<void()>& unlock) {
  long counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      SetCurrentOwnerId(static_cast<uint32_t>(100 + t));
      for (int i = 0; i < 1000; ++i) {
        lock();
        ++counter;
        unlock();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  return counter == kThreads * 1000 && LockDepth() == 0;
}

TEST(Snapshot, FreeMutexOfEveryKindIsItsInitialiserImage) {
  const pthread_mutex_t initialisers[] = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP,
                                          PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP,
                                          PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP};
  for (const pthread_mutex_t& initialiser : initialisers) {
    pthread_mutex_t mutex = initialiser;
    Contend([&] {
      MutexLock(&mutex);
      if (MutexTrylock(&mutex) == 0) MutexUnlock(&mutex);  // recursive: a second level
      MutexUnlock(&mutex);
    });
    pthread_mutex_t snapshot;
    std::memcpy(&snapshot, &mutex, sizeof(snapshot));
    EXPECT_EQ(std::memcmp(&snapshot, &initialiser, sizeof(snapshot)), 0)
        << "no owner, count or waiter state survives in a free mutex";
    ExpectInChild([&] {
      return CounterWorksInChild([&] { MutexLock(&snapshot); }, [&] { MutexUnlock(&snapshot); }) &&
             MutexTrylock(&snapshot) == 0 && MutexUnlock(&snapshot) == 0;
    });
  }
}

TEST(Snapshot, RwlockCopyWorksInChild) {
  pthread_rwlock_t rwlock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
  std::atomic<int> round{0};
  Contend([&] {
    if (++round % 3 == 0) {
      RwlockWrlock(&rwlock);
    } else {
      RwlockRdlock(&rwlock);
    }
    RwlockUnlock(&rwlock);
  });
  pthread_rwlock_t snapshot;
  std::memcpy(&snapshot, &rwlock, sizeof(snapshot));
  EXPECT_EQ(snapshot.__data.__readers, 0u);
  EXPECT_EQ(snapshot.__data.__writers, 0u);
  EXPECT_EQ(snapshot.__data.__cur_writer, 0);
  ExpectInChild([&] {
    return CounterWorksInChild([&] { RwlockWrlock(&snapshot); }, [&] { RwlockUnlock(&snapshot); }) &&
           RwlockTryrdlock(&snapshot) == 0 && RwlockTryrdlock(&snapshot) == 0 &&
           RwlockTrywrlock(&snapshot) == EBUSY && RwlockUnlock(&snapshot) == 0 &&
           RwlockUnlock(&snapshot) == 0 && RwlockTrywrlock(&snapshot) == 0 && RwlockUnlock(&snapshot) == 0;
  });
}

TEST(Snapshot, SpinCopyWorksInChild) {
  pthread_spinlock_t spin = 0;
  Contend([&] {
    SpinLock(&spin);
    SpinUnlock(&spin);
  });
  pthread_spinlock_t snapshot = spin;
  EXPECT_EQ(snapshot, 0);
  ExpectInChild([&] { return CounterWorksInChild([&] { SpinLock(&snapshot); }, [&] { SpinUnlock(&snapshot); }); });
}

TEST(Snapshot, CondAndMutexCopiesWorkInChild) {
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
  int tokens = 0;
  std::thread producer([&] {
    for (int i = 0; i < kIterations; ++i) {
      MutexLock(&mutex);
      ++tokens;
      CondSignal(&cond);
      MutexUnlock(&mutex);
    }
  });
  for (int i = 0; i < kIterations; ++i) {
    MutexLock(&mutex);
    while (tokens == 0) CondWait(&cond, &mutex);
    --tokens;
    MutexUnlock(&mutex);
  }
  producer.join();
  struct {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
  } snapshot;
  std::memcpy(&snapshot.mutex, &mutex, sizeof(mutex));
  std::memcpy(&snapshot.cond, &cond, sizeof(cond));
  EXPECT_EQ(snapshot.cond.__data.__g_refs[1], 0u) << "no waiter registered";
  ExpectInChild([&] {
    bool ready = false;
    std::thread waiter([&] {
      MutexLock(&snapshot.mutex);
      while (!ready) CondWait(&snapshot.cond, &snapshot.mutex);
      MutexUnlock(&snapshot.mutex);
    });
    MutexLock(&snapshot.mutex);
    ready = true;
    CondSignal(&snapshot.cond);
    MutexUnlock(&snapshot.mutex);
    waiter.join();
    return CondDestroy(&snapshot.cond) == 0;
  });
}

TEST(Snapshot, BarrierCopyWorksInChild) {
  pthread_barrier_t barrier;
  ASSERT_EQ(BarrierInit(&barrier, nullptr, kThreads), 0);
  Contend([&] { BarrierWait(&barrier); });
  pthread_barrier_t snapshot;
  std::memcpy(&snapshot, &barrier, sizeof(snapshot));
  ExpectInChild([&] {
    std::atomic<int> serial{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int round = 0; round < 100; ++round) {
          if (BarrierWait(&snapshot) == PTHREAD_BARRIER_SERIAL_THREAD) ++serial;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    return serial == 100 && BarrierDestroy(&snapshot) == 0;
  });
}

}  // namespace
}  // namespace respct::sync
