// Raw futex calls and absolute deadlines for the lock implementations.
//
// The syscall is issued with RawSyscall rather than through syscall(3):
// pthread functions must not clobber errno (glibc's never do, and programs
// read errno after a failed read() with a mutex taken in between), and
// syscall(3) is interposed by the preload layer.
// Nothing here allocates or needs dlsym, so every lock works before the
// runtime is initialised.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <ctime>

#include "runtime/base/raw_syscall.h"

namespace respct::sync::detail {

inline long RawFutexSyscall(uint32_t* word, int op, uint32_t value,
                            const timespec* timeout, uint32_t value3) noexcept {
  // uaddr2 (the fifth argument) is unused by WAIT/WAKE.
  return RawSyscall(SYS_futex, reinterpret_cast<long>(word), op, static_cast<long>(value),
                    reinterpret_cast<long>(timeout), 0, static_cast<long>(value3));
}

// An optional absolute deadline on CLOCK_REALTIME or CLOCK_MONOTONIC (the only
// clocks the futex syscall can wait on, and the only ones glibc accepts).
struct Deadline {
  const timespec* abstime = nullptr;
  clockid_t clock = CLOCK_REALTIME;
};

inline bool IsSupportedClock(clockid_t clock) noexcept {
  return clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC;
}

// Checked only when the caller is about to block, as POSIX specifies for the
// timed lock functions: an uncontended timedlock succeeds whatever abstime is.
// A negative tv_sec is a deadline long past (glibc answers ETIMEDOUT too); the
// kernel would reject it with EINVAL, so it never reaches the syscall.
inline int CheckDeadlineBeforeBlocking(const Deadline& deadline) noexcept {
  if (deadline.abstime == nullptr) return 0;
  if (deadline.abstime->tv_nsec < 0 || deadline.abstime->tv_nsec >= 1'000'000'000) return EINVAL;
  if (deadline.abstime->tv_sec < 0) return ETIMEDOUT;
  return 0;
}

// Process-private futexes hash on (mm, address) and skip the page-reference
// lookup the shared kind needs; PTHREAD_PROCESS_SHARED objects may be mapped
// at different addresses in different processes, so they must use the shared
// kind, which hashes on the underlying page.
inline int FutexOp(int op, bool process_shared) noexcept {
  return process_shared ? op : (op | FUTEX_PRIVATE_FLAG);
}

// Sleeps while *word == expected. Returns 0 when woken (or spuriously),
// EAGAIN if *word already differed, EINTR on a signal, ETIMEDOUT at the
// deadline. Callers always re-check their condition, whatever the result.
inline int FutexWait(uint32_t* word, uint32_t expected, bool process_shared,
                     const Deadline& deadline = {}) noexcept {
  long result;
  if (deadline.abstime == nullptr) {
    result = RawFutexSyscall(word, FutexOp(FUTEX_WAIT, process_shared), expected, nullptr, 0);
  } else {
    // WAIT_BITSET takes an absolute time on the chosen clock, so a wait that
    // is interrupted and restarted never stretches the deadline.
    int op = FutexOp(FUTEX_WAIT_BITSET, process_shared);
    if (deadline.clock == CLOCK_REALTIME) op |= FUTEX_CLOCK_REALTIME;
    result = RawFutexSyscall(word, op, expected, deadline.abstime, FUTEX_BITSET_MATCH_ANY);
  }
  return result < 0 ? static_cast<int>(-result) : 0;
}

inline void FutexWake(uint32_t* word, int count, bool process_shared) noexcept {
  RawFutexSyscall(word, FutexOp(FUTEX_WAKE, process_shared), static_cast<uint32_t>(count), nullptr, 0);
}

inline void FutexWakeAll(uint32_t* word, bool process_shared) noexcept {
  FutexWake(word, INT_MAX, process_shared);
}

// Spin-wait hint: lets the sibling hyper-thread run and saves power.
inline void CpuRelax() noexcept { __builtin_ia32_pause(); }

}  // namespace respct::sync::detail
