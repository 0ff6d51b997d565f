#include "runtime/sync/semaphore.h"

#include <errno.h>

#include <atomic>
#include <cstdint>

#include "runtime/sync/acquire.h"
#include "runtime/sync/futex.h"

namespace respct::sync {
namespace {

constexpr uint64_t kWaiterUnit = uint64_t{1} << 32;

struct SemWords {
  uint64_t data;
  int private_flag;
};
static_assert(sizeof(SemWords) <= sizeof(sem_t));

std::atomic_ref<uint64_t> Data(sem_t* sem) { return std::atomic_ref<uint64_t>(reinterpret_cast<SemWords*>(sem)->data); }
uint32_t* ValueWord(sem_t* sem) { return reinterpret_cast<uint32_t*>(&reinterpret_cast<SemWords*>(sem)->data); }
// glibc's LLL_PRIVATE is 0 and LLL_SHARED is FUTEX_PRIVATE_FLAG (the flag is
// XORed into the op), so a non-zero field means process-shared.
bool Shared(sem_t* sem) { return reinterpret_cast<SemWords*>(sem)->private_flag != 0; }

// Takes a unit if there is one.
bool TryTake(sem_t* sem) {
  uint64_t d = Data(sem).load(std::memory_order_relaxed);
  while (static_cast<uint32_t>(d) != 0) {
    if (Data(sem).compare_exchange_weak(d, d - 1, std::memory_order_acquire, std::memory_order_relaxed)) return true;
  }
  return false;
}

int Wait(sem_t* sem, const detail::Deadline& deadline) {
  if (TryTake(sem)) return 0;
  if (const int bad = detail::CheckDeadlineBeforeBlocking(deadline); bad != 0) {
    errno = bad;
    return -1;
  }
  for (;;) {
    // Raised while asleep, so sem_post knows to wake.
    Data(sem).fetch_add(kWaiterUnit, std::memory_order_relaxed);
    const int r = detail::WaitOutsideAcquire(ValueWord(sem), 0, Shared(sem), deadline);
    Data(sem).fetch_sub(kWaiterUnit, std::memory_order_relaxed);
    if (TryTake(sem)) return 0;
    if (r == ETIMEDOUT || r == EINTR) {
      errno = r;
      return -1;
    }
  }
}

}  // namespace

int SemWait(sem_t* sem) { return Wait(sem, detail::Deadline{nullptr, CLOCK_REALTIME}); }

int SemClockWait(sem_t* sem, clockid_t clock, const timespec* abstime) {
  if (!detail::IsSupportedClock(clock)) {
    errno = EINVAL;
    return -1;
  }
  return Wait(sem, detail::Deadline{abstime, clock});
}

}  // namespace respct::sync
