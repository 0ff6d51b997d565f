// RingLog: reads and checks the records of one app's log ring in the pool.
//
// Two readers of the same bytes share it: the commit path (protocol §4), which
// checks exactly the records a client placed for one epoch, and start-up
// replay (§6), which walks from the applied mark and keeps every epoch whose
// commit record matches what it scanned. Both produce EpochRecords, the list
// of payloads apply (§5) copies into the image, so apply never re-decodes.
// RingLog only reads; it owns no memory and is cheap to construct.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/wire/message.h"
#include "runtime/wire/record.h"
#include "runtime/wire/ring_cursor.h"

namespace respct::memnode {

// One region of an app's image.
struct RegionInfo {
  uint32_t id = 0;
  uint64_t size = 0;
  uint64_t base_addr = 0;
  uint64_t image_offset = 0;  // from the start of the app's image
};

// A checked data record: where its payload lies in the ring and where it goes.
struct DataRef {
  uint32_t region_index;
  uint32_t length;
  uint64_t offset;        // inside the region
  uint64_t payload_slot;  // ring slot of the first payload byte
};

// The records of one committed epoch, in ring order.
struct EpochRecords {
  uint64_t epoch = 0;
  uint64_t first_pos = 0;
  uint64_t end_pos = 0;  // after its commit record: the applied mark once applied
  uint64_t commit_unix_ns = 0;  // 0 when unknown (found by replay)
  std::vector<DataRef> records;
};

// What replay found after the applied mark.
struct ReplayScan {
  std::vector<EpochRecords> committed;  // in epoch order
  uint64_t tail = 0;                    // after the last valid commit record
  uint64_t discarded_records = 0;       // records of an epoch with no valid commit
  std::string stop_reason;              // why the scan ended
};

class RingLog {
 public:
  RingLog(const uint8_t* ring, uint64_t capacity, const std::vector<RegionInfo>& regions, uint64_t app_id)
      : ring_(ring), capacity_(capacity), regions_(regions), app_id_(app_id) {}

  // Checks the records of `m` in [first_pos, end_pos): each decodes at its
  // position, data records belong to m.epoch, a known region and its bounds,
  // and count, payload bytes and epoch checksum equal the message's.
  Status ValidateEpoch(const wire::CommitMsg& m, EpochRecords* out) const;

  // Whether an epoch numbered `epoch` may start at `first_pos` although it
  // does not follow the epoch before it: a replica that missed epochs is
  // caught up with one epoch that jumps to the current number (DESIGN.md
  // §5). The ring alone cannot tell such an epoch from a stale record of an
  // earlier incarnation of the app, so the caller vouches for it (its history
  // entry, written once its commit record was durable).
  using JumpCheck = std::function<bool(uint64_t epoch, uint64_t first_pos)>;

  // Scans committed epochs after the applied mark (never more than one lap).
  // Epoch numbers follow each other, or jump where `jump_ok` agrees.
  ReplayScan ScanCommitted(uint64_t applied_pos, uint64_t applied_epoch, const JumpCheck& jump_ok = {}) const;

 private:
  // Decodes the record at `pos`, readable up to the lap end and `limit`.
  Status Decode(uint64_t pos, uint64_t limit, wire::RecordView* out) const;
  // Checks a data record of `epoch` and returns what apply needs.
  Status CheckData(const wire::RecordView& v, uint64_t pos, uint64_t epoch, DataRef* out) const;

  const uint8_t* ring_;
  uint64_t capacity_;
  const std::vector<RegionInfo>& regions_;
  uint64_t app_id_;
};

}  // namespace respct::memnode
