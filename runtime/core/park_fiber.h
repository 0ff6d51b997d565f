// The park fiber: a small per-thread stack (Boost.Context fcontext) onto which
// an application thread switches to park at a restart point or to sleep in a
// blocking operation.
//
// Why a fiber: switching to it pushes the thread's registers onto the
// thread's *own* stack and leaves them there, at a well-defined address
// (`fctx`), for as long as the thread is parked or blocked. A snapshot taken
// then holds a complete, resumable context inside the persisted stack; a new
// process resumes the thread by restoring that stack and jumping to `fctx`
// from a fresh fiber. The same mechanism serves every park: at a lock
// boundary, inside the stop-signal handler (the kernel's signal frame sits on
// the stack above `fctx` and rt_sigreturn restores the interrupted registers),
// and around blocking system calls and futex sleeps, which run on the fiber
// while the thread's stack stays frozen.
//
// Async-signal safety: SwitchToFiber and everything the fiber does (futex,
// atomics, errno) are async-signal-safe; the fiber's stack is mapped when the
// thread registers, never in a handler.
#pragma once

#include <cstdint>

#include "runtime/base/status.h"

namespace respct::core {

// What a thread asks its fiber to do.
struct FiberRequest {
  enum Op : uint32_t { kPark, kBlocking } op;
  uint32_t park_kind;           // ParkKind for kPark
  long (*fn)(void*) = nullptr;  // kBlocking: the blocking operation
  void* arg = nullptr;
  long result = 0;
  // kBlocking: a call a signal handler interrupts (pause, epoll_wait, ...).
  // When a program handler ran on the thread since the program made the call
  // (RestartPoint::InterruptibleBlocking), it is not made: `interrupted` is
  // set, as if the signal had come while the kernel had it.
  bool interruptible = false;
  bool interrupted = false;
};

// Token a recovery passes when it resumes a thread: the switch that parked it
// returns true, and a blocking operation is reported as interrupted.
inline constexpr uintptr_t kResumedAfterRecovery = 0x7265737063747231;  // "respctr1"

// Maps the fiber stack of the calling thread (once per thread).
Status PrepareParkFiber();
// Releases the calling thread's fiber stack (thread exit).
void ReleaseParkFiber();
// Switches to the fiber with `req`; returns true when the thread was resumed
// by a recovery instead of by its fiber finishing the request.
bool SwitchToFiber(FiberRequest* req);

// Recovery: switches the calling thread (prepared with PrepareParkFiber) to
// its fiber, runs `restore(arg)` there — the thread's own stack is free to be
// overwritten, none of its frames are live — then jumps to the context saved
// at `fctx`: the thread continues in the SwitchToFiber that parked it, which
// returns true, and the fiber goes on serving it like any park fiber.
[[noreturn]] void ResumeOnFiber(uint64_t fctx, void (*restore)(void*), void* arg);

}  // namespace respct::core
