// FutexLock: the heap's internal lock, a 4-byte word that may live inside the
// persisted region.
//
// Why not pthread_mutex_t: the preload shim interposes pthread_mutex_* to
// count the application's lock depth, so the allocator must not go through
// them. This is Drepper's three-state futex mutex ("Futexes are tricky",
// mutex2): 0 free, 1 locked, 2 locked with waiters. The uncontended path is
// one compare-and-swap each way; a short spin precedes sleeping because heap
// critical sections are a few hundred nanoseconds.
//
// The type is trivial (the word is accessed through std::atomic_ref) so a
// freshly mapped, all-zero region already holds unlocked locks and formatting
// does not have to touch them. A snapshot is taken only while no thread is in
// a heap call, so every lock in it is free; Reset() re-arms a lock anyway after
// recovery or in a fork child, where a holder no longer exists.
#pragma once

#include <atomic>
#include <cstdint>

namespace respct::heap {

class FutexLock {
 public:
  void Lock() {
    uint32_t expected = 0;
    if (!word().compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
      LockContended();
    }
  }
  void Unlock() {
    if (word().exchange(0, std::memory_order_release) == 2) WakeOne();
  }
  // Forget any holder: used only when no thread can be using the lock.
  void Reset() { word().store(0, std::memory_order_relaxed); }

 private:
  std::atomic_ref<uint32_t> word() { return std::atomic_ref<uint32_t>(word_); }
  void LockContended();
  void WakeOne();

  alignas(std::atomic_ref<uint32_t>::required_alignment) uint32_t word_;
};

// Holds a FutexLock for the enclosing scope.
class FutexLockGuard {
 public:
  explicit FutexLockGuard(FutexLock& lock) : lock_(lock) { lock_.Lock(); }
  ~FutexLockGuard() { lock_.Unlock(); }
  FutexLockGuard(const FutexLockGuard&) = delete;
  FutexLockGuard& operator=(const FutexLockGuard&) = delete;

 private:
  FutexLock& lock_;
};

}  // namespace respct::heap
