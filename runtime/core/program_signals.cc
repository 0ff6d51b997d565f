#include "runtime/core/program_signals.h"

#include <cerrno>

#include "runtime/core/current_thread.h"
#include "runtime/core/restart_point.h"
#include "runtime/core/runtime.h"
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

}  // namespace

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
}

void ProgramSignalTrampoline(int sig, siginfo_t* info, void* ucontext) {
  const int saved_errno = errno;
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
