#include "runtime/transport/client_handshake.h"

#include <unistd.h>

#include <cstring>
#include <string>

namespace respct {

AttachReply::~AttachReply() {
  if (ring_fd >= 0) close(ring_fd);
}

Status ClientHandshake(FrameSocket& sock, const Secret& secret, std::string_view app, int timeout_ms) {
  if (!app.empty()) RESPCT_RETURN_IF_ERROR(wire::ValidateAppName(app));
  wire::HelloMsg hello{};
  hello.version = wire::kProtocolVersion;
  hello.app_len = static_cast<uint16_t>(app.size());
  Secret::RandomNonce(hello.client_nonce);
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

Result<AttachReply> ClientAttach(FrameSocket& sock, const ConnectOptions& options) {
  if (options.regions.size() > wire::kMaxRegions)
    return Status::InvalidArgument("at most " + std::to_string(wire::kMaxRegions) + " regions per app");
  wire::AttachMsg msg{};
  msg.flags = (options.writer ? wire::kAttachWriter : 0u) | (options.create ? wire::kAttachCreate : 0u) |
              (options.reset ? wire::kAttachReset : 0u);
  msg.region_count = static_cast<uint32_t>(options.regions.size());
  msg.ring_capacity = options.ring_capacity;
  std::vector<wire::RegionDesc> descs;
  for (const RegionSpec& r : options.regions) descs.push_back(wire::RegionDesc{r.id, 0, r.size, r.base_addr});
  RESPCT_RETURN_IF_ERROR(
      sock.Send(wire::MsgType::kAttach, &msg, sizeof msg, descs.data(), descs.size() * sizeof(wire::RegionDesc)));

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
  return reply;
}

}  // namespace respct
