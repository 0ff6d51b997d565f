// pthread_spinlock_t (a 4-byte int) reimplemented in place: 0 free, 1 held.
// (glibc's x86-64 spinlock is inverted — 1 free, decremented to lock — but
// POSIX has no static initialiser, so every valid spinlock passes through
// pthread_spin_init, which is ours.) Zero meaning free keeps a zero-filled
// spinlock and a snapshot of a free one valid. No futex, so process-shared
// needs nothing special.
//
// Lock is an acquire exchange; while the lock is busy the thread spins on
// plain loads with its depth lowered again, so a spinner is at depth 0 (and
// can be stopped for a checkpoint) until it actually takes the lock. Unlock is
// a release store (a plain mov on x86-64), like glibc, so unlocking a free
// spinlock is not detected (undefined behaviour per POSIX).
// None of these functions is async-signal-safe; all work before runtime init.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cerrno>

#include "runtime/sync/acquire.h"

namespace respct::sync {

int SpinInit(pthread_spinlock_t* lock, int process_shared);
int SpinDestroy(pthread_spinlock_t* lock);
inline int SpinLock(pthread_spinlock_t* lock);
inline int SpinTrylock(pthread_spinlock_t* lock);
inline int SpinUnlock(pthread_spinlock_t* lock);

namespace detail {

// pthread_spinlock_t is `volatile int`; the object is only ever accessed
// through these atomics, so dropping the qualifier loses nothing.
inline std::atomic_ref<int> SpinWord(pthread_spinlock_t* lock) {
  return std::atomic_ref<int>(const_cast<int&>(*lock));
}

int SpinLockContended(pthread_spinlock_t* lock);  // depth raised, exchange failed

}  // namespace detail

inline int SpinLock(pthread_spinlock_t* lock) {
  detail::BeginAcquire();
  if (detail::SpinWord(lock).exchange(1, std::memory_order_acquire) == 0) [[likely]] return 0;
  return detail::SpinLockContended(lock);
}

inline int SpinTrylock(pthread_spinlock_t* lock) {
  detail::BeginAcquire();
  if (detail::SpinWord(lock).exchange(1, std::memory_order_acquire) == 0) return 0;
  detail::AbandonAcquire();
  return EBUSY;
}

inline int SpinUnlock(pthread_spinlock_t* lock) {
  detail::SpinWord(lock).store(0, std::memory_order_release);
  detail::FinishRelease();
  return 0;
}

}  // namespace respct::sync
