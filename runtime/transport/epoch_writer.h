// EpochWriter: the client's half of the log ring (DESIGN.md §5,
// wire/ring_cursor.h). It decides where each record of the epoch being built
// goes (RingCursor: pads at lap ends, payloads above kMaxRecordPayload split),
// encodes it through a RingSink, accumulates what the Commit message must state
// (first/end position, record and byte counts, EpochChecksum), and applies
// back-pressure.
//
// Back-pressure: a record is placed only when it *and* a commit record after
// it fit in the free ring [tail, applied + capacity), so a Commit never waits
// for space its epoch already holds. When they do not fit and some committed
// epoch is still unapplied, the writer calls `wait` (the session blocks
// reading RingProgress) and retries. When nothing committed is pending, no
// amount of waiting helps: the epoch is dropped (tail back to its first
// position) and Append returns ResourceExhausted.
//
// Knows nothing about sockets, so it is unit-tested against a memory sink.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "runtime/base/status.h"
#include "runtime/transport/ring_sink.h"
#include "runtime/transport/transport.h"
#include "runtime/wire/checksum.h"
#include "runtime/wire/message.h"
#include "runtime/wire/ring_cursor.h"

namespace respct {

class EpochWriter {
 public:
  // Blocks until the memnode reports freed space (and SetApplied was called), or fails.
  using WaitForSpace = std::function<Status()>;

  // `sink` and `stats` must outlive the writer. The ring state is AttachOk's.
  EpochWriter(RingSink* sink, TransportStats* stats, uint64_t capacity, uint64_t tail, uint64_t applied,
              uint64_t committed_epoch);

  // Appends [data, data+len) for region/offset to `epoch` (= committed_epoch()+1).
  Status Append(uint64_t epoch, uint32_t region_id, uint64_t offset, const void* data, size_t len,
                const WaitForSpace& wait);
  // Closes `epoch` (empty if nothing was appended): waits for room for the
  // commit record, flushes the sink, returns the Commit message to send.
  Result<wire::CommitMsg> PrepareCommit(uint64_t epoch, const WaitForSpace& wait);
  // The memnode acknowledged the prepared commit: checks that its tail is
  // where the commit record ends and starts the next epoch after it.
  Status Committed(const wire::CommitAckMsg& ack);
  // Forgets the epoch being built; its ring space is reused by the next one.
  void Discard();
  // RingProgress: everything before `applied` is applied and free.
  void SetApplied(uint64_t applied);

  uint64_t committed_epoch() const { return committed_epoch_; }
  const wire::RingCursor& cursor() const { return cursor_; }

 private:
  struct OpenEpoch {
    bool open = false;
    uint64_t epoch = 0;
    uint64_t first_pos = 0;
    uint64_t records = 0;
    uint64_t payload_bytes = 0;
    wire::EpochChecksum checksum;
  };

  Status CheckEpoch(uint64_t epoch) const;
  void OpenIfNeeded(uint64_t epoch);
  // Places a record of `footprint` bytes with room for a commit record after
  // it (`with_commit`), waiting for space when that can help.
  Status PlaceWithRoom(uint64_t footprint, bool with_commit, const WaitForSpace& wait, wire::RingCursor::Placement* p);
  bool Fits(uint64_t footprint, bool with_commit, wire::RingCursor::Placement* p) const;
  Status AppendOne(uint32_t region_id, uint64_t offset, const uint8_t* data, uint32_t len, const WaitForSpace& wait);

  RingSink* sink_;
  TransportStats* stats_;
  wire::RingCursor cursor_;
  uint64_t committed_tail_;  // position after the last commit record
  uint64_t committed_epoch_;
  OpenEpoch epoch_;
};

}  // namespace respct
