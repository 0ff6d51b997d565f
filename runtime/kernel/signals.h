// Signal dispositions and interval timers (process attributes the program
// changes with sigaction/signal and setitimer/alarm).
//
// Record: the interposed sigaction and signal store the program's
//   disposition (handler, flags, mask) in the kernel region; the kernel gets
//   the runtime's trampoline in its place (core/program_signals.h), which finds
//   the program's handler here. setitimer/alarm note which timers are armed.
// Capture: the armed interval timers' remaining time and interval (getitimer:
//   three calls at most, only for armed timers).
// Recreate: every disposition the program set is installed again through the
//   trampoline (SIG_IGN of SIGPIPE included), and the armed timers with the
//   time that remained at the epoch. Per-thread signal masks are in each
//   thread's slot (core/thread_table.h).
//
// Lookup is async-signal-safe (the trampoline reads it); recording is too (a
// handler may call sigaction), as plain stores of one entry.
#pragma once

#include <signal.h>
#include <sys/time.h>

#include <cstdint>

#include "runtime/base/status.h"
#include "runtime/kernel/kernel_state.h"

namespace respct::kernel {

void RecordDisposition(KernelStateHeader* k, int sig, const struct sigaction& act);
// The program's view of `sig`'s disposition; false when it never set one.
bool ProgramDisposition(const KernelStateHeader* k, int sig, struct sigaction* out);
void RecordItimer(KernelStateHeader* k, int which, const itimerval& value);
void CaptureItimers(KernelStateHeader* k);

struct SignalsRecreated {
  int handlers = 0;  // dispositions to a program handler
  int ignored = 0;   // SIG_IGN
  int timers = 0;    // interval timers armed again
};
// Installs the recorded dispositions, each handler through `trampoline`
// (SA_SIGINFO added, the program's flags kept), skipping `own` signals (the
// runtime's, whose disposition it keeps).
Status RecreateSignals(const KernelStateHeader* k, void (*trampoline)(int, siginfo_t*, void*), const int* own,
                       int own_count, SignalsRecreated* done);

// Mask conversions for the 128-bit masks the region keeps.
void MaskToBits(const sigset_t& set, uint64_t bits[2]);
void BitsToMask(const uint64_t bits[2], sigset_t* set);

}  // namespace respct::kernel
