// pthread_barrier_t reimplemented inside the caller's 32-byte storage. The
// type has no named fields and no static initialiser, so the storage is
// viewed as five 32-bit words (byte offsets):
//   0  required  thread count given to init
//   4  arrived   threads that have arrived in the current round
//   8  round     futex word, bumped when a round completes (free-running)
//   12 leaving   woken waiters that have not yet stopped touching the object
//                (bits 0-30) | kBarrierDestroying (bit 31)
//   16 flags     kBarrierProcessShared
//
// Wait: read the round, count the arrival (acq_rel: the arrivals form one
// release sequence, so the last arriver has seen every thread's writes), and
// either complete the round — reset `arrived`, bump `round` (release), wake
// all, return PTHREAD_BARRIER_SERIAL_THREAD — or sleep until `round` moves.
// The round cannot complete between reading it and arriving, since it needs
// this thread's arrival; the reset of `arrived` precedes the bump, so the
// next round's arrivals (which follow the bump) start from zero.
//
// Snapshot: threads sleeping in the barrier at depth 0 are parked in the
// blocking hooks with `arrived` counting them and their saved round value on
// their stacks; resumed in a new process they re-enter the same wait.
//
// Destroy returns EBUSY while threads are waiting in the current round and
// otherwise waits until the previous round's waiters have left the object.
// None of these functions is async-signal-safe; all work before runtime init.
#pragma once

#include <pthread.h>

namespace respct::sync {

int BarrierInit(pthread_barrier_t* barrier, const pthread_barrierattr_t* attr, unsigned count);
int BarrierDestroy(pthread_barrier_t* barrier);
int BarrierWait(pthread_barrier_t* barrier);

}  // namespace respct::sync
