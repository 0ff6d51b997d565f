#include "runtime/core/thread_table.h"

#include "runtime/core/thread_registry.h"

namespace respct::core {

bool IsQuiescent(SlotState s) {
  return s == kSlotFree || s == kSlotExited || s == kSlotFrozen || s == kSlotFrozenStarting;
}

const char* SlotStateName(uint32_t s) {
  switch (s) {
    case kSlotFree: return "free";
    case kSlotStarting: return "starting";
    case kSlotRunning: return "running";
    case kSlotParked: return "parked";
    case kSlotBlocked: return "blocked";
    case kSlotFrozen: return "frozen";
    case kSlotFrozenStarting: return "frozen-starting";
    case kSlotExited: return "exited";
  }
  return nullptr;
}

Result<uint32_t> ThreadRegistry::Reserve(uint64_t start_routine, uint64_t arg, uint32_t flags) {
  for (uint32_t i = 0; i < max_threads_; ++i) {
    uint32_t expected = kSlotFree;
    // Claim with a CAS straight into kStarting: from this instant a round
    // counts the slot (and freezes it), so no checkpoint can capture a thread
    // that pthread_create has promised but the table does not show.
    ThreadSlot& s = slots_[i];
    if (!s.state_ref().compare_exchange_strong(expected, kSlotStarting, std::memory_order_acq_rel)) continue;
    s.flags = flags;
    s.start_routine = start_routine;
    s.arg = arg;
    s.retval = 0;
    s.fctx = 0;
    s.entry_sp = 0;
    s.tcb = 0;
    s.saved_errno = 0;
    s.park_kind = kParkNone;
    s.parked_epoch = 0;
    s.lock_depth = 0;
    s.index = i;
    controls_[i].tid.store(0, std::memory_order_relaxed);
    return i;
  }
  return Status::ResourceExhausted("all " + std::to_string(max_threads_) +
                                   " thread slots are in use (raise RESPCT_MAX_THREADS)");
}

void ThreadRegistry::Free(uint32_t i) {
  controls_[i].tid.store(0, std::memory_order_relaxed);
  slots_[i].state_ref().store(kSlotFree, std::memory_order_release);
}

uint32_t ThreadRegistry::LiveCount() {
  uint32_t n = 0;
  for (uint32_t i = 0; i < max_threads_; ++i) n += slots_[i].load_state() != kSlotFree;
  return n;
}

}  // namespace respct::core
