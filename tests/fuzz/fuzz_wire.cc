// fuzz_wire: bytes a peer controls, decoded the way their receiver decodes
// them (runtime/wire). The first byte picks the decoder:
//   0  a ring lap of log records: DecodeRecord walks it from an expected
//      position as the memnode's scan does (records, pads, commit bodies),
//      each data record then bounds-checked against a region
//   1  a byte stream of frames through a real FrameSocket (a socketpair):
//      every frame that passes CheckFrameHeader is read the way its
//      receiver reads its type (Error text, epoch queries, app names)
//   2  app names and epoch queries on their own
// Every outcome is a Status; the target only checks that decoding never
// reads out of bounds, never trusts a length it did not check and agrees
// with itself (a record that decodes has the footprint it claims, inside the lap).
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "runtime/transport/frame_socket.h"
#include "runtime/wire/message.h"
#include "runtime/wire/record.h"
#include "tests/fuzz/scripted_channel.h"

namespace respct::fuzz {
namespace {

// What a socketpair buffers without a reader: the stream case writes its
// whole input before it reads, so longer inputs are cut here.
constexpr size_t kMaxStream = 96u << 10;

void Require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_wire: %s\n", what);
  std::abort();
}

void DecodeLap(FuzzBytes& in) {
  uint64_t pos = in.U64() & ~uint64_t{wire::kRecordAlign - 1};
  const uint64_t region_size = in.U32();
  const std::vector<uint8_t> lap = in.Take(in.remaining());
  size_t at = 0;
  while (at < lap.size()) {
    wire::RecordView v;
    if (!wire::DecodeRecord(lap.data() + at, lap.size() - at, pos, &v).ok()) return;
    Require(v.footprint >= wire::kRecordAlign && v.footprint % wire::kRecordAlign == 0, "footprint not aligned");
    Require(v.footprint <= lap.size() - at, "a record that does not fit its lap decoded");
    if (v.header.kind == static_cast<uint16_t>(wire::RecordKind::kData)) {
      Require(v.payload + v.header.length <= lap.data() + lap.size(), "payload past the lap");
      (void)wire::CheckRecordBounds(v.header, region_size);
    }
    if (v.header.kind == static_cast<uint16_t>(wire::RecordKind::kCommit) &&
        v.header.length == sizeof(wire::CommitBody)) {
      wire::CommitBody body;
      std::memcpy(&body, v.payload, sizeof body);
      (void)body;
    }
    at += v.footprint;
    pos += v.footprint;
  }
}

// Reads a received frame as its receiver would.
void ReadFrame(const Frame& f) {
  switch (f.type()) {
    case wire::MsgType::kError:
      (void)StatusFromErrorFrame(f).ToString();
      break;
    case wire::MsgType::kHello: {
      const auto hello = f.As<wire::HelloMsg>();
      if (hello.app_len <= wire::kAppNameMax) (void)wire::ValidateAppName(std::string_view(hello.app, hello.app_len));
      break;
    }
    case wire::MsgType::kListEpochs:
    case wire::MsgType::kListWrites:
      (void)wire::CheckEpochQuery(f.As<wire::EpochQueryMsg>());
      break;
    default:
      (void)wire::MsgTypeName(f.type());
      break;
  }
}

void DecodeStream(FuzzBytes& in) {
  const std::vector<uint8_t> bytes = in.Take(kMaxStream);
  int sv[2];
  Require(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
  const int buf = 1 << 20;
  setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = send(sv[1], bytes.data() + sent, bytes.size() - sent, MSG_DONTWAIT);
    if (n <= 0) break;  // buffer full: the rest is never seen
    sent += static_cast<size_t>(n);
  }
  close(sv[1]);
  FrameSocket sock(sv[0]);
  Frame f;
  // Every Receive consumes at least a header or ends the stream.
  while (sock.Receive(&f, 0).ok()) {
    Require(f.payload.size() == f.header.length, "payload size differs from the header's length");
    ReadFrame(f);
  }
}

void DecodeNames(FuzzBytes& in) {
  const std::vector<uint8_t> raw = in.Take(sizeof(wire::EpochQueryMsg));
  (void)wire::CheckEpochQuery(FromBytes<wire::EpochQueryMsg>(raw));
  const std::vector<uint8_t> name = in.Take(in.remaining());
  (void)wire::ValidateAppName(std::string_view(reinterpret_cast<const char*>(name.data()), name.size()));
  (void)wire::CheckFrameHeader(FromBytes<wire::FrameHeader>(raw));
}

}  // namespace
}  // namespace respct::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace respct::fuzz;
  FuzzBytes in(data, size);
  switch (in.U8() % 3) {
    case 0: DecodeLap(in); break;
    case 1: DecodeStream(in); break;
    default: DecodeNames(in); break;
  }
  return 0;
}
