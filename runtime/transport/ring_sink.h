// RingSink: the one seam between the client session (which decides where
// each record goes in the memnode's log ring and encodes it) and the way the
// record bytes travel there. The session asks for a place to encode `len`
// bytes destined for ring position `pos`, encodes them in place, and calls
// Flush before it sends a Commit, so everything reserved so far is visible to
// the memnode when it validates the epoch.
//
//   InlineRingSink  tcp://  bytes batched locally, sent as RingWrite messages
//   SharedRingSink  shm://  bytes encoded straight into the shared staging ring
//   (rdma:// will encode into registered memory and post one-sided WRITEs)
//
// A reservation never crosses the end of a lap (RingCursor guarantees it);
// the pointer is valid until the next Reserve or Flush.
#pragma once

#include <cstdint>

#include "runtime/base/status.h"

namespace respct {

class RingSink {
 public:
  virtual ~RingSink() = default;
  virtual Result<uint8_t*> Reserve(uint64_t pos, uint64_t len) = 0;
  virtual Status Flush() = 0;
  // Faults in up to `max_bytes` more of the ring's memory ahead of the
  // writes that will need it; true once enough is (the sink decides how far
  // ahead of its writes that is) or there is nothing left to fault in (also
  // when the sink has no memory of its own). Called again after more is
  // written.
  virtual bool PrefaultSome(uint64_t max_bytes) {
    (void)max_bytes;
    return true;
  }
};

}  // namespace respct
