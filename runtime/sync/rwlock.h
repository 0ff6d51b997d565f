// pthread_rwlock_t reimplemented inside the caller's 56-byte storage.
//
// Word layout (glibc's field names from bits/struct_rwlock.h, byte offsets):
//   0  __readers         state: kRwlockWriter (bit 31) when write-locked, else
//                        the number of readers holding it (futex-free: the
//                        sleepers use the two sequence words below)
//   4  __writers         writers_queued: writers inside the slow path
//   8  __wrphase_futex   readers_seq: futex word readers sleep on
//   12 __writers_futex   writers_seq: futex word writers sleep on
//   16 __pad3            readers_queued: readers inside the slow path
//   24 __cur_writer      owner id of the writer (CurrentOwnerId(), not a tid)
//   28 __shared          1 if PTHREAD_PROCESS_SHARED
//   48 __flags           preference, as glibc: PTHREAD_RWLOCK_PREFER_READER_NP
//                        (0, default) and PREFER_WRITER_NP (1) prefer readers;
//                        PREFER_WRITER_NONRECURSIVE_NP (2) prefers writers
// glibc's static initialisers set only __flags, at the same offset, so
// PTHREAD_RWLOCK_INITIALIZER and PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP
// are valid free locks. A free lock has state 0 and owner 0; the queued counts
// are non-zero only while a thread is inside a lock call, and the sequence
// words are free-running, so a snapshot taken at depth 0 is valid anywhere.
//
// Algorithm: readers and writers take the lock with a CAS on state; a thread
// that must wait registers in its *_queued count, reads its *_seq word,
// re-checks state and sleeps on the sequence value. Whoever changes state in a
// way that may admit it bumps the sequence word and wakes (all readers, or one
// writer) if anyone is queued. All registration/state/sequence accesses on
// these paths are seq_cst, which makes the register-then-check versus
// change-then-check-queued pairs a Dekker handshake: either the waker sees the
// queued count or the waiter sees the new state/sequence, so no wake-up is
// lost. The fast paths are one acquire CAS (lock) and one seq_cst RMW (unlock).
//
// Writer preference (mode 2): a reader also waits while writers_queued != 0,
// so a stream of readers cannot starve a writer; such a reader holding a read
// lock and asking for another deadlocks behind a queued writer, which is what
// "nonrecursive" means in glibc. Reader preference (default) lets readers in
// whenever no writer holds the lock, like glibc.
//
// rdlock/wrlock by the thread holding the write lock return EDEADLK; unlock by
// a thread that is not the writer while write-locked returns EPERM.
// None of these functions is async-signal-safe; all work before runtime init.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <ctime>

#include "runtime/sync/acquire.h"
#include "runtime/sync/owner_id.h"

namespace respct::sync {

int RwlockInit(pthread_rwlock_t* rwlock, const pthread_rwlockattr_t* attr);
int RwlockDestroy(pthread_rwlock_t* rwlock);
inline int RwlockRdlock(pthread_rwlock_t* rwlock);
int RwlockTryrdlock(pthread_rwlock_t* rwlock);
int RwlockTimedrdlock(pthread_rwlock_t* rwlock, const timespec* abstime);
int RwlockClockrdlock(pthread_rwlock_t* rwlock, clockid_t clock, const timespec* abstime);
inline int RwlockWrlock(pthread_rwlock_t* rwlock);
int RwlockTrywrlock(pthread_rwlock_t* rwlock);
int RwlockTimedwrlock(pthread_rwlock_t* rwlock, const timespec* abstime);
int RwlockClockwrlock(pthread_rwlock_t* rwlock, clockid_t clock, const timespec* abstime);
inline int RwlockUnlock(pthread_rwlock_t* rwlock);

namespace detail {

inline constexpr uint32_t kRwlockWriter = 0x8000'0000u;
// Reader counts at or above this value refuse new readers (EAGAIN); being
// below kRwlockWriter it lets one unsigned compare test "not write-locked and
// not full" on the fast path.
inline constexpr uint32_t kRwlockMaxReaders = 0x4000'0000u;

using RwWord = std::atomic_ref<uint32_t>;

inline uint32_t* RwlockStateWord(pthread_rwlock_t* rw) { return &rw->__data.__readers; }
inline uint32_t* RwlockWritersQueuedWord(pthread_rwlock_t* rw) { return &rw->__data.__writers; }
inline uint32_t* RwlockReadersSeqWord(pthread_rwlock_t* rw) { return &rw->__data.__wrphase_futex; }
inline uint32_t* RwlockWritersSeqWord(pthread_rwlock_t* rw) { return &rw->__data.__writers_futex; }
inline uint32_t* RwlockReadersQueuedWord(pthread_rwlock_t* rw) { return &rw->__data.__pad3; }
inline uint32_t* RwlockWriterOwnerWord(pthread_rwlock_t* rw) { return reinterpret_cast<uint32_t*>(&rw->__data.__cur_writer); }
inline uint32_t* RwlockSharedWord(pthread_rwlock_t* rw) { return reinterpret_cast<uint32_t*>(&rw->__data.__shared); }
inline uint32_t* RwlockFlagsWord(pthread_rwlock_t* rw) { return &rw->__data.__flags; }

// Written only by init, before the lock is shared.
inline bool RwlockPrefersWriters(pthread_rwlock_t* rw) {
  return RwWord(*RwlockFlagsWord(rw)).load(std::memory_order_relaxed) ==
         PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP;
}

// A reader may enter: not write-locked, not full, and (when writers are
// preferred) no writer queued. A CAS lost to another reader retries, so
// tryrdlock never reports EBUSY for a lock that only readers hold.
inline bool TryTakeRead(pthread_rwlock_t* rw) {
  RwWord state(*RwlockStateWord(rw));
  uint32_t current = state.load(std::memory_order_relaxed);
  while (current < kRwlockMaxReaders) {
    if (RwlockPrefersWriters(rw) &&
        RwWord(*RwlockWritersQueuedWord(rw)).load(std::memory_order_seq_cst) != 0) {
      return false;
    }
    if (state.compare_exchange_weak(current, current + 1, std::memory_order_seq_cst,
                                    std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

inline bool TryTakeWrite(pthread_rwlock_t* rw) {
  uint32_t expected = 0;
  if (!RwWord(*RwlockStateWord(rw))
           .compare_exchange_strong(expected, kRwlockWriter, std::memory_order_seq_cst,
                                    std::memory_order_relaxed)) {
    return false;
  }
  RwWord(*RwlockWriterOwnerWord(rw)).store(CurrentOwnerId(), std::memory_order_relaxed);
  return true;
}

// Slow paths (rwlock.cc); depth already raised, first attempt failed.
int RwlockRdlockContended(pthread_rwlock_t* rw, const Deadline& deadline);
int RwlockWrlockContended(pthread_rwlock_t* rw, const Deadline& deadline);
void RwlockWakeAfterWriterRelease(pthread_rwlock_t* rw);
void RwlockWakeWriter(pthread_rwlock_t* rw);

}  // namespace detail

inline int RwlockRdlock(pthread_rwlock_t* rwlock) {
  detail::BeginAcquire();
  if (detail::TryTakeRead(rwlock)) [[likely]] return 0;
  return detail::RwlockRdlockContended(rwlock, {});
}

inline int RwlockWrlock(pthread_rwlock_t* rwlock) {
  detail::BeginAcquire();
  if (detail::TryTakeWrite(rwlock)) [[likely]] return 0;
  return detail::RwlockWrlockContended(rwlock, {});
}

// Fast paths: a reader release is one seq_cst RMW, a writer release one
// exchange; both then read the queued counts, and the exchange (rather than a
// plain store) keeps those loads from being satisfied before the release is
// visible (the store-load half of the Dekker handshake described above).
inline int RwlockUnlock(pthread_rwlock_t* rwlock) {
  detail::RwWord state(*detail::RwlockStateWord(rwlock));
  detail::RwWord writers_queued(*detail::RwlockWritersQueuedWord(rwlock));
  uint32_t current = state.load(std::memory_order_relaxed);
  if (current == detail::kRwlockWriter) {
    detail::RwWord owner(*detail::RwlockWriterOwnerWord(rwlock));
    if (owner.load(std::memory_order_relaxed) != CurrentOwnerId()) [[unlikely]] return EPERM;
    owner.store(0, std::memory_order_relaxed);
    state.exchange(0, std::memory_order_seq_cst);
    if ((writers_queued.load(std::memory_order_seq_cst) |
         detail::RwWord(*detail::RwlockReadersQueuedWord(rwlock)).load(std::memory_order_seq_cst)) != 0)
        [[unlikely]] {
      detail::RwlockWakeAfterWriterRelease(rwlock);
    }
  } else {
    if (current == 0) [[unlikely]] return EPERM;
    if (state.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
        writers_queued.load(std::memory_order_seq_cst) != 0) [[unlikely]] {
      detail::RwlockWakeWriter(rwlock);
    }
  }
  detail::FinishRelease();
  return 0;
}

}  // namespace respct::sync
