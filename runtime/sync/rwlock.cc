#include "runtime/sync/rwlock.h"

#include <cstring>

namespace respct::sync {
namespace detail {
namespace {

bool IsProcessShared(pthread_rwlock_t* rw) {
  return RwWord(*RwlockSharedWord(rw)).load(std::memory_order_relaxed) != 0;
}

bool HeldForWritingBySelf(pthread_rwlock_t* rw) {
  return RwWord(*RwlockStateWord(rw)).load(std::memory_order_relaxed) == kRwlockWriter &&
         RwWord(*RwlockWriterOwnerWord(rw)).load(std::memory_order_relaxed) == CurrentOwnerId();
}

void WakeReaders(pthread_rwlock_t* rw) {
  RwWord(*RwlockReadersSeqWord(rw)).fetch_add(1, std::memory_order_seq_cst);
  FutexWakeAll(RwlockReadersSeqWord(rw), IsProcessShared(rw));
}

// The reader-side blocking loop; the caller is registered in readers_queued.
int WaitAndTakeRead(pthread_rwlock_t* rw, const Deadline& deadline) {
  RwWord state(*RwlockStateWord(rw));
  RwWord readers_seq(*RwlockReadersSeqWord(rw));
  for (;;) {
    // Sequence first, then the condition: a waker changes the condition, then
    // the sequence, so a stale condition implies a stale sequence and the
    // futex wait below returns at once.
    uint32_t seq = readers_seq.load(std::memory_order_seq_cst);
    if (TryTakeRead(rw)) return 0;
    uint32_t current = state.load(std::memory_order_seq_cst);
    if (current >= kRwlockMaxReaders && current != kRwlockWriter) return EAGAIN;
    if (int invalid = CheckDeadlineBeforeBlocking(deadline)) return invalid;
    if (WaitDuringAcquire(RwlockReadersSeqWord(rw), seq, IsProcessShared(rw), deadline) == ETIMEDOUT) {
      return ETIMEDOUT;
    }
  }
}

int WaitAndTakeWrite(pthread_rwlock_t* rw, const Deadline& deadline) {
  RwWord writers_seq(*RwlockWritersSeqWord(rw));
  for (;;) {
    uint32_t seq = writers_seq.load(std::memory_order_seq_cst);
    if (TryTakeWrite(rw)) return 0;
    if (int invalid = CheckDeadlineBeforeBlocking(deadline)) return invalid;
    if (WaitDuringAcquire(RwlockWritersSeqWord(rw), seq, IsProcessShared(rw), deadline) == ETIMEDOUT) {
      return ETIMEDOUT;
    }
  }
}

int ReadLockGeneric(pthread_rwlock_t* rw, const Deadline& deadline) {
  BeginAcquire();
  if (TryTakeRead(rw)) return 0;
  return RwlockRdlockContended(rw, deadline);
}

int WriteLockGeneric(pthread_rwlock_t* rw, const Deadline& deadline) {
  BeginAcquire();
  if (TryTakeWrite(rw)) return 0;
  return RwlockWrlockContended(rw, deadline);
}

}  // namespace

int RwlockRdlockContended(pthread_rwlock_t* rw, const Deadline& deadline) {
  if (HeldForWritingBySelf(rw)) {
    AbandonAcquire();
    return EDEADLK;
  }
  RwWord readers_queued(*RwlockReadersQueuedWord(rw));
  readers_queued.fetch_add(1, std::memory_order_seq_cst);
  int result = WaitAndTakeRead(rw, deadline);
  // A reader that gives up changes nothing another thread waits for.
  readers_queued.fetch_sub(1, std::memory_order_seq_cst);
  if (result != 0) AbandonAcquire();
  return result;
}

int RwlockWrlockContended(pthread_rwlock_t* rw, const Deadline& deadline) {
  if (HeldForWritingBySelf(rw)) {
    AbandonAcquire();
    return EDEADLK;
  }
  RwWord writers_queued(*RwlockWritersQueuedWord(rw));
  writers_queued.fetch_add(1, std::memory_order_seq_cst);
  int result = WaitAndTakeWrite(rw, deadline);
  uint32_t previously_queued = writers_queued.fetch_sub(1, std::memory_order_seq_cst);
  if (result != 0) {
    AbandonAcquire();
    // In writer-preferring mode readers may be waiting only because this
    // writer was queued; the last writer to give up must let them in. (A
    // writer that acquires lets them in when it unlocks.) A timed-out writer
    // never absorbed a wake-up: the kernel reports ETIMEDOUT only for a waiter
    // that was not woken.
    if (previously_queued == 1 && RwlockPrefersWriters(rw) &&
        RwWord(*RwlockReadersQueuedWord(rw)).load(std::memory_order_seq_cst) != 0) {
      WakeReaders(rw);
    }
  }
  return result;
}

void RwlockWakeWriter(pthread_rwlock_t* rw) {
  RwWord(*RwlockWritersSeqWord(rw)).fetch_add(1, std::memory_order_seq_cst);
  FutexWake(RwlockWritersSeqWord(rw), 1, IsProcessShared(rw));
}

void RwlockWakeAfterWriterRelease(pthread_rwlock_t* rw) {
  bool writers_waiting = RwWord(*RwlockWritersQueuedWord(rw)).load(std::memory_order_seq_cst) != 0;
  bool readers_waiting = RwWord(*RwlockReadersQueuedWord(rw)).load(std::memory_order_seq_cst) != 0;
  if (writers_waiting) RwlockWakeWriter(rw);
  // With writers preferred and one queued, readers would only go back to
  // sleep; the writer that empties the queue (by unlocking or giving up)
  // wakes them.
  if (readers_waiting && !(writers_waiting && RwlockPrefersWriters(rw))) WakeReaders(rw);
}

}  // namespace detail

int RwlockInit(pthread_rwlock_t* rwlock, const pthread_rwlockattr_t* attr) {
  int preference = PTHREAD_RWLOCK_PREFER_READER_NP;
  int process_shared = PTHREAD_PROCESS_PRIVATE;
  if (attr != nullptr) {
    pthread_rwlockattr_getkind_np(attr, &preference);
    pthread_rwlockattr_getpshared(attr, &process_shared);
  }
  std::memset(static_cast<void*>(rwlock), 0, sizeof(*rwlock));
  *detail::RwlockFlagsWord(rwlock) = static_cast<uint32_t>(preference);
  *detail::RwlockSharedWord(rwlock) = process_shared == PTHREAD_PROCESS_SHARED ? 1 : 0;
  return 0;
}

int RwlockDestroy(pthread_rwlock_t* rwlock) {
  if (detail::RwWord(*detail::RwlockStateWord(rwlock)).load(std::memory_order_relaxed) != 0) return EBUSY;
  return 0;
}

int RwlockTryrdlock(pthread_rwlock_t* rwlock) {
  detail::BeginAcquire();
  if (detail::TryTakeRead(rwlock)) return 0;
  detail::AbandonAcquire();
  uint32_t current = detail::RwWord(*detail::RwlockStateWord(rwlock)).load(std::memory_order_relaxed);
  return current >= detail::kRwlockMaxReaders && current != detail::kRwlockWriter ? EAGAIN : EBUSY;
}

int RwlockTrywrlock(pthread_rwlock_t* rwlock) {
  detail::BeginAcquire();
  if (detail::TryTakeWrite(rwlock)) return 0;
  detail::AbandonAcquire();
  return EBUSY;
}

int RwlockTimedrdlock(pthread_rwlock_t* rwlock, const timespec* abstime) {
  return RwlockClockrdlock(rwlock, CLOCK_REALTIME, abstime);
}

int RwlockClockrdlock(pthread_rwlock_t* rwlock, clockid_t clock, const timespec* abstime) {
  if (!detail::IsSupportedClock(clock)) return EINVAL;
  return detail::ReadLockGeneric(rwlock, detail::Deadline{abstime, clock});
}

int RwlockTimedwrlock(pthread_rwlock_t* rwlock, const timespec* abstime) {
  return RwlockClockwrlock(rwlock, CLOCK_REALTIME, abstime);
}

int RwlockClockwrlock(pthread_rwlock_t* rwlock, clockid_t clock, const timespec* abstime) {
  if (!detail::IsSupportedClock(clock)) return EINVAL;
  return detail::WriteLockGeneric(rwlock, detail::Deadline{abstime, clock});
}

}  // namespace respct::sync
