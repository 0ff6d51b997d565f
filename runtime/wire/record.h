// Log records: the bytes an epoch leaves in an application's log ring.
//
// The ring on the memnode is a byte array of `capacity` bytes addressed by
// *absolute* positions (a u64 that only grows; slot = pos % capacity). A client
// writes its epoch's data records into it (memcpy for shm, a stream for tcp,
// one-sided RDMA WRITE for verbs); the memnode checks them, persists them,
// writes the commit record after them and persists that: only then is the
// epoch committed. Layout of one record, little-endian, 64-byte aligned so an
// RDMA WRITE of a record covers whole cache lines:
//
//   offset size field
//        0    4 magic      kRecordMagic
//        4    2 version    kWireVersion
//        6    2 kind       RecordKind (data, commit, pad)
//        8    4 region_id  data: which persisted region the bytes belong to
//       12    4 length     payload bytes after the 48-byte header
//       16    8 offset     data: byte offset inside the region
//       24    8 epoch      epoch this record belongs to
//       32    8 ring_pos   absolute ring position of this header: a record left
//                          over from an earlier lap of the ring never validates
//       40    8 checksum   XXH3_64 of header (checksum = 0) and payload
//       48    - payload, then zero padding to the next multiple of 64
//
// A record never straddles the end of the ring: when it would, the writer puts
// a pad record that covers the rest of the lap and continues at the next lap.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "runtime/base/status.h"

namespace respct::wire {

static_assert(std::endian::native == std::endian::little,
              "respct's wire structs are little-endian and copied as-is");

inline constexpr uint32_t kRecordMagic = 0x43455252;  // "RREC"
inline constexpr uint16_t kWireVersion = 1;
inline constexpr size_t kRecordAlign = 64;
inline constexpr size_t kRecordHeaderSize = 48;
// A client splits larger dirty ranges into several records. The bound keeps a
// corrupted length from making the memnode read far past a record.
inline constexpr uint32_t kMaxRecordPayload = 1u << 20;
// Smallest ring a memnode accepts: a few maximal records must fit.
inline constexpr uint64_t kMinRingCapacity = 4 * (kMaxRecordPayload + kRecordAlign);

enum class RecordKind : uint16_t { kData = 1, kCommit = 2, kPad = 3 };

struct RecordHeader {
  uint32_t magic;
  uint16_t version;
  uint16_t kind;
  uint32_t region_id;
  uint32_t length;
  uint64_t offset;
  uint64_t epoch;
  uint64_t ring_pos;
  uint64_t checksum;
};
static_assert(sizeof(RecordHeader) == kRecordHeaderSize);

// Body of a commit record (kind kCommit, length = sizeof(CommitBody)).
// Written by the memnode after it has persisted every data record of the epoch.
struct CommitBody {
  uint64_t app_id;          // AppIdOf(app name): a commit names its app
  uint64_t epoch;
  uint64_t record_count;    // data records of the epoch (pads not counted)
  uint64_t byte_count;      // payload bytes of those records
  uint64_t epoch_checksum;  // EpochChecksum over the data records' checksums
  uint64_t first_pos;       // ring position of the epoch's first record
};
static_assert(sizeof(CommitBody) == 48);

constexpr uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

// Bytes a record with `payload` bytes occupies in the ring.
constexpr uint64_t RecordFootprint(uint64_t payload) { return AlignUp(kRecordHeaderSize + payload, kRecordAlign); }
inline constexpr uint64_t kCommitFootprint = RecordFootprint(sizeof(CommitBody));

// A validated record as seen in a ring.
struct RecordView {
  RecordHeader header;
  const uint8_t* payload;  // header.length bytes
  uint64_t footprint;      // ring bytes it occupies (pads: to the end of the lap)
};

// Writes a data record at `dst` (RecordFootprint(len) bytes, padding zeroed)
// and returns its checksum. `dst` and `data` must not overlap.
uint64_t EncodeDataRecord(void* dst, uint64_t ring_pos, uint64_t epoch, uint32_t region_id, uint64_t offset,
                          const void* data, uint32_t len);
// Writes a pad record covering `footprint` bytes (a multiple of kRecordAlign,
// at least kRecordAlign). Only its header is written and checksummed.
void EncodePadRecord(void* dst, uint64_t ring_pos, uint64_t epoch, uint64_t footprint);
// Writes a commit record (kCommitFootprint bytes).
void EncodeCommitRecord(void* dst, uint64_t ring_pos, const CommitBody& body);

// Checks the record whose header starts at `src`, with `avail` readable bytes
// from there (to the end of the lap). Rejects bad magic, bad version, unknown
// kind, a length above kMaxRecordPayload or beyond `avail`, a ring_pos other
// than `expected_pos`, and a wrong checksum. On success fills `out`.
Status DecodeRecord(const void* src, uint64_t avail, uint64_t expected_pos, RecordView* out);

// Checks that a data record's [offset, offset+length) lies inside a region of
// `region_size` bytes, without overflow.
Status CheckRecordBounds(const RecordHeader& h, uint64_t region_size);

}  // namespace respct::wire
