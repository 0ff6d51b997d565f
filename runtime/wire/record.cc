#include "runtime/wire/record.h"

#include <string>

#include "runtime/wire/checksum.h"

namespace respct::wire {
namespace {

RecordHeader MakeHeader(RecordKind kind, uint64_t ring_pos, uint64_t epoch, uint32_t region_id, uint64_t offset,
                        uint32_t len) {
  RecordHeader h{};
  h.magic = kRecordMagic;
  h.version = kWireVersion;
  h.kind = static_cast<uint16_t>(kind);
  h.region_id = region_id;
  h.length = len;
  h.offset = offset;
  h.epoch = epoch;
  h.ring_pos = ring_pos;
  h.checksum = 0;
  return h;
}

// Checksum of a header (with its checksum field taken as zero) and payload.
uint64_t RecordChecksum(const RecordHeader& h, const void* payload, uint32_t len) {
  RecordHeader zeroed = h;
  zeroed.checksum = 0;
  XXH3_state_t st;
  XXH3_64bits_reset(&st);
  XXH3_64bits_update(&st, &zeroed, sizeof zeroed);
  if (len != 0) XXH3_64bits_update(&st, payload, len);
  return XXH3_64bits_digest(&st);
}

std::string At(uint64_t pos) { return " at ring position " + std::to_string(pos); }

}  // namespace

uint64_t EncodeDataRecord(void* dst, uint64_t ring_pos, uint64_t epoch, uint32_t region_id, uint64_t offset,
                          const void* data, uint32_t len) {
  RecordHeader h = MakeHeader(RecordKind::kData, ring_pos, epoch, region_id, offset, len);
  h.checksum = RecordChecksum(h, data, len);
  auto* out = static_cast<uint8_t*>(dst);
  std::memcpy(out, &h, sizeof h);
  // An empty record may come with a null `data` (an empty vector's), which
  // memcpy must not see even for 0 bytes (found by fuzz_session).
  if (len != 0) std::memcpy(out + kRecordHeaderSize, data, len);
  const uint64_t end = RecordFootprint(len);
  std::memset(out + kRecordHeaderSize + len, 0, end - kRecordHeaderSize - len);
  return h.checksum;
}

void EncodePadRecord(void* dst, uint64_t ring_pos, uint64_t epoch, uint64_t footprint) {
  // The pad's length field says how far it reaches; its payload is not read.
  RecordHeader h = MakeHeader(RecordKind::kPad, ring_pos, epoch, 0, 0,
                              static_cast<uint32_t>(footprint - kRecordHeaderSize));
  h.checksum = RecordChecksum(h, nullptr, 0);
  std::memcpy(dst, &h, sizeof h);
}

void EncodeCommitRecord(void* dst, uint64_t ring_pos, const CommitBody& body) {
  RecordHeader h = MakeHeader(RecordKind::kCommit, ring_pos, body.epoch, 0, 0, sizeof(CommitBody));
  h.checksum = RecordChecksum(h, &body, sizeof body);
  auto* out = static_cast<uint8_t*>(dst);
  std::memcpy(out, &h, sizeof h);
  std::memcpy(out + kRecordHeaderSize, &body, sizeof body);
  std::memset(out + kRecordHeaderSize + sizeof body, 0, kCommitFootprint - kRecordHeaderSize - sizeof body);
}

Status DecodeRecord(const void* src, uint64_t avail, uint64_t expected_pos, RecordView* out) {
  if (avail < kRecordHeaderSize) return Status::Corruption("truncated record header" + At(expected_pos));
  RecordHeader h;
  std::memcpy(&h, src, sizeof h);
  if (h.magic != kRecordMagic) return Status::Corruption("bad record magic" + At(expected_pos));
  if (h.version != kWireVersion)
    return Status::Corruption("unsupported record version " + std::to_string(h.version) + At(expected_pos));
  const auto kind = static_cast<RecordKind>(h.kind);
  if (kind != RecordKind::kData && kind != RecordKind::kCommit && kind != RecordKind::kPad)
    return Status::Corruption("unknown record kind " + std::to_string(h.kind) + At(expected_pos));
  if (h.ring_pos != expected_pos)
    return Status::Corruption("record names ring position " + std::to_string(h.ring_pos) + At(expected_pos));
  const uint8_t* payload = static_cast<const uint8_t*>(src) + kRecordHeaderSize;
  if (kind == RecordKind::kPad) {
    const uint64_t footprint = uint64_t{h.length} + kRecordHeaderSize;
    if (footprint % kRecordAlign != 0 || footprint > avail)
      return Status::Corruption("pad record of bad length" + At(expected_pos));
    if (RecordChecksum(h, nullptr, 0) != h.checksum) return Status::Corruption("pad checksum mismatch" + At(expected_pos));
    *out = RecordView{h, payload, footprint};
    return Status::OK();
  }
  if (h.length > kMaxRecordPayload)
    return Status::Corruption("record length " + std::to_string(h.length) + " exceeds the maximum" + At(expected_pos));
  if (kind == RecordKind::kCommit && h.length != sizeof(CommitBody))
    return Status::Corruption("commit record of bad length" + At(expected_pos));
  const uint64_t footprint = RecordFootprint(h.length);
  if (footprint > avail) return Status::Corruption("truncated record payload" + At(expected_pos));
  if (RecordChecksum(h, payload, h.length) != h.checksum)
    return Status::Corruption("record checksum mismatch" + At(expected_pos));
  *out = RecordView{h, payload, footprint};
  return Status::OK();
}

Status CheckRecordBounds(const RecordHeader& h, uint64_t region_size) {
  if (h.offset > region_size || h.length > region_size - h.offset)
    return Status::Corruption("record [" + std::to_string(h.offset) + ", +" + std::to_string(h.length) +
                              ") lies outside region " + std::to_string(h.region_id) + " of " +
                              std::to_string(region_size) + " bytes");
  return Status::OK();
}

}  // namespace respct::wire
