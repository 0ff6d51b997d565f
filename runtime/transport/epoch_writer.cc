#include "runtime/transport/epoch_writer.h"

#include <algorithm>
#include <string>

#include "runtime/wire/record.h"

namespace respct {

EpochWriter::EpochWriter(RingSink* sink, TransportStats* stats, uint64_t capacity, uint64_t tail, uint64_t applied,
                         uint64_t committed_epoch)
    : sink_(sink),
      stats_(stats),
      cursor_(capacity, tail, applied),
      committed_tail_(tail),
      committed_epoch_(committed_epoch) {}

Status EpochWriter::CheckEpoch(uint64_t epoch) const {
  // Usually committed + 1; more to catch up a replica that missed epochs.
  if (epoch <= committed_epoch_)
    return Status::FailedPrecondition("epoch " + std::to_string(epoch) + " does not follow committed epoch " +
                                      std::to_string(committed_epoch_));
  if (epoch_.open && epoch != epoch_.epoch)
    return Status::FailedPrecondition("epoch " + std::to_string(epoch) + " while epoch " +
                                      std::to_string(epoch_.epoch) + " is being built");
  return Status::OK();
}

void EpochWriter::OpenIfNeeded(uint64_t epoch) {
  if (epoch_.open) return;
  epoch_ = OpenEpoch{};
  epoch_.open = true;
  epoch_.epoch = epoch;
  epoch_.first_pos = cursor_.tail();
}

void EpochWriter::Discard() {
  if (epoch_.open) cursor_.Reset(epoch_.first_pos, cursor_.applied());
  epoch_ = OpenEpoch{};
}

void EpochWriter::SetApplied(uint64_t applied) {
  // Progress only moves forward and never past what the client wrote; a
  // stale or bogus report must not let the client overwrite live records.
  if (applied > cursor_.applied() && applied <= committed_tail_) cursor_.SetApplied(applied);
}

bool EpochWriter::Fits(uint64_t footprint, bool with_commit, wire::RingCursor::Placement* p) const {
  if (!cursor_.Place(footprint, p)) return false;
  if (!with_commit) return true;
  wire::RingCursor after = cursor_;
  after.Advance(*p);
  wire::RingCursor::Placement commit;
  return after.Place(wire::kCommitFootprint, &commit);
}

Status EpochWriter::PlaceWithRoom(uint64_t footprint, bool with_commit, const WaitForSpace& wait,
                                  wire::RingCursor::Placement* p) {
  bool waited = false;
  while (!Fits(footprint, with_commit, p)) {
    if (cursor_.applied() >= committed_tail_) {
      const uint64_t need = cursor_.tail() - epoch_.first_pos + footprint + (with_commit ? wire::kCommitFootprint : 0);
      const uint64_t capacity = cursor_.capacity();
      Discard();
      return Status::ResourceExhausted("epoch of " + std::to_string(need) + " bytes does not fit the ring of " +
                                       std::to_string(capacity) + " bytes");
    }
    if (!waited) ++stats_->ring_full_waits;
    waited = true;
    RESPCT_RETURN_IF_ERROR(wait());
  }
  return Status::OK();
}

Status EpochWriter::AppendOne(uint32_t region_id, uint64_t offset, const uint8_t* data, uint32_t len,
                              const WaitForSpace& wait) {
  const uint64_t footprint = wire::RecordFootprint(len);
  wire::RingCursor::Placement p;
  RESPCT_RETURN_IF_ERROR(PlaceWithRoom(footprint, /*with_commit=*/true, wait, &p));
  if (p.pad_len != 0) {
    // Only a pad's header is read: reserve one aligned unit, not the whole lap rest.
    auto pad = sink_->Reserve(p.pad_pos, wire::kRecordAlign);
    if (!pad.ok()) return pad.status();
    wire::EncodePadRecord(*pad, p.pad_pos, epoch_.epoch, p.pad_len);
    stats_->ring_bytes += p.pad_len;
  }
  auto dst = sink_->Reserve(p.pos, footprint);
  if (!dst.ok()) return dst.status();
  epoch_.checksum.Add(wire::EncodeDataRecord(*dst, p.pos, epoch_.epoch, region_id, offset, data, len));
  cursor_.Advance(p);
  ++epoch_.records;
  epoch_.payload_bytes += len;
  ++stats_->records;
  stats_->payload_bytes += len;
  stats_->ring_bytes += footprint;
  return Status::OK();
}

Status EpochWriter::Append(uint64_t epoch, uint32_t region_id, uint64_t offset, const void* data, size_t len,
                           const WaitForSpace& wait) {
  RESPCT_RETURN_IF_ERROR(CheckEpoch(epoch));
  OpenIfNeeded(epoch);
  const auto* bytes = static_cast<const uint8_t*>(data);
  size_t done = 0;
  while (done < len) {
    const auto n = static_cast<uint32_t>(std::min<size_t>(len - done, wire::kMaxRecordPayload));
    RESPCT_RETURN_IF_ERROR(AppendOne(region_id, offset + done, bytes + done, n, wait));
    done += n;
  }
  return Status::OK();
}

Result<wire::CommitMsg> EpochWriter::PrepareCommit(uint64_t epoch, const WaitForSpace& wait) {
  RESPCT_RETURN_IF_ERROR(CheckEpoch(epoch));
  OpenIfNeeded(epoch);
  wire::RingCursor::Placement p;
  RESPCT_RETURN_IF_ERROR(PlaceWithRoom(wire::kCommitFootprint, /*with_commit=*/false, wait, &p));
  RESPCT_RETURN_IF_ERROR(sink_->Flush());
  wire::CommitMsg msg{};
  msg.epoch = epoch;
  msg.first_pos = epoch_.first_pos;
  msg.end_pos = cursor_.tail();
  msg.record_count = epoch_.records;
  msg.byte_count = epoch_.payload_bytes;
  msg.epoch_checksum = epoch_.checksum.Digest();
  return msg;
}

Status EpochWriter::Committed(const wire::CommitAckMsg& ack) {
  wire::RingCursor::Placement p;
  if (!epoch_.open || !cursor_.Place(wire::kCommitFootprint, &p))
    return Status::FailedPrecondition("CommitAck without a prepared commit");
  if (ack.epoch != epoch_.epoch || ack.ring_tail != p.end)
    return Status::Corruption("CommitAck for epoch " + std::to_string(ack.epoch) + " with tail " +
                              std::to_string(ack.ring_tail) + ", expected epoch " + std::to_string(epoch_.epoch) +
                              " with tail " + std::to_string(p.end));
  stats_->ring_bytes += p.end - cursor_.tail();
  cursor_.Advance(p);
  committed_tail_ = p.end;
  committed_epoch_ = epoch_.epoch;
  epoch_ = OpenEpoch{};
  SetApplied(ack.ring_applied);
  ++stats_->commits;
  return Status::OK();
}

}  // namespace respct
