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
  switch (const auto code = static_cast<Status::Code>(e.code)) {
    case Status::Code::kInvalidArgument:
    case Status::Code::kCorruption:
    case Status::Code::kNotFound:
    case Status::Code::kPermissionDenied:
    case Status::Code::kUnavailable:
    case Status::Code::kResourceExhausted:
    case Status::Code::kFailedPrecondition:
    case Status::Code::kBusy:
    case Status::Code::kFenced:
      return Status::FromPeer(code, m);
    default:
      return Status::FromPeer(Status::Code::kIOError, m);
  }
}

}  // namespace respct
