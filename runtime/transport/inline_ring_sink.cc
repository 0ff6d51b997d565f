#include "runtime/transport/inline_ring_sink.h"

#include <algorithm>

#include "runtime/wire/message.h"
#include "runtime/wire/record.h"

namespace respct {

InlineRingSink::InlineRingSink(FrameChannel* sock, uint64_t capacity, uint64_t batch_bytes)
    : sock_(sock),
      capacity_(capacity),
      batch_bytes_(batch_bytes),
      batch_(new uint8_t[batch_bytes + wire::RecordFootprint(wire::kMaxRecordPayload)]) {}

Result<uint8_t*> InlineRingSink::Reserve(uint64_t pos, uint64_t len) {
  if (used_ > 0 && used_ + len > batch_bytes_) RESPCT_RETURN_IF_ERROR(Flush());
  if (len > batch_bytes_ + wire::RecordFootprint(wire::kMaxRecordPayload) - used_)
    return Status::InvalidArgument("record of " + std::to_string(len) + " bytes exceeds the largest record");
  if (runs_.empty() || runs_.back().pos + runs_.back().len != pos) {
    runs_.push_back(Run{pos, used_, 0});
  }
  runs_.back().len += len;
  uint8_t* out = batch_.get() + used_;
  used_ += len;
  return out;
}

Status InlineRingSink::Flush() {
  // A RingWrite may not cross a lap end (the memnode copies it to one slot
  // range) nor exceed a frame's payload bound.
  constexpr uint64_t kMaxBytesPerWrite = wire::kMaxFramePayload - sizeof(wire::RingWriteMsg);
  for (const Run& run : runs_) {
    uint64_t done = 0;
    while (done < run.len) {
      const uint64_t pos = run.pos + done;
      const uint64_t to_lap_end = capacity_ - pos % capacity_;
      const uint64_t n = std::min({run.len - done, kMaxBytesPerWrite, to_lap_end});
      const wire::RingWriteMsg msg{pos};
      Status st = sock_->Send(wire::MsgType::kRingWrite, &msg, sizeof msg, batch_.get() + run.begin + done, n);
      if (!st.ok()) {
        runs_.clear();
        used_ = 0;
        return st;
      }
      done += n;
    }
  }
  runs_.clear();
  used_ = 0;
  return Status::OK();
}

}  // namespace respct
