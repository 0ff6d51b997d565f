// sem_wait, sem_timedwait and sem_clockwait on glibc's own sem_t, restart
// safe: only the futex sleep runs on the park fiber, the taking of a unit
// happens on the thread's stack.
//
// Why not libc's functions on the fiber, as the other blocking calls: a
// blocking call on the fiber is re-issued after a recovery, which is right
// only if it had no effect yet. libc's sem_wait takes its unit (decrements
// the value) inside the call; if it does so while a checkpoint counts the
// thread as blocked, the image holds the decremented value *and* a thread
// about to wait again — after a recovery that unit is gone and the waiter
// (CPython's threading.Lock is a semaphore) sleeps for ever.
//
// Layout (glibc >= 2.21 on 64-bit, struct new_sem, 32 bytes):
//   0  data     uint64: value in bits 0-31 (the futex word), waiters in 32-63
//   8  private  0 for a process-private semaphore, FUTEX_PRIVATE_FLAG (128)
//               for a process-shared one (glibc's LLL_PRIVATE / LLL_SHARED)
// libc's sem_post and sem_trywait keep working on it unchanged: post adds one
// to the value and wakes a waiter when the waiter count is non-zero, which
// every sleeper here keeps raised while it sleeps. An image taken while a
// thread sleeps holds its waiter count; resumed, it re-enters the sleep and
// lowers the count when it leaves, as before the crash.
//
// All of them return 0 or -1 with errno (EINTR when a signal interrupted the
// sleep, ETIMEDOUT, EINVAL for a bad deadline), as POSIX says. Not
// async-signal-safe (neither is sem_wait); work before runtime init.
#pragma once

#include <semaphore.h>
#include <time.h>

namespace respct::sync {

int SemWait(sem_t* sem);
int SemClockWait(sem_t* sem, clockid_t clock, const timespec* abstime);

}  // namespace respct::sync
