// Hooks through which the runtime learns that a thread is at a restart point
// or is about to sleep at depth 0. All default to null, and a null hook costs
// one predictable branch on a relaxed load (a plain mov on x86-64).
//
// restart_point   called by a thread at depth 0 at a lock boundary: before a
//                 lock acquisition from depth 0, after a release that leaves
//                 depth 0, at pthread_cond_wait (once its mutex is released)
//                 and at pthread_barrier_wait. The runtime may park the thread
//                 inside the call and resume it there in a new process.
// blocking_wait   performs a futex sleep at depth 0 (contended mutex or rwlock
//                 acquisition from depth 0, cond wait, barrier wait) in place
//                 of FutexWait, with FutexWait's contract: the runtime runs
//                 the sleep on the thread's park fiber, so the thread counts
//                 as quiescent while it sleeps and has a resumable context.
//                 It may return EINTR without sleeping (a thread resumed in a
//                 new process); every caller re-checks its condition anyway.
//
// Hooks run on the application thread with no lock of ours held and depth 0;
// they must not call back into a lock whose slow path is in progress on this
// thread (none is).
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>

namespace respct::sync {

using SafepointHook = void (*)();
using BlockingWaitHook = int (*)(uint32_t* word, uint32_t expected, bool process_shared, const timespec* abstime,
                                 clockid_t clock);

struct SafepointHooks {
  SafepointHook restart_point = nullptr;
  BlockingWaitHook blocking_wait = nullptr;
};

namespace detail {
// Relaxed is enough: a hook is a self-contained function pointer; the runtime
// installs hooks before it relies on them being called.
inline constinit std::atomic<SafepointHook> g_restart_point_hook{nullptr};
inline constinit std::atomic<BlockingWaitHook> g_blocking_wait_hook{nullptr};
}  // namespace detail

inline void InstallSafepointHooks(const SafepointHooks& hooks) noexcept {
  detail::g_restart_point_hook.store(hooks.restart_point, std::memory_order_relaxed);
  detail::g_blocking_wait_hook.store(hooks.blocking_wait, std::memory_order_relaxed);
}

inline void AtRestartPoint() noexcept {
  if (SafepointHook hook = detail::g_restart_point_hook.load(std::memory_order_relaxed)) [[unlikely]] {
    hook();
  }
}

}  // namespace respct::sync
