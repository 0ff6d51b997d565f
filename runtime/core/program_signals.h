// The program's signal handlers, run through one trampoline of the runtime's.
//
// sigaction and signal are interposed (preload/signal_calls.cc): the program's
// disposition is recorded in the kernel region (runtime/kernel/signals.h) and
// the kernel is given ProgramSignalTrampoline in its place, with the program's
// flags and mask. The trampoline
//   - holds a handler that lands on a thread parked or blocked on its fiber
//     while a checkpoint is being taken until the round ends: no program code
//     may run while the capture copies memory;
//   - tells the restart point whether the handler interrupted code where the
//     thread may not park (RestartPoint::EnterProgramHandler), so a handler
//     that interrupted, say, the heap's fast path and then calls write() does
//     not checkpoint a half-updated thread cache;
//   - calls the program's handler as it asked (SA_SIGINFO or not, SA_RESETHAND
//     honoured in the record).
// The runtime's own signals (the stop signal; SIGUSR2 with --stats; SIGSEGV
// under the mprotect tracker) keep the runtime's handler: the program's
// disposition for them is recorded and reported back, never installed.
// Masks the program sets (pthread_sigmask, sigprocmask, sigsuspend, the
// sigwait family, signalfd) never block or take the stop signal.
//
// Process-directed signals: the kernel prefers the thread-group leader, which
// natively is the program's main thread; under respct the leader is the
// process's first thread, waiting for main's (it and the runtime's own
// threads block every signal: BlockSignalsInRuntimeThread). A process-directed
// signal (kill, sigqueue, a timer, SIGCHLD — not a fault, not SIGPIPE, not
// tgkill) that reaches another program thread while the program's main thread
// does not block it is passed on to main with its siginfo, as natively (a
// server whose main thread waits in pause() for SIGTERM relies on it).
//
// The trampoline and the mask helpers are async-signal-safe.
#pragma once

#include <signal.h>

namespace respct::core {

void ProgramSignalTrampoline(int sig, siginfo_t* info, void* ucontext);

// The program's sigaction: records `act` (if given) and installs it through
// the trampoline, and reports the previous disposition as the program set
// it. `real` is libc's sigaction. Returns what sigaction returns.
int ProgramSigaction(int sig, const struct sigaction* act, struct sigaction* old,
                     int (*real)(int, const struct sigaction*, struct sigaction*));

// The calling thread (the process's first, or one of the runtime's) takes no
// signal meant for the program.
void BlockSignalsInRuntimeThread();
// The program's main thread, for passing process-directed signals on
// (its kernel tid and slot), set by the runtime when main's thread starts.
void SetProgramMainThread(int tid, const void* slot);

// Whether `sig`'s disposition is the runtime's.
bool IsRuntimeSignal(int sig);
// Removes the signals the program may not block or wait for from `set`: the
// stop signal, and SIGSEGV while the mprotect tracker takes write faults.
// Async-signal-safe.
void StripRuntimeSignals(sigset_t* set);

}  // namespace respct::core
