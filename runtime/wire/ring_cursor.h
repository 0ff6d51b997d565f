// RingCursor: the arithmetic of an application's log ring, shared by the
// client (which places records) and the memnode (which checks and frees them),
// so both sides agree on every position without talking about it.
//
// Positions are absolute byte counts that only grow; slot = pos % capacity.
//   applied  <=  tail  <=  applied + capacity
//   [applied, tail) holds records not yet applied to the image: the client may
//   never write there. The client may write [tail, applied + capacity).
// A record never straddles the end of a lap: Place() puts a pad record before
// it when the lap's remainder is too short. This class only computes; it owns
// no memory and is safe to copy.
#pragma once

#include <cstdint>

#include "runtime/wire/record.h"

namespace respct::wire {

class RingCursor {
 public:
  struct Placement {
    uint64_t pad_pos = 0;   // where a pad record goes, when pad_len != 0
    uint64_t pad_len = 0;   // footprint of that pad (rest of the lap)
    uint64_t pos = 0;       // where the record itself starts
    uint64_t end = 0;       // position after the record: the new tail
  };

  RingCursor() = default;
  // `capacity` must be a multiple of kRecordAlign and at least kMinRingCapacity.
  RingCursor(uint64_t capacity, uint64_t tail, uint64_t applied)
      : capacity_(capacity), tail_(tail), applied_(applied) {}

  uint64_t capacity() const { return capacity_; }
  uint64_t tail() const { return tail_; }
  uint64_t applied() const { return applied_; }
  uint64_t used() const { return tail_ - applied_; }
  uint64_t free_bytes() const { return capacity_ - used(); }
  uint64_t Slot(uint64_t pos) const { return pos % capacity_; }
  // Bytes from `pos` to the end of its lap.
  uint64_t ToLapEnd(uint64_t pos) const { return capacity_ - Slot(pos); }

  // Where a record of `footprint` bytes would go after the current tail.
  // Returns false when the ring lacks space for it now (the caller waits for
  // the memnode to apply and free space, then retries): back-pressure.
  bool Place(uint64_t footprint, Placement* out) const {
    Placement p;
    p.pos = tail_;
    if (ToLapEnd(tail_) < footprint) {
      p.pad_pos = tail_;
      p.pad_len = ToLapEnd(tail_);
      p.pos = tail_ + p.pad_len;
    }
    p.end = p.pos + footprint;
    if (p.end - applied_ > capacity_) return false;
    *out = p;
    return true;
  }
  // True when a record of `footprint` bytes could ever fit (an empty ring).
  bool CanEverFit(uint64_t footprint) const { return footprint <= capacity_; }

  void Advance(const Placement& p) { tail_ = p.end; }
  // The memnode applied everything before `applied`.
  void SetApplied(uint64_t applied) { applied_ = applied; }
  void Reset(uint64_t tail, uint64_t applied) {
    tail_ = tail;
    applied_ = applied;
  }

 private:
  uint64_t capacity_ = 0;
  uint64_t tail_ = 0;
  uint64_t applied_ = 0;
};

}  // namespace respct::wire
