// ThreadRegistry: hands out thread slots of the persisted thread table and
// keeps their per-process companions (kernel tid, park generation).
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/base/status.h"
#include "runtime/core/thread_table.h"

namespace respct::core {

class ThreadRegistry {
 public:
  // `slots` is the persisted table (max_threads entries) in the meta region;
  // `controls` per-process memory of the same length.
  ThreadRegistry(ThreadSlot* slots, SlotControl* controls, uint32_t max_threads)
      : slots_(slots), controls_(controls), max_threads_(max_threads) {}

  uint32_t max_threads() const { return max_threads_; }
  ThreadSlot& slot(uint32_t i) { return slots_[i]; }
  SlotControl& control(uint32_t i) { return controls_[i]; }

  // Claims a free slot and puts it in kStarting (counted by checkpoints from
  // this instant: a slot is never live without a state). ResourceExhausted
  // when every slot is taken.
  Result<uint32_t> Reserve(uint64_t start_routine, uint64_t arg, uint32_t flags);
  // Back to kFree (thread joined, or creation failed).
  void Free(uint32_t i);
  // Number of slots not kFree.
  uint32_t LiveCount();

 private:
  ThreadSlot* slots_;
  SlotControl* controls_;
  uint32_t max_threads_;
};

}  // namespace respct::core
