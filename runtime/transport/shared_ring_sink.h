// SharedRingSink: record bytes for a memnode on this host (shm://,
// RingMode::kShared). The memnode passes a memfd of ring_capacity bytes (the
// staging ring) with AttachOk; the client maps it and encodes each record
// straight into slot(pos), so an epoch's bytes are written once by the client
// and copied once by the memnode into its pool ring at Commit.
#pragma once

#include <cstdint>

#include "runtime/transport/ring_sink.h"

namespace respct {

class SharedRingSink final : public RingSink {
 public:
  // Maps `fd` (taken over: closed by the sink) of `capacity` bytes.
  static Result<std::unique_ptr<SharedRingSink>> Map(int fd, uint64_t capacity);
  ~SharedRingSink() override;
  SharedRingSink(const SharedRingSink&) = delete;
  SharedRingSink& operator=(const SharedRingSink&) = delete;

  Result<uint8_t*> Reserve(uint64_t pos, uint64_t len) override;
  Status Flush() override;
  // MADV_POPULATE_WRITE over the next part of the ring, up to WarmTarget().
  // Gives up (true) where the kernel lacks it: the pages then fault in on
  // first use.
  bool PrefaultSome(uint64_t max_bytes) override;

  // How much of the ring, from its start, is kept faulted in: as much again
  // as has been written (at least kMinWarmAhead) past the end of the writes,
  // so a program that ships little never pays for a ring it does not use
  // (256 MiB by default: about 0.3 s of a core and as much shared memory).
  uint64_t WarmTarget() const;
  static constexpr uint64_t kMinWarmAhead = 8ull << 20;

 private:
  SharedRingSink(uint8_t* base, uint64_t capacity) : base_(base), capacity_(capacity) {}
  uint8_t* base_;
  uint64_t capacity_;
  uint64_t prefaulted_ = 0;     // bytes from base_ faulted in so far
  uint64_t written_end_ = 0;    // the highest slot end reserved (a lap writes it all)
};

}  // namespace respct
