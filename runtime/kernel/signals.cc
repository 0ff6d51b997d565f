#include "runtime/kernel/signals.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace respct::kernel {

void MaskToBits(const sigset_t& set, uint64_t bits[2]) {
  bits[0] = bits[1] = 0;
  for (int sig = 1; sig <= 128 && sig < NSIG; ++sig)
    if (sigismember(&set, sig) == 1) bits[(sig - 1) / 64] |= uint64_t{1} << ((sig - 1) % 64);
}

void BitsToMask(const uint64_t bits[2], sigset_t* set) {
  sigemptyset(set);
  for (int sig = 1; sig <= 128 && sig < NSIG; ++sig)
    if ((bits[(sig - 1) / 64] >> ((sig - 1) % 64)) & 1) sigaddset(set, sig);
}

void RecordDisposition(KernelStateHeader* k, int sig, const struct sigaction& act) {
  if (sig <= 0 || sig >= kMaxSignals) return;
  SignalDisposition& d = k->signals[sig];
  d.handler = (act.sa_flags & SA_SIGINFO) != 0 ? reinterpret_cast<uint64_t>(act.sa_sigaction)
                                               : reinterpret_cast<uint64_t>(act.sa_handler);
  d.flags = static_cast<uint64_t>(act.sa_flags);
  MaskToBits(act.sa_mask, d.mask);
  __atomic_store_n(&d.recorded, 1, __ATOMIC_RELEASE);
}

bool ProgramDisposition(const KernelStateHeader* k, int sig, struct sigaction* out) {
  if (sig <= 0 || sig >= kMaxSignals) return false;
  const SignalDisposition& d = k->signals[sig];
  if (__atomic_load_n(&d.recorded, __ATOMIC_ACQUIRE) == 0) return false;
  std::memset(out, 0, sizeof *out);
  out->sa_flags = static_cast<int>(d.flags);
  if ((d.flags & SA_SIGINFO) != 0) {
    out->sa_sigaction = reinterpret_cast<void (*)(int, siginfo_t*, void*)>(d.handler);
  } else {
    out->sa_handler = reinterpret_cast<void (*)(int)>(d.handler);
  }
  BitsToMask(d.mask, &out->sa_mask);
  return true;
}

void RecordItimer(KernelStateHeader* k, int which, const itimerval& value) {
  if (which < 0 || which > 2) return;
  const bool armed = value.it_value.tv_sec != 0 || value.it_value.tv_usec != 0;
  if (armed) {
    __atomic_fetch_or(&k->itimers_armed, 1u << which, __ATOMIC_RELAXED);
  } else {
    __atomic_fetch_and(&k->itimers_armed, ~(1u << which), __ATOMIC_RELAXED);
    k->itimers[which] = TimerValue{0, 0};
  }
}

void CaptureItimers(KernelStateHeader* k) {
  const uint32_t armed = __atomic_load_n(&k->itimers_armed, __ATOMIC_RELAXED);
  for (int w = 0; w < 3; ++w) {
    if ((armed & (1u << w)) == 0) continue;
    itimerval v{};
    if (getitimer(w, &v) != 0) continue;
    k->itimers[w].value_ns = int64_t{v.it_value.tv_sec} * 1'000'000'000 + v.it_value.tv_usec * 1000;
    k->itimers[w].interval_ns = int64_t{v.it_interval.tv_sec} * 1'000'000'000 + v.it_interval.tv_usec * 1000;
  }
}

Status RecreateSignals(const KernelStateHeader* k, void (*trampoline)(int, siginfo_t*, void*), const int* own,
                       int own_count, SignalsRecreated* done) {
  for (int sig = 1; sig < kMaxSignals; ++sig) {
    bool is_own = sig == SIGKILL || sig == SIGSTOP;
    for (int i = 0; i < own_count; ++i) is_own |= own[i] == sig;
    struct sigaction program {};
    if (is_own || !ProgramDisposition(k, sig, &program)) continue;
    struct sigaction act = program;
    const uint64_t h = k->signals[sig].handler;
    if (h == reinterpret_cast<uint64_t>(SIG_IGN)) {
      ++done->ignored;
    } else if (h != reinterpret_cast<uint64_t>(SIG_DFL)) {
      act.sa_flags |= SA_SIGINFO;
      act.sa_sigaction = trampoline;
      ++done->handlers;
    }
    if (sigaction(sig, &act, nullptr) != 0)
      return Status::FromErrno("sigaction(" + std::to_string(sig) + ")", errno);
  }
  for (int w = 0; w < 3; ++w) {
    if ((k->itimers_armed & (1u << w)) == 0 || k->itimers[w].value_ns == 0) continue;
    itimerval v{};
    v.it_value.tv_sec = k->itimers[w].value_ns / 1'000'000'000;
    v.it_value.tv_usec = (k->itimers[w].value_ns % 1'000'000'000) / 1000;
    if (v.it_value.tv_sec == 0 && v.it_value.tv_usec == 0) v.it_value.tv_usec = 1;
    v.it_interval.tv_sec = k->itimers[w].interval_ns / 1'000'000'000;
    v.it_interval.tv_usec = (k->itimers[w].interval_ns % 1'000'000'000) / 1000;
    if (setitimer(w, &v, nullptr) != 0) return Status::FromErrno("setitimer", errno);
    ++done->timers;
  }
  return Status::OK();
}

}  // namespace respct::kernel
