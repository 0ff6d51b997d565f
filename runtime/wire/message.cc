#include "runtime/wire/message.h"

#include <cstring>
#include <string>

namespace respct::wire {
namespace {

// Payload length rule of each type: exact size, or [min, max] for variable ones.
struct LengthRule {
  uint32_t min;
  uint32_t max;
};

bool RuleFor(MsgType t, LengthRule* r) {
  auto exact = [&](uint32_t n) { *r = {n, n}; return true; };
  auto range = [&](uint32_t lo, uint32_t hi) { *r = {lo, hi}; return true; };
  switch (t) {
    case MsgType::kHello: return exact(sizeof(HelloMsg));
    case MsgType::kChallenge: return exact(sizeof(ChallengeMsg));
    case MsgType::kAuth: return exact(sizeof(AuthMsg));
    case MsgType::kAuthOk: return exact(0);
    case MsgType::kError: return range(sizeof(ErrorMsg), sizeof(ErrorMsg) + 4096);
    case MsgType::kAttach:
      return range(sizeof(AttachMsg), sizeof(AttachMsg) + kMaxRegions * sizeof(RegionDesc) + kWriterTokenSize);
    case MsgType::kAttachOk:
      return range(sizeof(AttachOkMsg), sizeof(AttachOkMsg) + kMaxRegions * sizeof(RegionDesc));
    case MsgType::kRingWrite: return range(sizeof(RingWriteMsg) + 1, kMaxFramePayload);
    case MsgType::kCommit: return exact(sizeof(CommitMsg));
    case MsgType::kCommitAck: return exact(sizeof(CommitAckMsg));
    case MsgType::kRingProgress: return exact(sizeof(RingProgressMsg));
    case MsgType::kReadImage: return exact(sizeof(ReadImageMsg));
    case MsgType::kImageData: return range(sizeof(ImageDataMsg) + 1, kMaxFramePayload);
    case MsgType::kListApps: return exact(0);
    case MsgType::kAppList: return range(4, kMaxFramePayload);
    case MsgType::kListEpochs: return exact(sizeof(EpochQueryMsg));
    case MsgType::kEpochList:
      return range(sizeof(EpochListMsg), sizeof(EpochListMsg) + kMaxEpochsPerQuery * sizeof(EpochInfo));
    case MsgType::kListWrites: return exact(sizeof(EpochQueryMsg));
    case MsgType::kWriteList:
      return range(sizeof(WriteListMsg), sizeof(WriteListMsg) + kMaxRangesPerFrame * sizeof(WrittenRange));
    case MsgType::kRemoteRing: return exact(sizeof(RemoteRingMsg));
    case MsgType::kImageGrant: return exact(sizeof(ImageGrantMsg));
    case MsgType::kImageReadDone: return exact(sizeof(ImageReadDoneMsg));
    case MsgType::kImageSums: return range(sizeof(ImageSumsMsg), kMaxFramePayload);
  }
  return false;
}

}  // namespace

const char* MsgTypeName(MsgType t) {
  switch (t) {
    case MsgType::kHello: return "Hello";
    case MsgType::kChallenge: return "Challenge";
    case MsgType::kAuth: return "Auth";
    case MsgType::kAuthOk: return "AuthOk";
    case MsgType::kError: return "Error";
    case MsgType::kAttach: return "Attach";
    case MsgType::kAttachOk: return "AttachOk";
    case MsgType::kRingWrite: return "RingWrite";
    case MsgType::kCommit: return "Commit";
    case MsgType::kCommitAck: return "CommitAck";
    case MsgType::kRingProgress: return "RingProgress";
    case MsgType::kReadImage: return "ReadImage";
    case MsgType::kImageData: return "ImageData";
    case MsgType::kListApps: return "ListApps";
    case MsgType::kAppList: return "AppList";
    case MsgType::kListEpochs: return "ListEpochs";
    case MsgType::kEpochList: return "EpochList";
    case MsgType::kListWrites: return "ListWrites";
    case MsgType::kWriteList: return "WriteList";
    case MsgType::kRemoteRing: return "RemoteRing";
    case MsgType::kImageGrant: return "ImageGrant";
    case MsgType::kImageReadDone: return "ImageReadDone";
    case MsgType::kImageSums: return "ImageSums";
  }
  return "unknown";
}

FrameHeader MakeFrameHeader(MsgType type, uint32_t length) {
  return FrameHeader{kFrameMagic, kProtocolVersion, static_cast<uint16_t>(type), length, 0};
}

Status CheckFrameHeader(const FrameHeader& h) {
  if (h.magic != kFrameMagic) return Status::Corruption("bad frame magic (not a respct peer?)");
  if (h.version != kProtocolVersion)
    return Status::Corruption("unsupported protocol version " + std::to_string(h.version) + " (this side speaks " +
                              std::to_string(kProtocolVersion) + ")");
  LengthRule r;
  if (!RuleFor(static_cast<MsgType>(h.type), &r))
    return Status::Corruption("unknown message type " + std::to_string(h.type));
  if (h.length < r.min || h.length > r.max)
    return Status::Corruption(std::string(MsgTypeName(static_cast<MsgType>(h.type))) + " message of bad length " +
                              std::to_string(h.length));
  return Status::OK();
}

Status ValidateAppName(std::string_view name) {
  if (name.empty() || name.size() > kAppNameMax)
    return Status::InvalidArgument("app name must have 1 to " + std::to_string(kAppNameMax) + " characters");
  if (name.front() == '.') return Status::InvalidArgument("app name must not start with '.'");
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return Status::InvalidArgument("app name '" + std::string(name) + "' has a character outside [A-Za-z0-9._-]");
  }
  return Status::OK();
}

Status CheckEpochQuery(const EpochQueryMsg& q) {
  if (std::memchr(q.app, '\0', sizeof q.app) == nullptr)
    return Status::InvalidArgument("epoch query: app name is not NUL-terminated");
  if (q.from_epoch > q.to_epoch)
    return Status::InvalidArgument("epoch range " + std::to_string(q.from_epoch) + ".." +
                                   std::to_string(q.to_epoch) + " is empty");
  if (q.to_epoch - q.from_epoch >= kMaxEpochsPerQuery)
    return Status::InvalidArgument("epoch range " + std::to_string(q.from_epoch) + ".." +
                                   std::to_string(q.to_epoch) + " spans more than " +
                                   std::to_string(kMaxEpochsPerQuery) + " epochs");
  return Status::OK();
}

}  // namespace respct::wire
