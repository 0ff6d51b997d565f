// Frame header checks, app names, endpoints and secret proofs.
#include "runtime/wire/message.h"

#include <gtest/gtest.h>

#include "runtime/transport/secret.h"
#include "runtime/transport/transport.h"

namespace respct::wire {
namespace {

TEST(Frame, AcceptsEachTypeAtItsLength) {
  EXPECT_TRUE(CheckFrameHeader(MakeFrameHeader(MsgType::kHello, sizeof(HelloMsg))).ok());
  EXPECT_TRUE(CheckFrameHeader(MakeFrameHeader(MsgType::kCommit, sizeof(CommitMsg))).ok());
  EXPECT_TRUE(CheckFrameHeader(MakeFrameHeader(MsgType::kAuthOk, 0)).ok());
  EXPECT_TRUE(CheckFrameHeader(MakeFrameHeader(MsgType::kRingWrite, 8 + 64)).ok());
  EXPECT_TRUE(CheckFrameHeader(MakeFrameHeader(MsgType::kAttach, sizeof(AttachMsg) + 3 * sizeof(RegionDesc))).ok());
}

TEST(FrameReject, BadMagicVersionType) {
  FrameHeader h = MakeFrameHeader(MsgType::kCommit, sizeof(CommitMsg));
  h.magic = 0x47455420;  // "GET " from an HTTP client
  EXPECT_TRUE(CheckFrameHeader(h).IsCorruption());
  h = MakeFrameHeader(MsgType::kCommit, sizeof(CommitMsg));
  h.version = kProtocolVersion + 1;
  Status st = CheckFrameHeader(h);
  EXPECT_TRUE(st.IsCorruption());
  EXPECT_NE(st.message().find("version"), std::string::npos);
  h = MakeFrameHeader(MsgType::kCommit, sizeof(CommitMsg));
  h.type = 999;
  EXPECT_TRUE(CheckFrameHeader(h).IsCorruption());
}

TEST(FrameReject, LengthNotFittingTheType) {
  EXPECT_TRUE(CheckFrameHeader(MakeFrameHeader(MsgType::kCommit, sizeof(CommitMsg) - 1)).IsCorruption());
  EXPECT_TRUE(CheckFrameHeader(MakeFrameHeader(MsgType::kCommit, sizeof(CommitMsg) + 1)).IsCorruption());
  EXPECT_TRUE(CheckFrameHeader(MakeFrameHeader(MsgType::kRingWrite, 8)).IsCorruption());
  EXPECT_TRUE(CheckFrameHeader(MakeFrameHeader(MsgType::kRingWrite, kMaxFramePayload + 1)).IsCorruption());
  EXPECT_TRUE(CheckFrameHeader(MakeFrameHeader(MsgType::kAttach, sizeof(AttachMsg) + 33 * sizeof(RegionDesc)))
                  .IsCorruption());
  EXPECT_TRUE(CheckFrameHeader(MakeFrameHeader(MsgType::kHello, 0xffffffffu)).IsCorruption());
}

TEST(AppName, Rules) {
  EXPECT_TRUE(ValidateAppName("bank").ok());
  EXPECT_TRUE(ValidateAppName("kv-store_2.v1").ok());
  EXPECT_FALSE(ValidateAppName("").ok());
  EXPECT_FALSE(ValidateAppName(".hidden").ok());
  EXPECT_FALSE(ValidateAppName("a/b").ok());
  EXPECT_FALSE(ValidateAppName("sp ace").ok());
  EXPECT_FALSE(ValidateAppName(std::string(64, 'a')).ok());
  EXPECT_TRUE(ValidateAppName(std::string(63, 'a')).ok());
}

TEST(Endpoint, Parses) {
  auto shm = ParseEndpoint("shm:///dev/shm/respct");
  ASSERT_TRUE(shm.ok());
  EXPECT_EQ(shm->kind, Endpoint::Kind::kShm);
  EXPECT_EQ(shm->path, "/dev/shm/respct");
  auto tcp = ParseEndpoint("tcp://127.0.0.1:7100");
  ASSERT_TRUE(tcp.ok());
  EXPECT_EQ(tcp->host, "127.0.0.1");
  EXPECT_EQ(tcp->port, 7100);
  EXPECT_EQ(tcp->ToString(), "tcp://127.0.0.1:7100");
  auto v6 = ParseEndpoint("rdma://[::1]:7200");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->kind, Endpoint::Kind::kRdma);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "rdma://[::1]:7200");
}

TEST(Endpoint, Rejects) {
  for (const char* bad : {"", "127.0.0.1:7100", "udp://h:1", "tcp://h", "tcp://:1", "tcp://h:0", "tcp://h:65536",
                          "tcp://h:12x", "shm://relative", "rdma://[::1:7"}) {
    auto e = ParseEndpoint(bad);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.status().code(), Status::Code::kInvalidArgument) << bad;
  }
}

TEST(SecretProof, BindsKeyLabelNonceAndApp) {
  Secret a = Secret::FromBytes("correct horse battery staple");
  Secret b = Secret::FromBytes("correct horse battery stapler");
  uint8_t nonce[kNonceSize];
  ASSERT_TRUE(Secret::RandomNonce(nonce).ok());
  const auto p = a.Prove(kClientProofLabel, nonce, "bank");
  uint8_t proof[kProofSize];
  std::memcpy(proof, p.data(), kProofSize);
  EXPECT_TRUE(a.Verify(proof, kClientProofLabel, nonce, "bank"));
  EXPECT_FALSE(b.Verify(proof, kClientProofLabel, nonce, "bank"));   // other key
  EXPECT_FALSE(a.Verify(proof, kServerProofLabel, nonce, "bank"));   // reflected to the other role
  EXPECT_FALSE(a.Verify(proof, kClientProofLabel, nonce, "bank2"));  // other app
  nonce[0] ^= 1;
  EXPECT_FALSE(a.Verify(proof, kClientProofLabel, nonce, "bank"));   // replayed with another nonce
}

}  // namespace
}  // namespace respct::wire
