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

 private:
  SharedRingSink(uint8_t* base, uint64_t capacity) : base_(base), capacity_(capacity) {}
  uint8_t* base_;
  uint64_t capacity_;
};

}  // namespace respct
