// RingEpoch: an honest writer's view of one epoch in an app's log ring — the
// cursor, and the records placed so far (count, bytes, epoch checksum) —
// for the fuzz targets that need commits a memnode accepts. How the bytes
// reach the ring (a RingWrite, the shm staging ring, App::RingWrite) is the
// caller's `place` function.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "runtime/wire/checksum.h"
#include "runtime/wire/record.h"
#include "runtime/wire/ring_cursor.h"

namespace respct::fuzz {

class RingEpoch {
 public:
  using PlaceFn = std::function<void(uint64_t pos, const std::vector<uint8_t>& bytes)>;

  bool attached() const { return cursor_.capacity() != 0; }
  uint64_t epoch() const { return epoch_; }

  // The memnode's positions (AttachOk, CommitAck) and the epoch that comes next.
  void Start(uint64_t capacity, uint64_t tail, uint64_t applied, uint64_t epoch) {
    cursor_ = wire::RingCursor(capacity, tail, applied);
    epoch_ = epoch;
    first_pos_ = tail;
    sum_ = wire::EpochChecksum();
    count_ = 0;
    bytes_ = 0;
  }
  // RingProgress: space the memnode freed.
  void SetApplied(uint64_t applied) { cursor_.SetApplied(applied); }

  // Encodes a data record at the cursor (after a pad at a lap's end) and
  // hands the bytes to `place`. False when the ring has no room now.
  bool Add(uint32_t region, uint64_t offset, const std::vector<uint8_t>& data, const PlaceFn& place) {
    wire::RingCursor::Placement at;
    if (!cursor_.Place(wire::RecordFootprint(data.size()), &at)) return false;
    if (at.pad_len != 0) {
      std::vector<uint8_t> pad(wire::kRecordHeaderSize);
      wire::EncodePadRecord(pad.data(), at.pad_pos, epoch_, at.pad_len);
      place(at.pad_pos, pad);
    }
    std::vector<uint8_t> rec(wire::RecordFootprint(data.size()));
    sum_.Add(wire::EncodeDataRecord(rec.data(), at.pos, epoch_, region, offset, data.data(),
                                    static_cast<uint32_t>(data.size())));
    place(at.pos, rec);
    cursor_.Advance(at);
    ++count_;
    bytes_ += data.size();
    return true;
  }

  // The Commit of what was added.
  wire::CommitMsg Commit() const {
    return wire::CommitMsg{epoch_, first_pos_, cursor_.tail(), count_, bytes_, sum_.Digest()};
  }

  uint64_t tail() const { return cursor_.tail(); }

 private:
  wire::RingCursor cursor_;
  uint64_t epoch_ = 1;
  uint64_t first_pos_ = 0;
  wire::EpochChecksum sum_;
  uint64_t count_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace respct::fuzz
