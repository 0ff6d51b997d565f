// Signal calls: dispositions go through the runtime's trampoline and are
// recorded (runtime/core/program_signals.h); masks never block the runtime's
// stop signal and are kept in the thread's slot for a recovery; the calls
// that wait for a signal are blocking calls (restart points).
//
// May run before init (everything forwards then) and in a signal handler
// (sigaction, sigprocmask, pthread_sigmask, sigsuspend, pause are
// async-signal-safe, and so is what is done here).
#include <signal.h>
#include <unistd.h>

#include "preload/export.h"
#include "preload/libc_next.h"
#include "runtime/core/current_thread.h"
#include "runtime/core/program_signals.h"
#include "runtime/core/restart_point.h"
#include "runtime/core/thread_table.h"
#include "runtime/kernel/signals.h"

using respct::core::RestartPoint;
using respct::core::StripRuntimeSignals;
using respct::preload::Next;

namespace {

Next<int (*)(int, const struct sigaction*, struct sigaction*)> next_sigaction("sigaction");
Next<int (*)(int, const sigset_t*, sigset_t*)> next_pthread_sigmask("pthread_sigmask");
Next<int (*)(int, const sigset_t*, sigset_t*)> next_sigprocmask("sigprocmask");
Next<int (*)(const sigset_t*)> next_sigsuspend("sigsuspend");
Next<int (*)()> next_pause("pause");
Next<int (*)(const sigset_t*, int*)> next_sigwait("sigwait");
Next<int (*)(const sigset_t*, siginfo_t*)> next_sigwaitinfo("sigwaitinfo");
Next<int (*)(const sigset_t*, siginfo_t*, const timespec*)> next_sigtimedwait("sigtimedwait");

// A wait a signal handler interrupts (RestartPoint::InterruptibleBlocking).
template <typename Call>
int Interrupted(Call&& call) {
  return RestartPoint::InterruptibleBlocking(static_cast<Call&&>(call), [] {
    errno = EINTR;
    return -1;
  });
}

bool ForProgram() { return respct::core::t_current.in_runtime == 0; }

// The program's mask request without the runtime's signals.
const sigset_t* Stripped(const sigset_t* set, sigset_t* copy) {
  if (set == nullptr || !ForProgram()) return set;
  *copy = *set;
  StripRuntimeSignals(copy);
  return copy;
}

// After a mask change: the slot keeps the thread's mask for a recovery.
void RememberMask(int how, const sigset_t* set) {
  respct::core::ThreadSlot* slot = respct::core::t_current.slot;
  if (slot == nullptr || set == nullptr || !ForProgram()) return;
  sigset_t cur;
  sigemptyset(&cur);
  respct::kernel::BitsToMask(slot->sigmask, &cur);
  if (how == SIG_SETMASK) {
    cur = *set;
  } else {
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sigismember(set, sig) != 1) continue;
      if (how == SIG_BLOCK) sigaddset(&cur, sig);
      if (how == SIG_UNBLOCK) sigdelset(&cur, sig);
    }
  }
  StripRuntimeSignals(&cur);
  respct::kernel::MaskToBits(cur, slot->sigmask);
}

}  // namespace

RESPCT_EXPORT int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  if (!ForProgram()) return next_sigaction.get()(sig, act, old);
  return respct::core::ProgramSigaction(sig, act, old, next_sigaction.get());
}

// glibc's signal() and its variants call sigaction inside libc, where no
// interposition sees them: they are redone here on top of sigaction.
RESPCT_EXPORT sighandler_t signal(int sig, sighandler_t handler) {
  struct sigaction act {}, old {};
  act.sa_handler = handler;
  sigemptyset(&act.sa_mask);
  sigaddset(&act.sa_mask, sig);
  act.sa_flags = SA_RESTART;  // BSD semantics, as glibc's signal()
  if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
  // sa_handler and sa_sigaction share storage: this is the old handler either way.
  return old.sa_handler;
}
RESPCT_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler) { return signal(sig, handler); }
RESPCT_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t handler) {
  struct sigaction act {}, old {};
  act.sa_handler = handler;
  sigemptyset(&act.sa_mask);
  act.sa_flags = SA_RESETHAND | SA_NODEFER;
  if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}
RESPCT_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler) { return __sysv_signal(sig, handler); }

RESPCT_EXPORT int pthread_sigmask(int how, const sigset_t* set, sigset_t* old) {
  sigset_t copy;
  const int r = next_pthread_sigmask.get()(how, Stripped(set, &copy), old);
  if (r == 0) RememberMask(how, set);
  return r;
}

RESPCT_EXPORT int sigprocmask(int how, const sigset_t* set, sigset_t* old) {
  sigset_t copy;
  const int r = next_sigprocmask.get()(how, Stripped(set, &copy), old);
  if (r == 0) RememberMask(how, set);
  return r;
}

RESPCT_EXPORT int sigsuspend(const sigset_t* mask) {
  sigset_t copy;
  const sigset_t* m = Stripped(mask, &copy);
  return Interrupted([&] { return next_sigsuspend.get()(m); });
}

RESPCT_EXPORT int pause() {
  return Interrupted([&] { return next_pause.get()(); });
}

RESPCT_EXPORT int sigwait(const sigset_t* set, int* sig) {
  sigset_t copy;
  const sigset_t* s = Stripped(set, &copy);
  return RestartPoint::Blocking([&] { return next_sigwait.get()(s, sig); });
}

RESPCT_EXPORT int sigwaitinfo(const sigset_t* set, siginfo_t* info) {
  sigset_t copy;
  const sigset_t* s = Stripped(set, &copy);
  RestartPoint::KernelWrites(info, info != nullptr ? sizeof *info : 0);
  return Interrupted([&] { return next_sigwaitinfo.get()(s, info); });
}

RESPCT_EXPORT int sigtimedwait(const sigset_t* set, siginfo_t* info, const timespec* timeout) {
  sigset_t copy;
  const sigset_t* s = Stripped(set, &copy);
  RestartPoint::KernelWrites(info, info != nullptr ? sizeof *info : 0);
  return Interrupted([&] { return next_sigtimedwait.get()(s, info, timeout); });
}
