// pthread_cond_t reimplemented inside the caller's 48-byte storage.
//
// Word layout (glibc's field names from bits/thread-shared-types.h, offsets):
//   16 __g_refs[0]  seq: futex word, bumped by every signal/broadcast that
//                   finds a waiter
//   20 __g_refs[1]  waiters: threads between registering and leaving a wait
//                   (bits 0-30) | kCondDestroying (bit 31)
//   36 __wrefs      flags: kCondMonotonic (condattr clock), kCondProcessShared
//   everything else stays zero.
// PTHREAD_COND_INITIALIZER is all zero: a CLOCK_REALTIME, process-private
// condvar with no waiters, which is exactly our free state.
//
// Algorithm (sequence-counter condvar): a waiter, still holding the mutex,
// registers in `waiters`, reads `seq`, releases the mutex and sleeps while seq
// is unchanged. Signal/broadcast return at once when `waiters` is zero, else
// bump `seq` and wake one / all sleepers. Both sides use seq_cst: either the
// signaller sees the registration, or the waiter's futex wait sees the new
// seq and returns immediately — no lost wake-up. Spurious wake-ups happen
// (several waiters may return for one signal); POSIX allows them, callers
// loop on their predicate, and this is also how a waiter restored from a
// checkpoint resumes: it re-enters its futex wait and may simply return.
// `waiters` may count a waiter that has already been woken but not yet left,
// which costs at most one unneeded FUTEX_WAKE.
//
// Snapshot: at depth 0 a waiter has released its mutex and is parked in the
// blocking hooks with `waiters` including it; its saved context resumes it
// inside that same wait, so the counts stay consistent in the new process.
//
// Destroy waits until every registered waiter has left the object (glibc
// does the same), so the common "last woken thread destroys the condvar"
// pattern is safe.
//
// Works with every mutex type of ours; a recursive mutex is released fully
// (all levels) for the wait and re-acquired with the same count.
// None of these functions is async-signal-safe; all work before runtime init.
#pragma once

#include <pthread.h>

#include <ctime>

namespace respct::sync {

int CondInit(pthread_cond_t* cond, const pthread_condattr_t* attr);
int CondDestroy(pthread_cond_t* cond);
int CondSignal(pthread_cond_t* cond);
int CondBroadcast(pthread_cond_t* cond);
int CondWait(pthread_cond_t* cond, pthread_mutex_t* mutex);
int CondTimedwait(pthread_cond_t* cond, pthread_mutex_t* mutex, const timespec* abstime);
int CondClockwait(pthread_cond_t* cond, pthread_mutex_t* mutex, clockid_t clock, const timespec* abstime);

}  // namespace respct::sync
