#include "runtime/core/program_signals.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "runtime/core/current_thread.h"
#include "runtime/core/restart_point.h"
#include "runtime/core/runtime.h"
#include "runtime/core/thread_table.h"
#include "runtime/kernel/signals.h"
#include "runtime/sync/futex.h"

namespace respct::core {
namespace {

kernel::KernelStateHeader* Header() {
  kernel::KernelObjects* k = kernel::ActiveKernel();
  return k != nullptr ? k->table().header() : nullptr;
}

// A thread on its fiber while a round is in progress waits for the release.
void WaitOutCapture() {
  if (!t_current.on_fiber) return;
  while (RestartPoint::Requested()) {
    const uint32_t gen = round::g_generation.load(std::memory_order_acquire);
    if (!RestartPoint::Requested()) break;
    sync::detail::FutexWait(round::FutexWord(round::g_generation), gen, false);
  }
}

std::atomic<int> g_main_tid{0};
std::atomic<const ThreadSlot*> g_main_slot{nullptr};

// Signals a process receives as a whole (not faults of one thread, not
// SIGPIPE, which the kernel sends to the writing thread).
bool ProcessWide(int sig, const siginfo_t* info) {
  switch (sig) {
    case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGTRAP: case SIGSYS: case SIGPIPE:
      return false;
  }
  return info == nullptr || info->si_code != SI_TKILL;
}

// Passes a process-directed signal on to the program's main thread when the
// kernel gave it to another that main would have preceded. True: passed on.
bool PassToMain(int sig, siginfo_t* info) {
  const int main_tid = g_main_tid.load(std::memory_order_acquire);
  const ThreadSlot* main = g_main_slot.load(std::memory_order_acquire);
  if (main_tid == 0 || main == nullptr || !ProcessWide(sig, info)) return false;
  if (static_cast<int>(syscall(SYS_gettid)) == main_tid) return false;
  const uint32_t state = std::atomic_ref<const uint32_t>(main->state).load(std::memory_order_acquire);
  if (state == kSlotFree || state == kSlotExited) return false;
  if ((main->sigmask[(sig - 1) / 64] >> ((sig - 1) % 64)) & 1) return false;  // main blocks it: ours to run
  // The kernel lets a process queue a signal to itself only with a
  // user-queued code: a kill() arrives at main as a sigqueue(), with the
  // sender's pid and uid kept.
  siginfo_t copy = *info;
  if (copy.si_code >= 0 || copy.si_code == SI_TKILL) copy.si_code = SI_QUEUE;
  return syscall(SYS_rt_tgsigqueueinfo, getpid(), main_tid, sig, &copy) == 0;
}

}  // namespace

void BlockSignalsInRuntimeThread() {
  sigset_t all;
  sigfillset(&all);
  // Faults stay deliverable (blocking them does not stop the kernel anyway).
  for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) sigdelset(&all, s);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
}

void SetProgramMainThread(int tid, const void* slot) {
  g_main_slot.store(static_cast<const ThreadSlot*>(slot), std::memory_order_release);
  g_main_tid.store(tid, std::memory_order_release);
}

bool IsRuntimeSignal(int sig) {
  if (sig == RestartPoint::StopSignal()) return true;
  Runtime* rt = Runtime::Active();
  if (rt == nullptr) return false;
  for (int own : rt->own_signals())
    if (own == sig) return true;
  return false;
}

void StripRuntimeSignals(sigset_t* set) {
  if (set == nullptr) return;
  if (RestartPoint::StopSignal() > 0) sigdelset(set, RestartPoint::StopSignal());
  // The mprotect tracker's write faults: a thread with SIGSEGV blocked is
  // killed by its first write to a protected page (the kernel cannot hold a
  // fault pending), and liblzma's worker threads, for one, start with every
  // signal blocked. own_signals() is fixed before the program runs.
  if (Runtime* rt = Runtime::Active(); rt != nullptr)
    for (int own : rt->own_signals())
      if (own == SIGSEGV) sigdelset(set, SIGSEGV);
}

void ProgramSignalTrampoline(int sig, siginfo_t* info, void* ucontext) {
  const int saved_errno = errno;
  if (PassToMain(sig, info)) {
    errno = saved_errno;
    return;
  }
  WaitOutCapture();
  kernel::KernelStateHeader* h = Header();
  struct sigaction program {};
  if (h == nullptr || !kernel::ProgramDisposition(h, sig, &program)) return;
  if ((program.sa_flags & SA_RESETHAND) != 0) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    kernel::RecordDisposition(h, sig, dfl);
  }
  ++t_current.program_handler_depth;
  t_current.handler_ran = true;
  const bool unsafe = RestartPoint::EnterProgramHandler(static_cast<const ucontext_t*>(ucontext));
  errno = saved_errno;
  if ((program.sa_flags & SA_SIGINFO) != 0) {
    if (program.sa_sigaction != nullptr) program.sa_sigaction(sig, info, ucontext);
  } else if (program.sa_handler != SIG_DFL && program.sa_handler != SIG_IGN) {
    program.sa_handler(sig);
  }
  const int handler_errno = errno;
  RestartPoint::LeaveProgramHandler(unsafe);
  --t_current.program_handler_depth;
  errno = handler_errno;
}

int ProgramSigaction(int sig, const struct sigaction* act, struct sigaction* old,
                     int (*real)(int, const struct sigaction*, struct sigaction*)) {
  kernel::KernelStateHeader* h = Header();
  if (h == nullptr || sig <= 0 || sig >= kernel::kMaxSignals) return real(sig, act, old);
  struct sigaction before {};
  const bool recorded = kernel::ProgramDisposition(h, sig, &before);
  if (act == nullptr) {
    if (recorded) {
      if (old != nullptr) *old = before;
      return 0;
    }
    if (!IsRuntimeSignal(sig)) return real(sig, nullptr, old);
    if (old != nullptr) *old = {};
    return 0;
  }
  struct sigaction kernel_before {};
  if (!IsRuntimeSignal(sig)) {
    struct sigaction installed = *act;
    StripRuntimeSignals(&installed.sa_mask);
    const bool handler = (act->sa_flags & SA_SIGINFO) != 0
                             ? act->sa_sigaction != nullptr
                             : act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN;
    if (handler) {
      installed.sa_flags = (act->sa_flags | SA_SIGINFO) & ~SA_RESETHAND;
      installed.sa_sigaction = ProgramSignalTrampoline;
    }
    // Record first: a signal arriving right after the install finds the new handler.
    kernel::RecordDisposition(h, sig, *act);
    if (real(sig, &installed, &kernel_before) != 0) {
      const int err = errno;
      if (recorded) {
        kernel::RecordDisposition(h, sig, before);
      }
      errno = err;
      return -1;
    }
  } else {
    kernel::RecordDisposition(h, sig, *act);
  }
  if (old != nullptr) {
    if (recorded) {
      *old = before;
    } else if (IsRuntimeSignal(sig)) {
      *old = {};
    } else {
      *old = kernel_before;
    }
  }
  return 0;
}

}  // namespace respct::core
