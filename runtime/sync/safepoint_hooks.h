// Hooks through which the runtime learns that a thread is at a restart point
// or is about to sleep. All default to null; a restart point costs one relaxed
// load of the request word (a plain mov on x86-64) and a call only while a
// checkpoint is being taken.
//
// checkpoint request  the epoch a checkpoint is being taken for, 0 when none.
//                 Written by the runtime's epoch coordinator, read inline at
//                 every restart point: the hook is called only when it is set.
// restart_point   called by a thread at depth 0 at a lock boundary (before a
//                 lock acquisition from depth 0, after a release that leaves
//                 depth 0, at pthread_cond_wait once its mutex is released, at
//                 pthread_barrier_wait), and inside a spin-wait loop at any
//                 depth (AtSpinWait). The runtime may park the thread inside
//                 the call and resume it there in a new process.
// blocking_wait   performs every futex sleep of a lock, condition variable or
//                 barrier, at any depth, in place of FutexWait and with its
//                 contract: the runtime runs the sleep on the thread's park
//                 fiber, so the thread counts as quiescent while it sleeps and
//                 has a resumable context. It may return EINTR without sleeping
//                 (a thread resumed in a new process); every caller re-checks
//                 its condition anyway.
//
// Hooks run on the application thread with no lock of ours held; they must
// not call back into a lock whose slow path is in progress on this thread
// (none is). All are async-signal-safe to call.
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
// The epoch a checkpoint is being taken for, 0: none (see EpochCoordinator).
inline constinit std::atomic<uint64_t> g_checkpoint_request{0};
}  // namespace detail

inline void InstallSafepointHooks(const SafepointHooks& hooks) noexcept {
  detail::g_restart_point_hook.store(hooks.restart_point, std::memory_order_relaxed);
  detail::g_blocking_wait_hook.store(hooks.blocking_wait, std::memory_order_relaxed);
}

inline bool CheckpointRequested() noexcept {
  return detail::g_checkpoint_request.load(std::memory_order_relaxed) != 0;
}

// The slow half of a restart point, out of line so the fast path stays one
// load and one branch.
[[gnu::noinline]] inline void CallRestartPointHook() noexcept {
  if (SafepointHook hook = detail::g_restart_point_hook.load(std::memory_order_relaxed)) hook();
}

inline void AtRestartPoint() noexcept {
  if (CheckpointRequested()) [[unlikely]] CallRestartPointHook();
}

// Inside a loop that spins until another thread lets it go: the thread it
// waits for may itself be parked by the checkpoint in progress, so the spinner
// must park too or the checkpoint could never complete.
inline void AtSpinWait() noexcept { AtRestartPoint(); }

}  // namespace respct::sync
