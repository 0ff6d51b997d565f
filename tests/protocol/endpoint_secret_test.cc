// URL parsing, connection errors, and the secret proofs both sides compute.
#include <gtest/gtest.h>
#include <infiniband/verbs.h>

#include "runtime/transport/secret.h"
#include "runtime/transport/transport.h"

namespace respct {
namespace {

TEST(EndpointTest, ParsesEachScheme) {
  auto shm = ParseEndpoint("shm:///run/respct/memnode.sock");
  ASSERT_TRUE(shm.ok());
  EXPECT_EQ(shm->kind, Endpoint::Kind::kShm);
  EXPECT_EQ(shm->path, "/run/respct/memnode.sock");
  auto tcp = ParseEndpoint("tcp://127.0.0.1:7100");
  ASSERT_TRUE(tcp.ok());
  EXPECT_EQ(tcp->kind, Endpoint::Kind::kTcp);
  EXPECT_EQ(tcp->host, "127.0.0.1");
  EXPECT_EQ(tcp->port, 7100);
  EXPECT_EQ(tcp->ToString(), "tcp://127.0.0.1:7100");
  auto v6 = ParseEndpoint("rdma://[::1]:4791");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->kind, Endpoint::Kind::kRdma);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "rdma://[::1]:4791");
  EXPECT_FALSE(v6->client_persists);
}

TEST(EndpointTest, RdmaTakesADurabilityMode) {
  auto client = ParseEndpoint("rdma://127.0.0.1:4791?durability=client");
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ(client->port, 4791);
  EXPECT_TRUE(client->client_persists);
  EXPECT_EQ(client->ToString(), "rdma://127.0.0.1:4791?durability=client");
  auto memnode = ParseEndpoint("rdma://127.0.0.1:4791?durability=memnode");
  ASSERT_TRUE(memnode.ok());
  EXPECT_FALSE(memnode->client_persists);
  auto bad = ParseEndpoint("rdma://127.0.0.1:4791?durability=never");
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("durability=client or durability=memnode"), std::string::npos)
      << bad.status().message();
}

TEST(EndpointTest, RejectsMalformedUrls) {
  for (const char* bad : {"127.0.0.1:7100", "udp://h:1", "shm://relative", "tcp://host", "tcp://:80",
                          "tcp://h:0", "tcp://h:65536", "tcp://h:12x", "tcp://[::1:5"}) {
    auto e = ParseEndpoint(bad);
    EXPECT_EQ(e.status().code(), Status::Code::kInvalidArgument) << bad;
  }
}

TEST(EndpointTest, OnlyAListenerMayAskForPortZero) {
  auto listen = ParseEndpoint("tcp://127.0.0.1:0", EndpointRole::kListen);
  ASSERT_TRUE(listen.ok()) << listen.status().ToString();
  EXPECT_EQ(listen->port, 0);
  EXPECT_TRUE(ParseEndpoint("rdma://127.0.0.1:0", EndpointRole::kListen).ok());
  EXPECT_FALSE(ParseEndpoint("tcp://127.0.0.1:65536", EndpointRole::kListen).ok());
  auto connect = ParseEndpoint("tcp://127.0.0.1:0");
  ASSERT_FALSE(connect.ok());
  EXPECT_NE(connect.status().message().find("port must be 1..65535"), std::string::npos) << connect.status().message();
}

TEST(ConnectTest, RdmaFailureIsOneLineNamingTheCause) {
  int devices = 0;
  ibv_device** list = ibv_get_device_list(&devices);
  if (list != nullptr) ibv_free_device_list(list);
  // Port 1 on loopback: nothing listens there.
  auto t = Transport::Connect("rdma://127.0.0.1:1", Secret::FromBytes("0123456789abcdef"), {});
  ASSERT_FALSE(t.ok());
  if (devices == 0) {
    EXPECT_EQ(t.status().code(), Status::Code::kFailedPrecondition);
    EXPECT_EQ(t.status().message(), "memnode at rdma://127.0.0.1:1: no RDMA device on this host (ibv_devices lists none)");
  } else {
    EXPECT_TRUE(t.status().IsUnavailable()) << t.status().ToString();
    EXPECT_EQ(t.status().message(), "memnode at rdma://127.0.0.1:1 unreachable: connection refused");
  }
}

TEST(ConnectTest, RefusedConnectionNamesTheMemnodeAndTheCause) {
  // Port 1 on loopback: nothing listens there in a test environment.
  ConnectOptions o;
  o.app = "bank";
  auto t = Transport::Connect("tcp://127.0.0.1:1", Secret::FromBytes("0123456789abcdef"), o);
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(t.status().IsUnavailable());
  EXPECT_EQ(t.status().message(), "memnode at tcp://127.0.0.1:1 unreachable: Connection refused");
}

TEST(ConnectTest, MissingSocketNamesTheMemnode) {
  auto t = Transport::Connect("shm:///nonexistent/respct.sock", Secret::FromBytes("0123456789abcdef"), {});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "memnode at shm:///nonexistent/respct.sock unreachable: No such file or directory");
}

TEST(SecretTest, ProofsBindLabelNonceAppAndKey) {
  const Secret a = Secret::FromBytes("correct horse battery staple");
  const Secret b = Secret::FromBytes("correct horse battery stapler");
  uint8_t n1[wire::kNonceSize], n2[wire::kNonceSize];
  ASSERT_TRUE(Secret::RandomNonce(n1).ok());
  ASSERT_TRUE(Secret::RandomNonce(n2).ok());
  const Secret::Proof p = a.Prove(kServerProofLabel, n1, "bank");
  uint8_t raw[wire::kProofSize];
  std::memcpy(raw, p.data(), sizeof raw);
  EXPECT_TRUE(a.Verify(raw, kServerProofLabel, n1, "bank"));
  EXPECT_FALSE(b.Verify(raw, kServerProofLabel, n1, "bank"));   // other key
  EXPECT_FALSE(a.Verify(raw, kClientProofLabel, n1, "bank"));   // a server proof is no client proof
  EXPECT_FALSE(a.Verify(raw, kServerProofLabel, n2, "bank"));   // replay under a new nonce
  EXPECT_FALSE(a.Verify(raw, kServerProofLabel, n1, "bank2"));  // bound to one app
  EXPECT_FALSE(a.Verify(raw, kServerProofLabel, n1, ""));       // nor promotes to admin
}

}  // namespace
}  // namespace respct
