#include "runtime/sync/barrier.h"

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "runtime/sync/acquire.h"

namespace respct::sync {
namespace {

constexpr uint32_t kBarrierDestroying = 0x8000'0000u;
constexpr uint32_t kBarrierProcessShared = 1;

struct BarrierWords {
  uint32_t required;
  uint32_t arrived;
  uint32_t round;
  uint32_t leaving;
  uint32_t flags;
};
static_assert(sizeof(BarrierWords) <= sizeof(pthread_barrier_t));
static_assert(alignof(BarrierWords) <= alignof(pthread_barrier_t));

using Word = std::atomic_ref<uint32_t>;

// pthread_barrier_t is an opaque char array; applications never access its
// bytes, so viewing it as our words is the only way it is ever read.
BarrierWords& Words(pthread_barrier_t* barrier) { return *reinterpret_cast<BarrierWords*>(barrier); }

bool IsProcessShared(BarrierWords& words) {
  return (Word(words.flags).load(std::memory_order_relaxed) & kBarrierProcessShared) != 0;
}

void Leave(BarrierWords& words) {
  // Read before leaving: once the count drops, the destroyer may free it.
  bool process_shared = IsProcessShared(words);
  uint32_t previous = Word(words.leaving).fetch_sub(1, std::memory_order_acq_rel);
  // See cond.cc: a wake on memory the destroyer may have freed is harmless.
  if (previous == (kBarrierDestroying | 1)) detail::FutexWakeAll(&words.leaving, process_shared);
}

}  // namespace

int BarrierInit(pthread_barrier_t* barrier, const pthread_barrierattr_t* attr, unsigned count) {
  if (count == 0 || count > kBarrierDestroying - 1) return EINVAL;
  int process_shared = PTHREAD_PROCESS_PRIVATE;
  if (attr != nullptr) pthread_barrierattr_getpshared(attr, &process_shared);
  std::memset(static_cast<void*>(barrier), 0, sizeof(*barrier));
  BarrierWords& words = Words(barrier);
  words.required = count;
  words.flags = process_shared == PTHREAD_PROCESS_SHARED ? kBarrierProcessShared : 0;
  return 0;
}

int BarrierDestroy(pthread_barrier_t* barrier) {
  BarrierWords& words = Words(barrier);
  if (Word(words.arrived).load(std::memory_order_acquire) != 0) return EBUSY;
  Word leaving(words.leaving);
  uint32_t current = leaving.fetch_or(kBarrierDestroying, std::memory_order_acq_rel) | kBarrierDestroying;
  while (current != kBarrierDestroying) {
    detail::FutexWait(&words.leaving, current, IsProcessShared(words));
    current = leaving.load(std::memory_order_acquire);
  }
  return 0;
}

int BarrierWait(pthread_barrier_t* barrier) {
  if (LockDepth() == 0) AtRestartPoint();
  BarrierWords& words = Words(barrier);
  uint32_t required = Word(words.required).load(std::memory_order_relaxed);
  Word round(words.round);
  uint32_t my_round = round.load(std::memory_order_acquire);
  if (Word(words.arrived).fetch_add(1, std::memory_order_acq_rel) + 1 == required) {
    Word(words.leaving).fetch_add(required - 1, std::memory_order_relaxed);
    Word(words.arrived).store(0, std::memory_order_relaxed);
    round.fetch_add(1, std::memory_order_release);
    if (required > 1) detail::FutexWakeAll(&words.round, IsProcessShared(words));
    return PTHREAD_BARRIER_SERIAL_THREAD;
  }
  while (round.load(std::memory_order_acquire) == my_round) {
    detail::WaitOutsideAcquire(&words.round, my_round, IsProcessShared(words));
  }
  Leave(words);
  return 0;
}

}  // namespace respct::sync
