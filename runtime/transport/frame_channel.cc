#include "runtime/transport/frame_channel.h"

#include <algorithm>
#include <string>

namespace respct {

Status FrameChannel::SendError(const Status& st) {
  wire::ErrorMsg e{static_cast<uint32_t>(st.code()), static_cast<uint32_t>(std::min<size_t>(st.message().size(), 4096))};
  return SendParts(wire::MsgType::kError, &e, sizeof e, st.message().data(), e.message_len, -1);
}

Status FrameChannel::Expect(wire::MsgType want, Frame* out, int timeout_ms) {
  RESPCT_RETURN_IF_ERROR(Receive(out, timeout_ms));
  if (out->type() == want) return Status::OK();
  if (out->type() == wire::MsgType::kError) return StatusFromErrorFrame(*out);
  return Status::Corruption(std::string("expected ") + wire::MsgTypeName(want) + ", got " +
                            wire::MsgTypeName(out->type()));
}

Status StatusFromErrorFrame(const Frame& f) {
  const auto e = f.As<wire::ErrorMsg>();
  const size_t avail = f.payload.size() - sizeof(wire::ErrorMsg);
  std::string m(reinterpret_cast<const char*>(f.payload.data()) + sizeof(wire::ErrorMsg),
                std::min<size_t>(avail, e.message_len));
  m = "memnode: " + m;
  switch (static_cast<Status::Code>(e.code)) {
    case Status::Code::kInvalidArgument: return Status::InvalidArgument(m);
    case Status::Code::kCorruption: return Status::Corruption(m);
    case Status::Code::kNotFound: return Status::NotFound(m);
    case Status::Code::kPermissionDenied: return Status::PermissionDenied(m);
    case Status::Code::kUnavailable: return Status::Unavailable(m);
    case Status::Code::kResourceExhausted: return Status::ResourceExhausted(m);
    case Status::Code::kFailedPrecondition: return Status::FailedPrecondition(m);
    case Status::Code::kBusy: return Status::Busy(m);
    default: return Status::IOError(m);
  }
}

}  // namespace respct
