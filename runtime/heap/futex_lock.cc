#include "runtime/heap/futex_lock.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace respct::heap {

namespace {

// The heap region is MAP_PRIVATE, so waiters are always in this process and
// the cheaper private futex hash applies.
void FutexWait(uint32_t* addr, uint32_t expected) {
  syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}

void FutexWake(uint32_t* addr, int count) {
  syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
}

constexpr int kSpinBeforeSleep = 100;

}  // namespace

void FutexLock::LockContended() {
  for (int i = 0; i < kSpinBeforeSleep; ++i) {
    uint32_t expected = 0;
    if (word().load(std::memory_order_relaxed) == 0 &&
        word().compare_exchange_weak(expected, 1, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      return;
    }
    __builtin_ia32_pause();
  }
  // Mark "waiters present" before sleeping so the holder's Unlock wakes us.
  while (word().exchange(2, std::memory_order_acquire) != 0) FutexWait(&word_, 2);
}

void FutexLock::WakeOne() { FutexWake(&word_, 1); }

}  // namespace respct::heap
