#include "runtime/sync/cond.h"

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>

#include "runtime/sync/acquire.h"
#include "runtime/sync/mutex.h"

namespace respct::sync {
namespace {

constexpr uint32_t kCondDestroying = 0x8000'0000u;
constexpr uint32_t kCondWaiterMask = ~kCondDestroying;
constexpr uint32_t kCondMonotonic = 1;
constexpr uint32_t kCondProcessShared = 2;

using Word = std::atomic_ref<uint32_t>;

uint32_t* SeqWord(pthread_cond_t* c) { return &c->__data.__g_refs[0]; }
uint32_t* WaitersWord(pthread_cond_t* c) { return &c->__data.__g_refs[1]; }
uint32_t* FlagsWord(pthread_cond_t* c) { return &c->__data.__wrefs; }

// Written only by init, before the condvar is shared.
uint32_t Flags(pthread_cond_t* c) { return Word(*FlagsWord(c)).load(std::memory_order_relaxed); }
bool IsProcessShared(pthread_cond_t* c) { return (Flags(c) & kCondProcessShared) != 0; }

void LeaveWaiters(pthread_cond_t* c) {
  // Read before leaving: once the count drops, the destroyer may free *c.
  bool process_shared = IsProcessShared(c);
  uint32_t previous = Word(*WaitersWord(c)).fetch_sub(1, std::memory_order_seq_cst);
  // The destroyer sleeps on the waiters word until the count reaches zero.
  // The wake may touch memory the destroyer has already freed; FUTEX_WAKE on
  // a stale address only ever causes a spurious wake-up, which every futex
  // user tolerates.
  if (previous == (kCondDestroying | 1)) detail::FutexWakeAll(WaitersWord(c), process_shared);
}

int Wake(pthread_cond_t* c, int count) {
  if ((Word(*WaitersWord(c)).load(std::memory_order_seq_cst) & kCondWaiterMask) == 0) return 0;
  Word(*SeqWord(c)).fetch_add(1, std::memory_order_seq_cst);
  detail::FutexWake(SeqWord(c), count, IsProcessShared(c));
  return 0;
}

int Wait(pthread_cond_t* c, pthread_mutex_t* m, const detail::Deadline& deadline) {
  if (deadline.abstime != nullptr &&
      (deadline.abstime->tv_nsec < 0 || deadline.abstime->tv_nsec >= 1'000'000'000)) {
    return EINVAL;
  }
  Word waiters(*WaitersWord(c));
  waiters.fetch_add(1, std::memory_order_seq_cst);
  uint32_t seq = Word(*SeqWord(c)).load(std::memory_order_seq_cst);
  uint32_t levels = 0;
  if (int error = detail::MutexReleaseForCondWait(m, &levels)) {
    LeaveWaiters(c);
    return error;
  }
  if (LockDepth() == 0) AtRestartPoint();
  int result = detail::CheckDeadlineBeforeBlocking(deadline);
  if (result == 0) result = detail::WaitOutsideAcquire(SeqWord(c), seq, IsProcessShared(c), deadline);
  LeaveWaiters(c);
  detail::MutexReacquireAfterCondWait(m, levels);
  // EAGAIN (seq already moved), EINTR and plain wake-ups all mean "return and
  // let the caller re-check its predicate".
  return result == ETIMEDOUT ? ETIMEDOUT : 0;
}

}  // namespace

int CondInit(pthread_cond_t* cond, const pthread_condattr_t* attr) {
  uint32_t flags = 0;
  if (attr != nullptr) {
    clockid_t clock = CLOCK_REALTIME;
    int process_shared = PTHREAD_PROCESS_PRIVATE;
    pthread_condattr_getclock(attr, &clock);
    pthread_condattr_getpshared(attr, &process_shared);
    if (clock == CLOCK_MONOTONIC) flags |= kCondMonotonic;
    if (process_shared == PTHREAD_PROCESS_SHARED) flags |= kCondProcessShared;
  }
  std::memset(static_cast<void*>(cond), 0, sizeof(*cond));
  *FlagsWord(cond) = flags;
  return 0;
}

int CondDestroy(pthread_cond_t* cond) {
  Word waiters(*WaitersWord(cond));
  uint32_t current = waiters.fetch_or(kCondDestroying, std::memory_order_seq_cst) | kCondDestroying;
  while ((current & kCondWaiterMask) != 0) {
    detail::FutexWait(WaitersWord(cond), current, IsProcessShared(cond));
    current = waiters.load(std::memory_order_seq_cst);
  }
  return 0;
}

int CondSignal(pthread_cond_t* cond) { return Wake(cond, 1); }

int CondBroadcast(pthread_cond_t* cond) { return Wake(cond, INT_MAX); }

int CondWait(pthread_cond_t* cond, pthread_mutex_t* mutex) { return Wait(cond, mutex, {}); }

int CondTimedwait(pthread_cond_t* cond, pthread_mutex_t* mutex, const timespec* abstime) {
  clockid_t clock = (Flags(cond) & kCondMonotonic) != 0 ? CLOCK_MONOTONIC : CLOCK_REALTIME;
  return Wait(cond, mutex, detail::Deadline{abstime, clock});
}

int CondClockwait(pthread_cond_t* cond, pthread_mutex_t* mutex, clockid_t clock, const timespec* abstime) {
  if (!detail::IsSupportedClock(clock)) return EINVAL;
  return Wait(cond, mutex, detail::Deadline{abstime, clock});
}

}  // namespace respct::sync
