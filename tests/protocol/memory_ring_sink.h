// A RingSink over plain memory with the memnode's slot arithmetic, plus the
// memnode's validation walk (wire/ring_cursor.h), so the client's ring
// placement is tested without a memnode.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/transport/ring_sink.h"
#include "runtime/wire/checksum.h"
#include "runtime/wire/message.h"
#include "runtime/wire/record.h"

namespace respct::test {

class MemoryRingSink final : public RingSink {
 public:
  explicit MemoryRingSink(uint64_t capacity) : ring(capacity, 0xEE) {}
  Result<uint8_t*> Reserve(uint64_t pos, uint64_t len) override {
    const uint64_t slot = pos % ring.size();
    if (slot + len > ring.size()) return Status::InvalidArgument("reservation crosses the lap end");
    ++reservations;
    return ring.data() + slot;
  }
  Status Flush() override {
    ++flushes;
    return Status::OK();
  }

  struct Walk {
    uint64_t records = 0;
    uint64_t pads = 0;
    uint64_t bytes = 0;
    uint64_t checksum = 0;
    std::vector<wire::RecordView> data;
  };
  // Validates [first, end) as the memnode does at Commit.
  Status Validate(const wire::CommitMsg& c, Walk* w) const {
    wire::EpochChecksum sum;
    uint64_t pos = c.first_pos;
    while (pos < c.end_pos) {
      const uint64_t slot = pos % ring.size();
      const uint64_t avail = std::min<uint64_t>(ring.size() - slot, c.end_pos - pos);
      wire::RecordView v;
      RESPCT_RETURN_IF_ERROR(wire::DecodeRecord(ring.data() + slot, avail, pos, &v));
      if (v.header.kind == static_cast<uint16_t>(wire::RecordKind::kPad)) {
        ++w->pads;
      } else {
        if (v.header.epoch != c.epoch) return Status::Corruption("record of another epoch");
        ++w->records;
        w->bytes += v.header.length;
        sum.Add(v.header.checksum);
        w->data.push_back(v);
      }
      pos += v.footprint;
    }
    if (pos != c.end_pos) return Status::Corruption("records overrun end_pos");
    w->checksum = sum.Digest();
    if (w->records != c.record_count || w->bytes != c.byte_count || w->checksum != c.epoch_checksum)
      return Status::Corruption("commit counts do not match the records");
    return Status::OK();
  }

  std::vector<uint8_t> ring;
  int reservations = 0;
  int flushes = 0;
};

}  // namespace respct::test
