// RestartPoint: the thread side of a checkpoint (DESIGN §3, §9). Every way an
// application thread becomes quiescent goes through this module; the epoch
// coordinator (epoch_coordinator.h) only asks and counts.
//
//   Pass()          an interposed boundary: a lock taken or released at depth
//                   0, thread start, the entry of a blocking call. One relaxed
//                   load of the request word while no checkpoint is asked; the
//                   thread parks on its fiber while one is.
//   Blocking(call)  a call that may block in the kernel (read, accept,
//                   epoll_wait, ...), at any lock depth: it runs on the park
//                   fiber with the slot kBlocked, so the thread is quiescent for
//                   as long as the kernel has it, with a resumable context on
//                   its own stack. Resumed by a recovery, the call did not
//                   happen in this process and is issued again.
//   FutexSleep      the same for every futex sleep of runtime/sync (the
//                   sync layer's blocking_wait hook).
//   the stop signal a thread that reaches no boundary (computing, or inside a
//                   system call nobody interposed) is interrupted; the handler
//                   parks it where it stands when that point is resumable and
//                   refuses otherwise, recording why and where for the stall
//                   report (StopRefusal).
//
// Where a stopped thread may park, and why (ClassifyStop):
//   - program code and the code of libraries other than those below, at any
//     lock depth: every byte the thread depends on is persisted (its registers
//     in the signal frame on its persisted stack, its locks in persisted memory
//     with slot-number owners), so the image is simply the state a preemption
//     at that instruction would have left. Lock depth is not a condition:
//     servers keep a lock for their whole life (redis's module GIL).
//   - libc, only at a system-call boundary: the instruction is a `syscall`
//     (the kernel rewound an interrupted call to restart it — ERESTARTSYS with
//     SA_RESTART, restart_syscall — or the thread was about to enter one), or
//     the one just after a `syscall` that returned -EINTR. A blocked call
//     holds no half-made libc state a new process lacks, except where the
//     caller holds a libc-internal lock across it (stdio on a FILE living in
//     libc's data, the resolver): DESIGN §3 lists these limits. Elsewhere in
//     libc a thread may be half-way through state that is not persisted (libc's
//     own data re-initialises in a new process): refused, retried 1 ms later.
//   - never in ld.so, librespct, libgcc_s (their state is per process), on an
//     alternate signal stack (its frames are not on the persisted stack), on
//     the fiber or in runtime code, or in a program signal handler that
//     interrupted any of those (ProgramSignalDepth).
//
// Signal safety: Pass, Blocking, FutexSleep and the handler are
// async-signal-safe (atomics, futex, fiber switch). Install is not.
#pragma once

#include <signal.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <ctime>

#include "runtime/core/current_thread.h"
#include "runtime/core/park_fiber.h"
#include "runtime/core/round_words.h"
#include "runtime/core/thread_table.h"

namespace respct::core {

// Who owns the code at an address, for the stop signal's decision.
enum class CodeOwner : uint8_t {
  kProgram,   // the executable and every library not listed below
  kLibc,      // libc.so: parkable only at a system-call boundary
  kLoader,    // ld.so
  kShim,      // librespct.so
  kUnwinder,  // libgcc_s
};

class RestartPoint {
 public:
  // Before the first round: where slots live, and who owns code (null: all
  // code is the program's, as in unit tests).
  static void Install(ThreadRegistry* registry, CodeOwner (*code_owner)(uintptr_t pc), int stop_signal);
  static void Uninstall();

  static bool Requested() { return sync::CheckpointRequested(); }
  // The coordinator's stop signal, 0 before Install.
  static int StopSignal() { return g_stop_signal.load(std::memory_order_relaxed); }
  // The inline boundary check.
  static void Pass() {
    if (Requested()) [[unlikely]] Park(kParkRestartPoint);
  }
  // Parks the calling thread if a round is in progress and it may park here.
  static void Park(ParkKind kind);

  // Runs `call` as a blocking call (see above); returns its result.
  template <typename Call>
  static auto Blocking(Call&& call) -> decltype(call());
  // The same for a call a signal handler interrupts (pause, sigsuspend,
  // epoll_wait, poll, select, nanosleep, sigwait...): if a program handler
  // runs on the thread between the program's call and the kernel taking it —
  // a stretch the fiber switch widens, and in a recovered thread the time until
  // its re-issue — the call is not made and `interrupted()` is returned, as if
  // the signal had come during it. Natively the window is a few instructions;
  // a server whose main thread waits in pause() for SIGTERM would otherwise
  // sleep on with its flag set.
  template <typename Call, typename Interrupted>
  static auto InterruptibleBlocking(Call&& call, Interrupted&& interrupted) -> decltype(call());
  // The kernel is about to write [addr, addr+len) for the program (read(2)
  // into a buffer, ...): trackers that rely on user-space faults must open
  // those pages first (DirtyTracker::KernelWillWrite). The hook is installed by
  // the runtime once it tracks; before that this does nothing.
  static void KernelWrites(void* addr, size_t len) {
    if (void (*hook)(void*, size_t) = g_kernel_will_write.load(std::memory_order_acquire)) {
      hook(addr, len);
      NoteKernelWrite(addr, len);
    }
  }
  static void SetKernelWillWriteHook(void (*hook)(void*, size_t)) {
    g_kernel_will_write.store(hook, std::memory_order_release);
  }

  // Runs `req->fn` on the thread's fiber with the slot kBlocked. False when
  // the thread was resumed by a recovery instead (the operation did not
  // complete in this process: re-issue it or report a spurious wake-up).
  static bool RunOnFiber(FiberRequest* req);
  // sync's blocking_wait hook: FutexWait's contract; EINTR when resumed by a
  // recovery (callers re-check and retry).
  static int FutexSleep(uint32_t* word, uint32_t expected, bool process_shared, const timespec* abstime,
                        clockid_t clock);
  // Thread start: kStarting → kRunning, waiting while a round has it frozen.
  static void EnterRunning(ThreadSlot* slot);
  // Called on the fiber by park_fiber.cc.
  static void ServeOnFiber(FiberRequest* req);

  // The stop signal's handler (SA_SIGINFO).
  static void OnStopSignal(int sig, siginfo_t* info, void* ucontext);

  // Program signal handlers run through the shim's trampoline, which calls
  // these around them. A handler that interrupted code where the thread may
  // not park (ClassifyStop) must not park either, at any boundary it passes:
  // it would checkpoint, say, a half-updated heap cache.
  // Enter returns whether the handler counts as unsafe; pass that to Leave.
  static bool EnterProgramHandler(const ucontext_t* interrupted);
  static void LeaveProgramHandler(bool unsafe);

  // Whether the calling thread may park at a boundary now (application
  // thread, not in runtime code, not on its fiber, not inside a program signal
  // handler that interrupted unparkable code).
  static bool MayPark() {
    const CurrentThread& ct = t_current;
    return ct.slot != nullptr && ct.in_runtime == 0 && !ct.on_fiber && ct.unsafe_handler_depth == 0 &&
           OnOwnStack(ct);
  }

 private:
  // Widens the calling thread's pending kernel-write span (SlotControl).
  static void NoteKernelWrite(void* addr, size_t len);
  // The calling thread's pending kernel-write span, kept by Blocking in its
  // own frame (persisted on the thread's stack), and its re-announcement
  // when the slot no longer has it: the thread was resumed by a recovery in
  // a process whose tracker was never told, and the call is about to be
  // (re-)issued. Nothing in the common case (the slot still has it).
  struct KernelWriteSpan {
    uint64_t lo = 0, hi = 0;
  };
  static KernelWriteSpan PendingKernelWrite();
  static void RestoreKernelWrite(const KernelWriteSpan& span);
  static void ClearKernelWrites();
  // Blocking and InterruptibleBlocking: runs `call` on the fiber (directly
  // where the thread may not park) into *result, which lives in the caller's
  // frame on the persisted stack, re-issuing it after a recovery. True when
  // `interruptible` and a program handler ran before the kernel took the call
  // (it was not made).
  template <typename Call, typename R>
  static bool RunBlocking(Call& call, R* result, bool interruptible);
  static inline constinit std::atomic<void (*)(void*, size_t)> g_kernel_will_write{nullptr};
  static inline constinit std::atomic<int> g_stop_signal{0};
  // Not on an alternate signal stack: a context saved now must lie on the
  // thread's persisted stack.
  static bool OnOwnStack(const CurrentThread& ct) {
    const auto sp = reinterpret_cast<uint64_t>(__builtin_frame_address(0));
    return sp >= ct.slot->stack_lo && sp < ct.slot->stack_hi;
  }
};

// Why a stop signal did not park its thread (SlotControl::refusal).
enum StopRefusal : uint32_t {
  kRefusalNone = 0,
  kRefusalInRuntime,     // running respct code (a short stretch)
  kRefusalOnFiber,       // switching to or from its fiber
  kRefusalInLibc,        // inside libc, not at a system-call boundary
  kRefusalInLoader,      // inside ld.so (dlopen, symbol binding)
  kRefusalInShim,        // inside librespct's interposed code
  kRefusalInUnwinder,    // inside libgcc_s (exception unwinding)
  kRefusalOnAltStack,    // on an alternate signal stack
  kRefusalUnsafeHandler, // in a program signal handler that interrupted one of the above
  kRefusalUnparkableCall,// in a libc call marked UnparkableScope (setuid family)
};
const char* StopRefusalName(uint32_t refusal);

// ---- implementation ----

template <typename Call, typename R>
bool RestartPoint::RunBlocking(Call& call, R* result, bool interruptible) {
  if (!MayPark()) {
    *result = call();
    ClearKernelWrites();
    return false;
  }
  if (interruptible) t_current.handler_ran = false;
  const KernelWriteSpan span = PendingKernelWrite();
  Pass();
  RestoreKernelWrite(span);
  struct Frame {
    Call* call;
    R* result;
  } frame{&call, result};
  FiberRequest req{FiberRequest::kBlocking, 0,
                   [](void* p) -> long {
                     auto* f = static_cast<Frame*>(p);
                     *f->result = (*f->call)();
                     return 0;
                   },
                   &frame};
  req.interruptible = interruptible;
  while (!RunOnFiber(&req)) {
    req.interrupted = false;
    RestoreKernelWrite(span);
  }
  ClearKernelWrites();
  return req.interrupted;
}

template <typename Call>
auto RestartPoint::Blocking(Call&& call) -> decltype(call()) {
  decltype(call()) result{};
  RunBlocking(call, &result, /*interruptible=*/false);
  return result;
}

template <typename Call, typename Interrupted>
auto RestartPoint::InterruptibleBlocking(Call&& call, Interrupted&& interrupted) -> decltype(call()) {
  decltype(call()) result{};
  if (RunBlocking(call, &result, /*interruptible=*/true)) return interrupted();
  return result;
}

}  // namespace respct::core
