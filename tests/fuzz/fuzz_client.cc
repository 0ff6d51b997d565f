// fuzz_client: the client side of the memnode protocol (runtime/transport:
// ClientHandshake, ClientAttach, ClientSession over an inline ring) fed a
// hostile or broken memnode's replies. respct-run, respct-recover and
// respct-inspect all trust what comes back only after these checks; a bad
// reply must end in a Status, never in a crash, a read out of bounds or a
// write outside the caller's buffer.
//
// Input: a mode byte (admin session, reader, writer), then the script the
// harness plays as the memnode. The handshake's Challenge carries a correct
// server proof (unless the script asks for a wrong one) so that the fuzzer
// reaches Attach and what follows; AttachOk and every later reply is either
// raw bytes, an Error, a RingProgress, or a reply of the awaited type whose
// fields come from the input with the ones a checker compares (epoch,
// offset, counts and lengths) made plausible.
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "runtime/transport/client_handshake.h"
#include "runtime/transport/client_session.h"
#include "runtime/transport/secret.h"
#include "runtime/wire/image_sums.h"
#include "runtime/wire/record.h"
#include "tests/fuzz/scripted_channel.h"

namespace respct::fuzz {
namespace {

constexpr char kApp[] = "fuzz";
const Secret& TheSecret() {
  static const Secret secret = Secret::FromBytes("fuzz-client-secret-0123456789abc");
  return secret;
}

class ScriptedMemnode {
 public:
  ScriptedMemnode(FuzzBytes* in, const std::string& app) : in_(in), app_(app) {}

  void OnSend(wire::MsgType type, const std::vector<uint8_t>& p) {
    last_ = type;
    last_payload_ = p;
    if (type == wire::MsgType::kHello) {
      const auto hello = FromBytes<wire::HelloMsg>(p);
      wire::ChallengeMsg ch{};
      (void)Secret::RandomNonce(ch.server_nonce);
      const Secret::Proof proof = TheSecret().Prove(kServerProofLabel, hello.client_nonce, app_);
      std::memcpy(ch.server_proof, proof.data(), proof.size());
      if ((in_->U8() & 0xf) == 0) ch.server_proof[0] ^= 1;
      chan_->Deliver(wire::MsgType::kChallenge, Payload(ch));
    } else if (type == wire::MsgType::kAuth) {
      chan_->Deliver(wire::MsgType::kAuthOk, {});
    }
  }

  // One reply frame from the script; false when it is over.
  bool Next() {
    if (in_->empty()) return false;
    switch (in_->U8() % 6) {
      case 0: {
        const uint16_t type = in_->U8();
        chan_->Deliver(type, in_->Take(in_->U16()));
        break;
      }
      case 1: {
        const wire::ErrorMsg e{in_->U8() % 12u, in_->U8()};
        const std::vector<uint8_t> text = in_->Take(e.message_len);
        chan_->Deliver(wire::MsgType::kError, Payload(wire::ErrorMsg{e.code, static_cast<uint32_t>(text.size())},
                                                      text.data(), text.size()));
        break;
      }
      case 2:
        chan_->Deliver(wire::MsgType::kRingProgress, Payload(wire::RingProgressMsg{in_->U64(), in_->U64()}));
        break;
      default:
        PlausibleReply();
        break;
    }
    return true;
  }

  void set_channel(ScriptedChannel* chan) { chan_ = chan; }

 private:
  template <typename T>
  T Last() const {
    return FromBytes<T>(last_payload_);
  }

  void PlausibleReply() {
    switch (last_) {
      case wire::MsgType::kAttach: {
        const auto req = Last<wire::AttachMsg>();
        wire::AttachOkMsg ok{};
        ok.app_id = in_->U64();
        ok.committed_epoch = in_->U8();
        ok.applied_epoch = ok.committed_epoch - (in_->U8() % 2);
        ok.ring_capacity = wire::AlignUp(wire::kMinRingCapacity, 64) + uint64_t{in_->U8()} * 64;
        ok.ring_applied = in_->U32();
        ok.ring_tail = ok.ring_applied + in_->U16();
        ok.ring_mode = (in_->U8() & 7) == 0 ? in_->U8() : static_cast<uint32_t>(wire::RingMode::kInline);
        ok.region_count = req.region_count;
        std::vector<uint8_t> regions(last_payload_.begin() + sizeof req, last_payload_.end());
        if ((in_->U8() & 3) == 0) ok.region_count = in_->U8() % 4;
        chan_->Deliver(wire::MsgType::kAttachOk, Payload(ok, regions.data(), regions.size()));
        break;
      }
      case wire::MsgType::kCommit: {
        const auto c = Last<wire::CommitMsg>();
        const wire::CommitAckMsg ack{(in_->U8() & 7) == 0 ? in_->U64() : c.epoch, c.end_pos + wire::kCommitFootprint,
                                     c.end_pos + wire::kCommitFootprint - (in_->U16() * uint64_t{64})};
        chan_->Deliver(wire::MsgType::kCommitAck, Payload(ack));
        break;
      }
      case wire::MsgType::kReadImage: {
        // ImageSums then ImageData: the sums are right for the bytes sent
        // (unless the read reaches its region's end, which the harness does
        // not track), or, sometimes, one of them is wrong.
        const auto r = Last<wire::ReadImageMsg>();
        const wire::ImageDataMsg head{r.offset + (in_->U8() & 0x80 ? in_->U16() : 0)};
        const std::vector<uint8_t> bytes = in_->Take(in_->U16());
        const wire::PageSpan whole = wire::WholePages(head.offset, bytes.size(), UINT64_MAX);
        std::vector<uint64_t> sums;
        for (uint64_t p = whole.first; p < whole.end; ++p)
          sums.push_back(wire::ImagePageSum(bytes.data() + (p * wire::kImageSumPage - head.offset), wire::kImageSumPage));
        if (!sums.empty() && (in_->U8() & 7) == 0) sums[in_->U8() % sums.size()] ^= 1;
        chan_->Deliver(wire::MsgType::kImageSums, Payload(wire::ImageSumsMsg{whole.first, whole.count()}, sums.data(),
                                                          sums.size() * sizeof(uint64_t)));
        chan_->Deliver(wire::MsgType::kImageData, Payload(head, bytes.data(), bytes.size()));
        break;
      }
      case wire::MsgType::kListApps: {
        const uint32_t count = in_->U8() % 4;
        std::vector<wire::AppSummary> apps(count);
        for (auto& a : apps) a = FromBytes<wire::AppSummary>(in_->Take(sizeof a));
        chan_->Deliver(wire::MsgType::kAppList, Payload(count, apps.data(), apps.size() * sizeof(wire::AppSummary)));
        break;
      }
      case wire::MsgType::kListEpochs: {
        const auto q = Last<wire::EpochQueryMsg>();
        const uint32_t count = in_->U8() % 8;
        const wire::EpochListMsg head{q.to_epoch + in_->U8() % 2, q.from_epoch, count, 0};
        std::vector<wire::EpochInfo> epochs(count);
        for (uint32_t i = 0; i < count; ++i)
          epochs[i] = wire::EpochInfo{q.from_epoch + i + in_->U8() % 2, in_->U64(), in_->U32(), in_->U16(), in_->U32(),
                                      in_->U32()};
        chan_->Deliver(wire::MsgType::kEpochList, Payload(head, epochs.data(), epochs.size() * sizeof(wire::EpochInfo)));
        break;
      }
      case wire::MsgType::kListWrites: {
        const auto q = Last<wire::EpochQueryMsg>();
        const uint32_t count = in_->U8() % 8;
        const wire::WriteListMsg head{q.from_epoch + 1 + in_->U8() % 3, in_->U8() % 4u, count, in_->U8() % 2u, 0};
        std::vector<wire::WrittenRange> ranges(count);
        for (auto& r : ranges) r = wire::WrittenRange{in_->U8() % 4u, in_->U16(), in_->U32()};
        chan_->Deliver(wire::MsgType::kWriteList,
                       Payload(head, ranges.data(), ranges.size() * sizeof(wire::WrittenRange)));
        break;
      }
      default:
        chan_->Deliver(wire::MsgType::kRingProgress, Payload(wire::RingProgressMsg{in_->U8(), in_->U32()}));
        break;
    }
  }

  FuzzBytes* in_;
  std::string app_;
  ScriptedChannel* chan_ = nullptr;
  wire::MsgType last_ = wire::MsgType::kHello;
  std::vector<uint8_t> last_payload_;
};

void RunClient(FuzzBytes& in) {
  const int mode = in.U8() % 3;  // 0 admin, 1 reader, 2 writer
  const std::string app = mode == 0 ? "" : kApp;
  ScriptedMemnode memnode(&in, app);
  auto chan = std::make_unique<ScriptedChannel>([&](auto t, const auto& p, int) { memnode.OnSend(t, p); },
                                                [&] { return memnode.Next(); });
  memnode.set_channel(chan.get());
  ScriptedChannel* raw = chan.get();
  if (!ClientHandshake(*raw, TheSecret(), app, 1000).ok()) return;

  std::unique_ptr<AttachReply> attach;
  std::unique_ptr<RingSink> sink;
  const uint64_t region_sizes[] = {256u << 10, 64u << 10};
  if (mode != 0) {
    ConnectOptions options;
    options.app = app;
    options.writer = mode == 2;
    options.regions = {RegionSpec{1, region_sizes[0], 0}, RegionSpec{2, region_sizes[1], 0}};
    auto reply = ClientAttach(*raw, options);
    if (!reply.ok()) return;
    attach = std::make_unique<AttachReply>(std::move(*reply));
    if (mode == 2) {
      auto s = MakeWriterSink(*attach, raw, false);
      if (!s.ok()) return;
      sink = std::move(*s);
    }
  }
  ClientSession session("fuzz://memnode", std::move(chan), attach.get(), std::move(sink), 1000);
  uint64_t epoch = attach != nullptr ? attach->ok.committed_epoch + 1 : 1;
  std::vector<uint8_t> buf;
  for (int ops = 0; ops < 64 && !in.empty(); ++ops) {
    switch (in.U8() % 6) {
      case 0: {
        const uint32_t region = 1 + in.U8() % 3;
        const uint64_t offset = in.U32() % (region_sizes[0] + 64);
        buf.assign(in.U16() % 8192, static_cast<uint8_t>(ops));
        (void)session.Append(epoch, region, offset, buf.data(), buf.size());
        break;
      }
      case 1:
        if (session.Commit(epoch).ok()) ++epoch;
        break;
      case 2: {
        const uint32_t region = 1 + in.U8() % 3;
        const uint64_t offset = in.U32() % (region_sizes[0] + 64);
        buf.assign(in.U16() % (64u << 10), 0);
        (void)session.ReadImage(region, offset, buf.data(), buf.size());
        break;
      }
      case 3:
        (void)session.ListApps();
        break;
      case 4: {
        const uint64_t from = in.U8();
        (void)session.ListEpochs(app, from, from + in.U8());
        break;
      }
      default: {
        const uint64_t from = in.U8();
        (void)session.ListWrites(app, from, from + 1 + in.U8());
        break;
      }
    }
  }
}

}  // namespace
}  // namespace respct::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  respct::fuzz::FuzzBytes in(data, size);
  respct::fuzz::RunClient(in);
  return 0;
}
