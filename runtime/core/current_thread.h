// The runtime's per-thread state, in static TLS (initial-exec: librespct.so
// is preloaded, so its TLS is allocated with the executable's and reaching it
// is one %fs-relative load, safe in a signal handler).
//
// This state is per process and is never persisted: a recovered thread gets
// it rebuilt by the recovery trampoline.
#pragma once

#include <cstdint>

namespace respct::core {

struct ThreadSlot;

struct CurrentThread {
  ThreadSlot* slot = nullptr;  // null: not an application thread respct manages
  uint32_t index = 0;          // slot index
  // > 0 while runtime code runs on this thread (allocation routed to the
  // internal allocator, never parked). Runtime-owned threads keep it > 0.
  uint32_t in_runtime = 0;
  bool on_fiber = false;       // executing on the park fiber (parked or blocked)
  // Program signal handlers running on this thread that interrupted code
  // where it may not park (RestartPoint::EnterProgramHandler).
  uint32_t unsafe_handler_depth = 0;
  // > 0 while the thread is inside a libc call that cannot be resumed from
  // its middle although it makes system calls (UnparkableScope).
  uint32_t unparkable_depth = 0;
  // Program signal handlers running on this thread, unsafe or not.
  uint32_t program_handler_depth = 0;
  // A program handler ran on this thread since it entered its current
  // interruptible blocking call (see FiberRequest::interruptible).
  bool handler_ran = false;
  void* fiber = nullptr;       // Boost fcontext of the park fiber's continuation
  void* fiber_stack = nullptr; // its mapping (internal memory)
};

inline constinit thread_local CurrentThread t_current __attribute__((tls_model("initial-exec")));

// Marks a stretch of runtime code on an application thread.
class RuntimeScope {
 public:
  RuntimeScope() { ++t_current.in_runtime; }
  ~RuntimeScope() { --t_current.in_runtime; }
  RuntimeScope(const RuntimeScope&) = delete;
  RuntimeScope& operator=(const RuntimeScope&) = delete;
};

// Marks a libc call during which the thread must not park: one whose state
// spans its system calls and lives where a recovery does not restore it (the
// setuid family: preload/process_calls.cc). A checkpoint waits for the call to
// end, or is abandoned at its bound. Async-signal-safe.
class UnparkableScope {
 public:
  UnparkableScope() { ++t_current.unparkable_depth; }
  ~UnparkableScope() { --t_current.unparkable_depth; }
  UnparkableScope(const UnparkableScope&) = delete;
  UnparkableScope& operator=(const UnparkableScope&) = delete;
};

}  // namespace respct::core
