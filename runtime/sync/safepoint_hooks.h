// Hooks through which the runtime learns that a thread is at a restart point
// or is about to sleep at depth 0. All default to null, and a null hook costs
// one predictable branch on a relaxed load (a plain mov on x86-64).
//
// restart_point   called by a thread at depth 0 at a lock boundary: before a
//                 lock acquisition from depth 0, after a release that leaves
//                 depth 0, at pthread_cond_wait (once its mutex is released)
//                 and at pthread_barrier_wait. The runtime may park the thread
//                 inside the call and resume it there in a new process.
// blocking_begin  called just before a futex sleep at depth 0 (contended mutex
// blocking_end    or rwlock acquisition from depth 0, cond wait, barrier wait)
//                 and just after it, always in pairs: the pair's end hook is
//                 loaded together with its begin hook, so installing hooks
//                 while threads sleep never yields an unmatched end.
//
// Hooks run on the application thread with no lock of ours held and depth 0;
// they must not call back into a lock whose slow path is in progress on this
// thread (none is).
#pragma once

#include <atomic>

namespace respct::sync {

using SafepointHook = void (*)();

struct SafepointHooks {
  SafepointHook restart_point = nullptr;
  SafepointHook blocking_begin = nullptr;
  SafepointHook blocking_end = nullptr;
};

namespace detail {
// Relaxed is enough: a hook is a self-contained function pointer; the runtime
// installs hooks before it relies on them being called.
inline constinit std::atomic<SafepointHook> g_restart_point_hook{nullptr};
inline constinit std::atomic<SafepointHook> g_blocking_begin_hook{nullptr};
inline constinit std::atomic<SafepointHook> g_blocking_end_hook{nullptr};
}  // namespace detail

inline void InstallSafepointHooks(const SafepointHooks& hooks) noexcept {
  detail::g_restart_point_hook.store(hooks.restart_point, std::memory_order_relaxed);
  detail::g_blocking_begin_hook.store(hooks.blocking_begin, std::memory_order_relaxed);
  detail::g_blocking_end_hook.store(hooks.blocking_end, std::memory_order_relaxed);
}

inline void AtRestartPoint() noexcept {
  if (SafepointHook hook = detail::g_restart_point_hook.load(std::memory_order_relaxed)) [[unlikely]] {
    hook();
  }
}

// Brackets one futex sleep at depth 0.
class BlockingScope {
 public:
  BlockingScope() noexcept
      : end_(detail::g_blocking_end_hook.load(std::memory_order_relaxed)) {
    SafepointHook begin = detail::g_blocking_begin_hook.load(std::memory_order_relaxed);
    if (begin == nullptr) {
      end_ = nullptr;
    } else {
      begin();
    }
  }
  ~BlockingScope() {
    if (end_ != nullptr) end_();
  }
  BlockingScope(const BlockingScope&) = delete;
  BlockingScope& operator=(const BlockingScope&) = delete;

 private:
  SafepointHook end_;
};

}  // namespace respct::sync
