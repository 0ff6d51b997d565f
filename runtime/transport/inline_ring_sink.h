// InlineRingSink: record bytes for a memnode reached over a stream (tcp://,
// RingMode::kInline). Records are encoded into a local batch and sent as
// pipelined RingWrite{pos}+bytes messages with no reply, so a stream of small
// records costs one send per batch, not one round trip per record.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/transport/frame_channel.h"
#include "runtime/transport/ring_sink.h"

namespace respct {

class InlineRingSink final : public RingSink {
 public:
  static constexpr uint64_t kDefaultBatchBytes = 256 * 1024;

  // `sock` must outlive the sink. `capacity` is the ring's, to split sends at lap ends.
  InlineRingSink(FrameChannel* sock, uint64_t capacity, uint64_t batch_bytes = kDefaultBatchBytes);

  Result<uint8_t*> Reserve(uint64_t pos, uint64_t len) override;
  Status Flush() override;

 private:
  // Bytes of the batch that land contiguously in the ring from `pos`.
  struct Run {
    uint64_t pos;
    uint64_t begin;  // offset in batch_
    uint64_t len;
  };

  FrameChannel* sock_;
  uint64_t capacity_;
  uint64_t batch_bytes_;
  // Fixed allocation (batch + one maximal record) so pointers handed out stay put.
  std::unique_ptr<uint8_t[]> batch_;
  uint64_t used_ = 0;
  std::vector<Run> runs_;
};

}  // namespace respct
