// Per-thread lock depth: how many application locks this thread holds.
//
// A thread at depth 0 is at a potential restart point: nothing it could be
// interrupted in the middle of is visible to other threads through a lock, so
// a snapshot taken there is consistent for it. The epoch coordinator's stop
// signal reads the depth from a signal handler on the same thread, which is
// why it is a plain thread_local (no atomics needed within one thread) and
// every update is fenced against compiler reordering with the lock word's
// atomic (see acquire.h).
//
// Counting rule: every successful lock call adds 1 and every successful unlock
// subtracts 1, for mutexes (each recursive level counts), rwlocks (read or
// write) and spinlocks. So depth == (locks taken) - (locks released) with no
// per-kind exceptions; pthread_cond_wait subtracts the levels it releases and
// adds them back when it has reacquired the mutex.
//
// initial-exec TLS: a single %fs-relative access with no __tls_get_addr call,
// valid because librespct.so is preloaded (its TLS is in the static block).
#pragma once

#include <cstdint>

namespace respct::sync {
namespace detail {
inline constinit thread_local uint32_t t_lock_depth __attribute__((tls_model("initial-exec"))) = 0;
}  // namespace detail

inline uint32_t LockDepth() noexcept { return detail::t_lock_depth; }

// For the runtime when it recreates a thread from its saved context (always
// taken at depth 0, but the thread table records the value).
inline void SetLockDepth(uint32_t depth) noexcept { detail::t_lock_depth = depth; }

}  // namespace respct::sync
