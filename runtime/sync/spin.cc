#include "runtime/sync/spin.h"

namespace respct::sync {
namespace detail {

int SpinLockContended(pthread_spinlock_t* lock) {
  std::atomic_ref<int> word = SpinWord(lock);
  for (;;) {
    AbandonAcquire();
    while (word.load(std::memory_order_relaxed) != 0) {
      CpuRelax();
      AtSpinWait();
    }
    CompilerFence();
    ++t_lock_depth;
    CompilerFence();
    if (word.exchange(1, std::memory_order_acquire) == 0) return 0;
  }
}

}  // namespace detail

// A spinlock never sleeps on a futex, so process-shared ones need nothing
// different.
int SpinInit(pthread_spinlock_t* lock, [[maybe_unused]] int process_shared) {
  detail::SpinWord(lock).store(0, std::memory_order_relaxed);
  return 0;
}

// A spinlock holds no resources.
int SpinDestroy([[maybe_unused]] pthread_spinlock_t* lock) { return 0; }

}  // namespace respct::sync
