// Depth bookkeeping shared by every lock kind.
//
// Invariant the epoch coordinator relies on: whenever a thread holds a lock,
// its depth is > 0, at every instruction boundary (its stop signal may land
// anywhere). Hence the depth is raised *before* the atomic that may take the
// lock and lowered *after* the atomic that releases it. The depth is read by
// a signal handler on the same thread, so a compiler fence
// (atomic_signal_fence) is what keeps the two in order: the acquire/release
// semantics of the lock atomic would let the plain TLS store move across it
// in one direction. No CPU fence is needed for same-thread signal delivery.
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/sync/futex.h"
#include "runtime/sync/lock_depth.h"
#include "runtime/sync/safepoint_hooks.h"

namespace respct::sync::detail {

inline void CompilerFence() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }

// Before any attempt to take a lock (blocking or try).
inline void BeginAcquire() noexcept {
  if (t_lock_depth == 0) AtRestartPoint();
  ++t_lock_depth;
  CompilerFence();
}

// After a failed try/timed attempt: the lock was never held.
inline void AbandonAcquire() noexcept {
  CompilerFence();
  --t_lock_depth;
}

// After the atomic that released one lock level.
inline void FinishRelease() noexcept {
  CompilerFence();
  if (--t_lock_depth == 0) AtRestartPoint();
}

// Every futex sleep of a lock, condvar or barrier: the runtime's hook runs it
// on the park fiber when installed, at any depth, so a sleeping thread never
// holds up a checkpoint (the image may show it holding other locks: they are
// in persisted memory and owner ids are thread slots, valid in a new process).
inline int BlockingFutexWait(uint32_t* word, uint32_t expected, bool process_shared, const Deadline& deadline) noexcept {
  if (BlockingWaitHook hook = g_blocking_wait_hook.load(std::memory_order_relaxed)) {
    return hook(word, expected, process_shared, deadline.abstime, deadline.clock);
  }
  return FutexWait(word, expected, process_shared, deadline);
}

// Sleeps on a futex in the middle of an acquisition. The lock being acquired
// is not held while sleeping, so it is uncounted for the duration.
inline int WaitDuringAcquire(uint32_t* word, uint32_t expected, bool process_shared,
                             const Deadline& deadline) noexcept {
  CompilerFence();
  --t_lock_depth;
  CompilerFence();
  const int result = BlockingFutexWait(word, expected, process_shared, deadline);
  CompilerFence();
  ++t_lock_depth;
  CompilerFence();
  return result;
}

// Sleeps on a futex where no lock is being acquired (cond, barrier).
inline int WaitOutsideAcquire(uint32_t* word, uint32_t expected, bool process_shared,
                              const Deadline& deadline = {}) noexcept {
  return BlockingFutexWait(word, expected, process_shared, deadline);
}

}  // namespace respct::sync::detail
