// syscall(2), for the one call the shim must see through it: futex
// operations without FUTEX_PRIVATE_FLAG. The kernel refuses a shared futex
// on an anonymous page mapped read-only with EFAULT (get_futex_key: "a RO
// anonymous page will never change"), and the mprotect tracker keeps the
// clean pages of persisted memory read-only. libstdc++'s atomic waits
// (std::barrier, std::latch, atomic<T>::wait) call
// syscall(SYS_futex, FUTEX_WAIT) on words in the program's globals, so under
// that tracker std::barrier threw std::system_error "Bad address" about one
// run in two (the waker's FUTEX_WAKE fails the same way, silently).
//
// Such a call is made as a blocking call whose futex words the kernel
// writes (RestartPoint::KernelWrites): the tracker opens them first and keeps
// them open while the call is pending, also across an epoch. A recovered
// thread re-issues it: a futex wait may wake spuriously and a wake may wake
// more than asked, so both callers already cope. Every other system call
// goes straight to the kernel.
//
// May run before init: yes (the kernel path). In a signal handler: yes
// (Blocking calls it directly where the thread may not park).
#include <errno.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <sys/syscall.h>

#include "preload/export.h"
#include "runtime/base/raw_syscall.h"
#include "runtime/core/restart_point.h"

namespace {

// The system call as glibc's syscall() makes it (its symbol is ours now):
// -1 and errno on failure.
long KernelSyscall(long number, const long (&a)[6]) {
  const long r = respct::RawSyscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
  if (r < 0 && r > -4096) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return r;
}

// Whether a futex operation also works on its second word (uaddr2).
bool UsesSecondWord(int op) {
  switch (op) {
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE:
    case FUTEX_WAKE_OP:
    case FUTEX_CMP_REQUEUE_PI:
    case FUTEX_WAIT_REQUEUE_PI:
      return true;
    default:
      return false;
  }
}

}  // namespace

RESPCT_EXPORT long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (long& arg : a) arg = va_arg(ap, long);
  va_end(ap);
  if (number != SYS_futex || (a[1] & FUTEX_PRIVATE_FLAG) != 0) return KernelSyscall(number, a);
  using respct::core::RestartPoint;
  RestartPoint::KernelWrites(reinterpret_cast<void*>(a[0]), sizeof(uint32_t));
  if (UsesSecondWord(static_cast<int>(a[1] & FUTEX_CMD_MASK)))
    RestartPoint::KernelWrites(reinterpret_cast<void*>(a[4]), sizeof(uint32_t));
  return RestartPoint::Blocking([&] { return KernelSyscall(number, a); });
}
