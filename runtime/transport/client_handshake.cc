#include "runtime/transport/client_handshake.h"

#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "runtime/transport/frame_socket.h"
#include "runtime/transport/inline_ring_sink.h"
#include "runtime/transport/shared_ring_sink.h"
#include "runtime/transport/verbs_channel.h"
#include "runtime/transport/verbs_ring_sink.h"

namespace respct {

AttachReply::~AttachReply() {
  if (ring_fd >= 0) close(ring_fd);
}

Result<std::unique_ptr<FrameChannel>> ConnectChannel(const Endpoint& ep, int timeout_ms) {
  switch (ep.kind) {
    case Endpoint::Kind::kTcp:
    case Endpoint::Kind::kShm: {
      auto s = ep.kind == Endpoint::Kind::kTcp ? FrameSocket::ConnectTcp(ep.host, ep.port, timeout_ms)
                                               : FrameSocket::ConnectUnix(ep.path, timeout_ms);
      if (!s.ok()) return s.status();
      return std::unique_ptr<FrameChannel>(std::make_unique<FrameSocket>(std::move(*s)));
    }
    case Endpoint::Kind::kRdma: {
      auto v = VerbsChannel::Connect(ep.host, ep.port, timeout_ms);
      if (!v.ok()) return v.status();
      return std::unique_ptr<FrameChannel>(std::move(*v));
    }
  }
  return Status::InvalidArgument("unknown endpoint kind");
}

Status ClientHandshake(FrameChannel& sock, const Secret& secret, std::string_view app, int timeout_ms) {
  if (!app.empty()) RESPCT_RETURN_IF_ERROR(wire::ValidateAppName(app));
  wire::HelloMsg hello{};
  hello.version = wire::kProtocolVersion;
  hello.app_len = static_cast<uint16_t>(app.size());
  RESPCT_RETURN_IF_ERROR(Secret::RandomNonce(hello.client_nonce));
  std::memcpy(hello.app, app.data(), app.size());
  RESPCT_RETURN_IF_ERROR(sock.SendStruct(wire::MsgType::kHello, hello));

  Frame f;
  RESPCT_RETURN_IF_ERROR(sock.Expect(wire::MsgType::kChallenge, &f, timeout_ms));
  const auto challenge = f.As<wire::ChallengeMsg>();
  // Checking the server first means a client never proves itself to an impostor.
  if (!secret.Verify(challenge.server_proof, kServerProofLabel, hello.client_nonce, app))
    return Status::PermissionDenied(
        "authentication failed: the memnode does not hold the same shared secret (wrong secret file?)");

  wire::AuthMsg auth{};
  const Secret::Proof proof = secret.Prove(kClientProofLabel, challenge.server_nonce, app);
  std::memcpy(auth.client_proof, proof.data(), proof.size());
  RESPCT_RETURN_IF_ERROR(sock.SendStruct(wire::MsgType::kAuth, auth));
  return sock.Expect(wire::MsgType::kAuthOk, &f, timeout_ms);
}

Result<AttachReply> ClientAttach(FrameChannel& sock, const ConnectOptions& options) {
  if (options.regions.size() > wire::kMaxRegions)
    return Status::InvalidArgument("at most " + std::to_string(wire::kMaxRegions) + " regions per app");
  const bool token = options.writer && options.writer_token != decltype(options.writer_token){};
  wire::AttachMsg msg{};
  msg.flags = (options.writer ? wire::kAttachWriter : 0u) | (options.create ? wire::kAttachCreate : 0u) |
              (options.reset ? wire::kAttachReset : 0u) |
              (options.writer && options.client_persists ? wire::kAttachClientPersists : 0u) |
              (token ? wire::kAttachWriterToken : 0u) |
              (options.writer && options.writer_generation != 0 ? wire::kAttachGeneration : 0u) |
              (options.writer && options.writer_generation != 0 && options.take_over ? wire::kAttachTakeOver : 0u);
  msg.region_count = static_cast<uint32_t>(options.regions.size());
  msg.ring_capacity = options.ring_capacity;
  std::vector<uint8_t> tail(options.regions.size() * sizeof(wire::RegionDesc));
  for (size_t i = 0; i < options.regions.size(); ++i) {
    const RegionSpec& r = options.regions[i];
    const wire::RegionDesc d{r.id, 0, r.size, r.base_addr};
    std::memcpy(tail.data() + i * sizeof d, &d, sizeof d);
  }
  if (token) tail.insert(tail.end(), options.writer_token.begin(), options.writer_token.end());
  if (options.writer && options.writer_generation != 0) {
    const auto* g = reinterpret_cast<const uint8_t*>(&options.writer_generation);
    tail.insert(tail.end(), g, g + sizeof options.writer_generation);
  }
  RESPCT_RETURN_IF_ERROR(sock.Send(wire::MsgType::kAttach, &msg, sizeof msg, tail.data(), tail.size()));

  Frame f;
  RESPCT_RETURN_IF_ERROR(sock.Expect(wire::MsgType::kAttachOk, &f, options.timeout_ms));
  AttachReply reply;
  reply.ring_fd = f.TakeFd();
  reply.ok = f.As<wire::AttachOkMsg>();
  const wire::AttachOkMsg& ok = reply.ok;
  if (f.payload.size() != sizeof ok + uint64_t{ok.region_count} * sizeof(wire::RegionDesc))
    return Status::Corruption("AttachOk length does not match its region count");
  reply.regions.resize(ok.region_count);
  // memcpy from/to an empty vector's null data() is undefined even for 0 bytes.
  if (ok.region_count != 0)
    std::memcpy(reply.regions.data(), f.payload.data() + sizeof ok, ok.region_count * sizeof(wire::RegionDesc));
  // The ring arithmetic below trusts these: check them once here.
  if (ok.ring_capacity < wire::kMinRingCapacity || ok.ring_capacity % wire::kRecordAlign != 0 ||
      ok.ring_applied > ok.ring_tail || ok.ring_tail - ok.ring_applied > ok.ring_capacity ||
      ok.applied_epoch > ok.committed_epoch)
    return Status::Corruption("AttachOk with an inconsistent ring (capacity " + std::to_string(ok.ring_capacity) +
                              ", tail " + std::to_string(ok.ring_tail) + ", applied " +
                              std::to_string(ok.ring_applied) + ")");
  if (ok.ring_mode == static_cast<uint32_t>(wire::RingMode::kRemote)) {
    RESPCT_RETURN_IF_ERROR(sock.Expect(wire::MsgType::kRemoteRing, &f, options.timeout_ms));
    reply.remote_ring = f.As<wire::RemoteRingMsg>();
  }
  return reply;
}

Result<std::unique_ptr<RingSink>> MakeWriterSink(AttachReply& attach, FrameChannel* chan, bool client_persists) {
  const uint64_t capacity = attach.ok.ring_capacity;
  switch (static_cast<wire::RingMode>(attach.ok.ring_mode)) {
    case wire::RingMode::kInline:
      return std::unique_ptr<RingSink>(std::make_unique<InlineRingSink>(chan, capacity));
    case wire::RingMode::kShared: {
      if (attach.ring_fd < 0) return Status::Corruption("memnode chose a shared ring but passed no descriptor");
      auto sink = SharedRingSink::Map(attach.TakeFd(), capacity);
      if (!sink.ok()) return sink.status();
      return std::unique_ptr<RingSink>(std::move(*sink));
    }
    case wire::RingMode::kRemote: {
      auto* verbs = dynamic_cast<VerbsChannel*>(chan);
      if (verbs == nullptr) return Status::Corruption("memnode chose a remote ring on a connection without RDMA");
      const wire::RemoteRingMsg& r = attach.remote_ring;
      auto sink = VerbsRingSink::Create(verbs->connection(), RemoteWindow{r.addr, r.length, r.rkey}, capacity,
                                        client_persists);
      if (!sink.ok()) return sink.status();
      return std::unique_ptr<RingSink>(std::move(*sink));
    }
  }
  return Status::Corruption("memnode chose unknown ring mode " + std::to_string(attach.ok.ring_mode));
}

}  // namespace respct
