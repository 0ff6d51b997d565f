// pthread_mutex_t reimplemented inside the caller's 40-byte storage.
//
// Word layout (glibc's field names from bits/struct_mutex.h, offsets in bytes):
//   0  __lock   state: 0 free, 1 held, 2 held and maybe waiters (futex word)
//   4  __count  recursion levels held (recursive and errorcheck only; else 0)
//   8  __owner  owner id of the holder (recursive and errorcheck only), a
//               respct::sync::CurrentOwnerId(), never a kernel tid
//   16 __kind   type in bits 0-1 (PTHREAD_MUTEX_TIMED_NP/NORMAL 0, RECURSIVE 1,
//               ERRORCHECK 2, ADAPTIVE 3) | kMutexProcessSharedBit
//   everything else stays zero.
// glibc's static initialisers are all zero except __kind = type, so
// PTHREAD_MUTEX_INITIALIZER and the RECURSIVE/ERRORCHECK/ADAPTIVE _NP ones are
// valid free mutexes of the right type without any init call. The lock holds
// no pointer and no tid, and a free mutex is exactly its initialiser image
// (plus the pshared bit), so a snapshot of a free mutex is valid anywhere.
//
// Normal and adaptive mutexes do not record an owner, which keeps their fast
// paths to a single atomic each; unlocking a free mutex returns EPERM instead
// of corrupting the state (undefined behaviour per POSIX, detected for free).
//
// Not supported (init returns ENOTSUP): robust mutexes, whose owner-death
// detection needs the owner's kernel tid in the lock word and a per-thread
// robust list registered with the kernel — both per-process state that a
// restored process cannot inherit; and PTHREAD_PRIO_INHERIT/PROTECT, whose
// kernel PI futexes likewise require the owner tid in the word.
//
// Process-shared mutexes use shared futex ops. Owner ids are unique only
// within one process, so a recursive/errorcheck mutex shared between two
// processes cannot tell their threads apart (limitation, see README.md).
//
// Memory order: acquisition is an acquire RMW on the state, release is a
// release exchange; __count/__owner are relaxed because only the holder
// writes them and other threads only compare __owner with their own id.
//
// None of these functions is async-signal-safe (POSIX does not require it);
// all work before runtime init (no allocation, no dlsym).
#pragma once

#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <ctime>

#include "runtime/sync/acquire.h"

namespace respct::sync {

int MutexInit(pthread_mutex_t* mutex, const pthread_mutexattr_t* attr);
int MutexDestroy(pthread_mutex_t* mutex);
inline int MutexLock(pthread_mutex_t* mutex);
inline int MutexTrylock(pthread_mutex_t* mutex);
int MutexTimedlock(pthread_mutex_t* mutex, const timespec* abstime);
int MutexClocklock(pthread_mutex_t* mutex, clockid_t clock, const timespec* abstime);
inline int MutexUnlock(pthread_mutex_t* mutex);

namespace detail {

inline constexpr uint32_t kMutexFree = 0;
inline constexpr uint32_t kMutexHeld = 1;
inline constexpr uint32_t kMutexHeldWithWaiters = 2;
inline constexpr uint32_t kMutexTypeMask = 3;
inline constexpr uint32_t kMutexProcessSharedBit = 128;  // glibc's internal bit value too

inline uint32_t* MutexStateWord(pthread_mutex_t* m) { return reinterpret_cast<uint32_t*>(&m->__data.__lock); }
inline uint32_t* MutexCountWord(pthread_mutex_t* m) { return &m->__data.__count; }
inline uint32_t* MutexOwnerWord(pthread_mutex_t* m) { return reinterpret_cast<uint32_t*>(&m->__data.__owner); }
inline uint32_t* MutexKindWord(pthread_mutex_t* m) { return reinterpret_cast<uint32_t*>(&m->__data.__kind); }

// Written only by init (before the mutex is shared), so relaxed suffices.
inline uint32_t MutexKind(pthread_mutex_t* m) {
  return std::atomic_ref<uint32_t>(*MutexKindWord(m)).load(std::memory_order_relaxed);
}

inline bool TryTakeMutexWord(pthread_mutex_t* m) {
  uint32_t expected = kMutexFree;
  return std::atomic_ref<uint32_t>(*MutexStateWord(m))
      .compare_exchange_strong(expected, kMutexHeld, std::memory_order_acquire, std::memory_order_relaxed);
}

// Slow paths (mutex.cc). Depth has already been raised by the caller where noted.
int MutexLockContendedNormal(pthread_mutex_t* m);  // depth raised, first CAS failed
int MutexLockGeneric(pthread_mutex_t* m, const Deadline& deadline);
int MutexTrylockGeneric(pthread_mutex_t* m);
int MutexUnlockGeneric(pthread_mutex_t* m);
void MutexWakeOneWaiter(pthread_mutex_t* m);  // private futex

// For pthread_cond_wait: release every level this thread holds (returned in
// *levels) and take them all back. Release fails with EPERM if the caller
// does not hold the mutex (detectable for every type but a normal mutex held
// by another thread).
int MutexReleaseForCondWait(pthread_mutex_t* m, uint32_t* levels);
void MutexReacquireAfterCondWait(pthread_mutex_t* m, uint32_t levels);

}  // namespace detail

// Fast paths: a private normal mutex (kind 0, including every
// PTHREAD_MUTEX_INITIALIZER) costs one load of the kind, one CAS/exchange and
// the depth update; every other kind goes out of line.
inline int MutexLock(pthread_mutex_t* mutex) {
  if (detail::MutexKind(mutex) != 0) [[unlikely]] return detail::MutexLockGeneric(mutex, {});
  detail::BeginAcquire();
  if (detail::TryTakeMutexWord(mutex)) [[likely]] return 0;
  return detail::MutexLockContendedNormal(mutex);
}

inline int MutexTrylock(pthread_mutex_t* mutex) {
  if (detail::MutexKind(mutex) != 0) [[unlikely]] return detail::MutexTrylockGeneric(mutex);
  detail::BeginAcquire();
  if (detail::TryTakeMutexWord(mutex)) [[likely]] return 0;
  detail::AbandonAcquire();
  return EBUSY;
}

inline int MutexUnlock(pthread_mutex_t* mutex) {
  if (detail::MutexKind(mutex) != 0) [[unlikely]] return detail::MutexUnlockGeneric(mutex);
  uint32_t previous = std::atomic_ref<uint32_t>(*detail::MutexStateWord(mutex))
                          .exchange(detail::kMutexFree, std::memory_order_release);
  if (previous == detail::kMutexFree) [[unlikely]] return EPERM;
  if (previous == detail::kMutexHeldWithWaiters) detail::MutexWakeOneWaiter(mutex);
  detail::FinishRelease();
  return 0;
}

}  // namespace respct::sync
