#include "memnode/ring_log.h"

#include <algorithm>

#include "runtime/wire/checksum.h"

namespace respct::memnode {
namespace {

std::string At(uint64_t pos) { return " at ring position " + std::to_string(pos); }

}  // namespace

Status RingLog::Decode(uint64_t pos, uint64_t limit, wire::RecordView* out) const {
  const uint64_t slot = pos % capacity_;
  const uint64_t avail = std::min(capacity_ - slot, limit - pos);
  return wire::DecodeRecord(ring_ + slot, avail, pos, out);
}

Status RingLog::CheckData(const wire::RecordView& v, uint64_t pos, uint64_t epoch, DataRef* out) const {
  const wire::RecordHeader& h = v.header;
  if (h.epoch != epoch)
    return Status::Corruption("record of epoch " + std::to_string(h.epoch) + " in epoch " + std::to_string(epoch) +
                              At(pos));
  for (uint32_t i = 0; i < regions_.size(); ++i) {
    if (regions_[i].id != h.region_id) continue;
    RESPCT_RETURN_IF_ERROR(wire::CheckRecordBounds(h, regions_[i].size).Annotate("record" + At(pos)));
    *out = DataRef{i, h.length, h.offset, (pos + wire::kRecordHeaderSize) % capacity_};
    return Status::OK();
  }
  return Status::Corruption("record names unknown region " + std::to_string(h.region_id) + At(pos));
}

Status RingLog::ValidateEpoch(const wire::CommitMsg& m, EpochRecords* out) const {
  out->epoch = m.epoch;
  out->first_pos = m.first_pos;
  out->records.clear();
  wire::EpochChecksum sum;
  uint64_t bytes = 0;
  uint64_t pos = m.first_pos;
  while (pos < m.end_pos) {
    wire::RecordView v;
    RESPCT_RETURN_IF_ERROR(Decode(pos, m.end_pos, &v));
    const auto kind = static_cast<wire::RecordKind>(v.header.kind);
    if (kind == wire::RecordKind::kCommit)
      return Status::Corruption("client placed a commit record" + At(pos));
    if (kind == wire::RecordKind::kData) {
      DataRef ref;
      RESPCT_RETURN_IF_ERROR(CheckData(v, pos, m.epoch, &ref));
      out->records.push_back(ref);
      sum.Add(v.header.checksum);
      bytes += v.header.length;
    }
    pos += v.footprint;
  }
  if (out->records.size() != m.record_count)
    return Status::Corruption("epoch " + std::to_string(m.epoch) + " has " + std::to_string(out->records.size()) +
                              " records in the ring, the commit says " + std::to_string(m.record_count));
  if (bytes != m.byte_count)
    return Status::Corruption("epoch " + std::to_string(m.epoch) + " has " + std::to_string(bytes) +
                              " payload bytes in the ring, the commit says " + std::to_string(m.byte_count));
  if (sum.Digest() != m.epoch_checksum)
    return Status::Corruption("epoch " + std::to_string(m.epoch) + " checksum does not match its records");
  return Status::OK();
}

ReplayScan RingLog::ScanCommitted(uint64_t applied_pos, uint64_t applied_epoch, const JumpCheck& jump_ok) const {
  ReplayScan scan;
  scan.tail = applied_pos;
  // Everything after applied_pos that can hold unapplied records lies within one lap.
  const uint64_t limit = applied_pos + capacity_;
  EpochRecords cur;
  cur.epoch = applied_epoch + 1;
  cur.first_pos = applied_pos;
  wire::EpochChecksum sum;
  uint64_t bytes = 0;
  uint64_t pos = applied_pos;
  while (true) {
    wire::RecordView v;
    Status s = pos < limit ? Decode(pos, limit, &v) : Status::Corruption("a full lap scanned" + At(pos));
    if (!s.ok()) {
      scan.stop_reason = s.message();
      break;
    }
    const auto kind = static_cast<wire::RecordKind>(v.header.kind);
    if (kind == wire::RecordKind::kPad) {
      pos += v.footprint;
      continue;
    }
    // An epoch's first record (data, or the commit record of an empty epoch)
    // names its number; a catch-up epoch jumps ahead.
    if (cur.records.empty() && v.header.epoch > cur.epoch && jump_ok && jump_ok(v.header.epoch, cur.first_pos))
      cur.epoch = v.header.epoch;
    if (kind == wire::RecordKind::kData) {
      DataRef ref;
      s = CheckData(v, pos, cur.epoch, &ref);
      if (!s.ok()) {
        scan.stop_reason = s.message();
        break;
      }
      cur.records.push_back(ref);
      sum.Add(v.header.checksum);
      bytes += v.header.length;
      pos += v.footprint;
      continue;
    }
    wire::CommitBody body;
    std::memcpy(&body, v.payload, sizeof body);
    if (body.app_id != app_id_ || body.epoch != cur.epoch || v.header.epoch != cur.epoch ||
        body.record_count != cur.records.size() || body.byte_count != bytes || body.epoch_checksum != sum.Digest() ||
        body.first_pos != cur.first_pos) {
      scan.stop_reason = "commit record does not match the records before it" + At(pos);
      break;
    }
    pos += v.footprint;
    cur.end_pos = pos;
    scan.tail = pos;
    scan.committed.push_back(std::move(cur));
    cur = EpochRecords{};
    cur.epoch = scan.committed.back().epoch + 1;
    cur.first_pos = pos;
    sum = wire::EpochChecksum();
    bytes = 0;
  }
  scan.discarded_records = cur.records.size();
  return scan;
}

}  // namespace respct::memnode
