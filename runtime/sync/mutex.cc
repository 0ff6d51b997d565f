#include "runtime/sync/mutex.h"

#include <cstring>

#include "runtime/sync/owner_id.h"

namespace respct::sync {
namespace detail {
namespace {

// An adaptive mutex spins this many times before sleeping: enough to cover a
// short critical section on another core, far less than a futex round trip.
constexpr int kAdaptiveSpinLimit = 100;

using Word = std::atomic_ref<uint32_t>;

bool IsProcessShared(uint32_t kind) { return (kind & kMutexProcessSharedBit) != 0; }

bool TracksOwner(uint32_t kind) {
  uint32_t type = kind & kMutexTypeMask;
  return type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK;
}

// Drepper's "Futexes are tricky" mutex 3: once a thread has had to wait it
// marks the word 2 (maybe waiters) on every re-try, so the unlocker wakes one
// waiter exactly when someone may be sleeping. Depth is already raised.
int WaitAndTake(pthread_mutex_t* m, uint32_t kind, const Deadline& deadline) {
  Word state(*MutexStateWord(m));
  if ((kind & kMutexTypeMask) == PTHREAD_MUTEX_ADAPTIVE_NP) {
    for (int spin = 0; spin < kAdaptiveSpinLimit; ++spin) {
      if (state.load(std::memory_order_relaxed) == kMutexFree && TryTakeMutexWord(m)) return 0;
      CpuRelax();
      AtSpinWait();
    }
  }
  uint32_t previous = state.exchange(kMutexHeldWithWaiters, std::memory_order_acquire);
  while (previous != kMutexFree) {
    if (int invalid = CheckDeadlineBeforeBlocking(deadline)) return invalid;
    if (WaitDuringAcquire(MutexStateWord(m), kMutexHeldWithWaiters, IsProcessShared(kind), deadline) ==
        ETIMEDOUT) {
      return ETIMEDOUT;
    }
    previous = state.exchange(kMutexHeldWithWaiters, std::memory_order_acquire);
  }
  return 0;
}

// Releases the state word; the caller has already cleared owner and count.
void ReleaseWord(pthread_mutex_t* m, uint32_t kind) {
  uint32_t previous = Word(*MutexStateWord(m)).exchange(kMutexFree, std::memory_order_release);
  if (previous == kMutexHeldWithWaiters) FutexWake(MutexStateWord(m), 1, IsProcessShared(kind));
}

void RecordOwner(pthread_mutex_t* m, uint32_t owner, uint32_t levels) {
  Word(*MutexOwnerWord(m)).store(owner, std::memory_order_relaxed);
  Word(*MutexCountWord(m)).store(levels, std::memory_order_relaxed);
}

bool HeldBy(pthread_mutex_t* m, uint32_t owner) {
  return Word(*MutexOwnerWord(m)).load(std::memory_order_relaxed) == owner;
}

// Re-acquisition by the current owner: recursive counts a level, errorcheck
// refuses. Returns -1 if the caller is not the owner.
int RelockByOwner(pthread_mutex_t* m, uint32_t kind, int errorcheck_error) {
  if ((kind & kMutexTypeMask) == PTHREAD_MUTEX_ERRORCHECK) return errorcheck_error;
  Word count(*MutexCountWord(m));
  uint32_t levels = count.load(std::memory_order_relaxed);
  if (levels == UINT32_MAX) return EAGAIN;
  count.store(levels + 1, std::memory_order_relaxed);
  ++t_lock_depth;  // Already > 0: the mutex is held, so no restart point here.
  return 0;
}

}  // namespace

int MutexLockContendedNormal(pthread_mutex_t* m) { return WaitAndTake(m, 0, {}); }

void MutexWakeOneWaiter(pthread_mutex_t* m) { FutexWake(MutexStateWord(m), 1, false); }

int MutexLockGeneric(pthread_mutex_t* m, const Deadline& deadline) {
  uint32_t kind = MutexKind(m);
  uint32_t self = 0;
  if (TracksOwner(kind)) {
    self = CurrentOwnerId();
    if (HeldBy(m, self)) return RelockByOwner(m, kind, EDEADLK);
  }
  BeginAcquire();
  if (!TryTakeMutexWord(m)) {
    if (int error = WaitAndTake(m, kind, deadline)) {
      AbandonAcquire();
      return error;
    }
  }
  if (self != 0) RecordOwner(m, self, 1);
  return 0;
}

int MutexTrylockGeneric(pthread_mutex_t* m) {
  uint32_t kind = MutexKind(m);
  uint32_t self = 0;
  if (TracksOwner(kind)) {
    self = CurrentOwnerId();
    // glibc answers EBUSY (not EDEADLK) for an errorcheck trylock by the owner.
    if (HeldBy(m, self)) return RelockByOwner(m, kind, EBUSY);
  }
  BeginAcquire();
  if (!TryTakeMutexWord(m)) {
    AbandonAcquire();
    return EBUSY;
  }
  if (self != 0) RecordOwner(m, self, 1);
  return 0;
}

int MutexUnlockGeneric(pthread_mutex_t* m) {
  uint32_t kind = MutexKind(m);
  if (TracksOwner(kind)) {
    if (!HeldBy(m, CurrentOwnerId())) return EPERM;
    Word count(*MutexCountWord(m));
    uint32_t levels = count.load(std::memory_order_relaxed);
    if (levels > 1) {
      count.store(levels - 1, std::memory_order_relaxed);
      FinishRelease();
      return 0;
    }
    RecordOwner(m, 0, 0);
    ReleaseWord(m, kind);
  } else {
    uint32_t previous = Word(*MutexStateWord(m)).exchange(kMutexFree, std::memory_order_release);
    if (previous == kMutexFree) return EPERM;
    if (previous == kMutexHeldWithWaiters) FutexWake(MutexStateWord(m), 1, IsProcessShared(kind));
  }
  FinishRelease();
  return 0;
}

int MutexReleaseForCondWait(pthread_mutex_t* m, uint32_t* levels) {
  uint32_t kind = MutexKind(m);
  if (TracksOwner(kind)) {
    if (!HeldBy(m, CurrentOwnerId())) return EPERM;
    *levels = Word(*MutexCountWord(m)).load(std::memory_order_relaxed);
    RecordOwner(m, 0, 0);
  } else {
    if (Word(*MutexStateWord(m)).load(std::memory_order_relaxed) == kMutexFree) return EPERM;
    *levels = 1;
  }
  ReleaseWord(m, kind);
  CompilerFence();
  t_lock_depth -= *levels;
  return 0;
}

void MutexReacquireAfterCondWait(pthread_mutex_t* m, uint32_t levels) {
  uint32_t kind = MutexKind(m);
  BeginAcquire();
  if (!TryTakeMutexWord(m)) WaitAndTake(m, kind, {});
  if (TracksOwner(kind)) RecordOwner(m, CurrentOwnerId(), levels);
  t_lock_depth += levels - 1;
}

}  // namespace detail

int MutexInit(pthread_mutex_t* mutex, const pthread_mutexattr_t* attr) {
  uint32_t kind = PTHREAD_MUTEX_NORMAL;
  if (attr != nullptr) {
    int type = 0;
    int protocol = 0;
    int robustness = 0;
    int process_shared = 0;
    pthread_mutexattr_gettype(attr, &type);
    pthread_mutexattr_getprotocol(attr, &protocol);
    pthread_mutexattr_getrobust(attr, &robustness);
    pthread_mutexattr_getpshared(attr, &process_shared);
    // See mutex.h: both need the owner's kernel tid inside the lock word.
    if (protocol != PTHREAD_PRIO_NONE || robustness != PTHREAD_MUTEX_STALLED) return ENOTSUP;
    kind = static_cast<uint32_t>(type) & detail::kMutexTypeMask;
    if (process_shared == PTHREAD_PROCESS_SHARED) kind |= detail::kMutexProcessSharedBit;
  }
  std::memset(static_cast<void*>(mutex), 0, sizeof(*mutex));
  *detail::MutexKindWord(mutex) = kind;
  return 0;
}

int MutexDestroy(pthread_mutex_t* mutex) {
  if (std::atomic_ref<uint32_t>(*detail::MutexStateWord(mutex)).load(std::memory_order_relaxed) !=
      detail::kMutexFree) {
    return EBUSY;
  }
  return 0;
}

int MutexTimedlock(pthread_mutex_t* mutex, const timespec* abstime) {
  return MutexClocklock(mutex, CLOCK_REALTIME, abstime);
}

int MutexClocklock(pthread_mutex_t* mutex, clockid_t clock, const timespec* abstime) {
  if (!detail::IsSupportedClock(clock)) return EINVAL;
  return detail::MutexLockGeneric(mutex, detail::Deadline{abstime, clock});
}

}  // namespace respct::sync
