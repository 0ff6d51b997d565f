// What the memnode must refuse, over shm://, tcp:// and rdma://: wrong secrets, one
// app's proof used for another, corrupted / truncated / out-of-region records,
// lying Commit messages, garbage and oversized frames. Each is refused with a
// clear error, nothing of it is applied, and the memnode keeps serving.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "runtime/wire/checksum.h"
#include "runtime/wire/record.h"
#include "tests/protocol/image_model.h"
#include "tests/protocol/protocol_env.h"
#include "tests/protocol/raw_writer.h"

namespace respct::test {
namespace {

const std::vector<RegionSpec> kRegions = {{1, 1 << 20, 0}, {2, 64 << 10, 0}};

// Small rings: these tests hold many apps in one pool.
ConnectOptions SmallApp(const std::string& app) {
  ConnectOptions o = AppOptions(app, kRegions, true);
  o.ring_capacity = wire::kMinRingCapacity;
  return o;
}

class BadInputTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    RESPCT_SKIP_WITHOUT_RDMA(GetParam());
    app_ = std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (char& c : app_)
      if (c == '/') c = '-';
    // Every test starts from an app with two committed epochs.
    auto w = ConnectWriter(url(), Memnode().secret(), SmallApp(app_));
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EpochGenerator gen(7, kRegions, 8 << 10);
    for (uint64_t e = 1; e <= 2; ++e) {
      Epoch ep = gen.Next();
      if (ep.empty()) ep.push_back(Write{1, 10, std::vector<uint8_t>(100, 3)});
      ASSERT_TRUE(AppendEpoch(**w, e, ep).ok());
      ASSERT_TRUE((*w)->Commit(e).ok());
      model_.Apply(ep);
    }
  }

  std::string url() const { return UrlOf(GetParam()); }

  std::unique_ptr<RawWriter> Raw() {
    // Like ConnectWriter: the previous writer's connection may still be closing.
    auto r = RawWriter::Open(url(), Memnode().secret(), SmallApp(app_));
    for (int i = 0; i < 50 && !r.ok() && r.status().IsBusy(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      r = RawWriter::Open(url(), Memnode().secret(), SmallApp(app_));
    }
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : nullptr;
  }

  // The memnode refused and closed the bad writer, applied nothing, and a
  // good writer carries on from the same epoch.
  void ExpectUnharmed() {
    auto w = ConnectWriter(url(), Memnode().secret(), SmallApp(app_));
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ((*w)->info().committed_epoch, 2u);
    EXPECT_TRUE(model_.Matches(**w));
    const Epoch ep = {Write{2, 5, std::vector<uint8_t>(777, 0x42)}};
    ASSERT_TRUE(AppendEpoch(**w, 3, ep).ok());
    ASSERT_TRUE((*w)->Commit(3).ok());
    model_.Apply(ep);
    EXPECT_TRUE(model_.Matches(**w));
  }

  // An honest one-record epoch at the raw writer's tail; returns its Commit.
  wire::CommitMsg HonestEpoch(RawWriter& r, std::vector<uint8_t>* bytes, uint32_t region = 1, uint64_t offset = 0) {
    const std::vector<uint8_t> payload(1000, 0x77);
    bytes->assign(wire::RecordFootprint(payload.size()), 0);
    wire::EpochChecksum sum;
    sum.Add(wire::EncodeDataRecord(bytes->data(), r.tail(), r.epoch(), region, offset, payload.data(),
                                   static_cast<uint32_t>(payload.size())));
    return wire::CommitMsg{r.epoch(), r.tail(), r.tail() + bytes->size(), 1, payload.size(), sum.Digest()};
  }

  void ExpectRefused(RawWriter& r, const wire::CommitMsg& c, Status::Code code, const std::string& words) {
    Status st = r.Commit(c);
    EXPECT_EQ(st.code(), code) << st.ToString();
    EXPECT_NE(st.message().find(words), std::string::npos) << st.message();
    EXPECT_TRUE(r.WaitClosed());
  }

  std::string app_;
  ImageModel model_{kRegions};
};

TEST_P(BadInputTest, WrongSecretIsPermissionDenied) {
  auto t = Transport::Connect(url(), Secret::FromBytes("not the secret at all"), AppOptions(app_, {}, false, false));
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(t.status().IsPermissionDenied()) << t.status().ToString();
  // The client refuses first: the memnode could not prove a secret it lacks.
  EXPECT_NE(t.status().message().find("does not hold the same shared secret"), std::string::npos)
      << t.status().message();
  ExpectUnharmed();
}

TEST_P(BadInputTest, ClientWithWrongSecretIsRejectedByTheMemnode) {
  // A client that skips checking the server, then proves with the wrong key.
  auto s = RawChannel(url());
  ASSERT_NE(s, nullptr);
  wire::HelloMsg hello{};
  hello.version = wire::kProtocolVersion;
  hello.app_len = static_cast<uint16_t>(app_.size());
  std::memcpy(hello.app, app_.data(), app_.size());
  ASSERT_TRUE(s->SendStruct(wire::MsgType::kHello, hello).ok());
  Frame f;
  ASSERT_TRUE(s->Expect(wire::MsgType::kChallenge, &f, 5000).ok());
  const auto ch = f.As<wire::ChallengeMsg>();
  wire::AuthMsg auth{};
  const auto proof = Secret::FromBytes("wrong wrong wrong").Prove(kClientProofLabel, ch.server_nonce, app_);
  std::memcpy(auth.client_proof, proof.data(), proof.size());
  ASSERT_TRUE(s->SendStruct(wire::MsgType::kAuth, auth).ok());
  Status st = s->Expect(wire::MsgType::kAuthOk, &f, 5000);
  EXPECT_TRUE(st.IsPermissionDenied()) << st.ToString();
  EXPECT_NE(st.message().find("authentication failed for app '" + app_ + "'"), std::string::npos) << st.message();
  ExpectUnharmed();
}

TEST_P(BadInputTest, OneAppsProofDoesNotOpenAnotherApp) {
  // Hello for this app, but a proof computed for another app's name.
  auto s = RawChannel(url());
  ASSERT_NE(s, nullptr);
  wire::HelloMsg hello{};
  hello.version = wire::kProtocolVersion;
  hello.app_len = static_cast<uint16_t>(app_.size());
  std::memcpy(hello.app, app_.data(), app_.size());
  ASSERT_TRUE(s->SendStruct(wire::MsgType::kHello, hello).ok());
  Frame f;
  ASSERT_TRUE(s->Expect(wire::MsgType::kChallenge, &f, 5000).ok());
  const auto ch = f.As<wire::ChallengeMsg>();
  wire::AuthMsg auth{};
  const auto proof = Memnode().secret().Prove(kClientProofLabel, ch.server_nonce, "some-other-app");
  std::memcpy(auth.client_proof, proof.data(), proof.size());
  ASSERT_TRUE(s->SendStruct(wire::MsgType::kAuth, auth).ok());
  EXPECT_TRUE(s->Expect(wire::MsgType::kAuthOk, &f, 5000).IsPermissionDenied());
  ExpectUnharmed();
}

TEST_P(BadInputTest, AppsAreIsolated) {
  // App B has the same region ids; A's session sees and changes only A's bytes.
  const std::string b = app_ + "-b";
  auto wb = ConnectWriter(url(), Memnode().secret(), SmallApp(b));
  ASSERT_TRUE(wb.ok()) << wb.status().ToString();
  const Epoch eb = {Write{1, 0, std::vector<uint8_t>(4096, 0xBB)}};
  ASSERT_TRUE(AppendEpoch(**wb, 1, eb).ok());
  ASSERT_TRUE((*wb)->Commit(1).ok());
  ExpectUnharmed();  // A: its own bytes, epoch 3 committed on A only
  EXPECT_EQ((*wb)->info().committed_epoch, 1u);
  ImageModel mb(kRegions);
  mb.Apply(eb);
  EXPECT_TRUE(mb.Matches(**wb));
  // A region id that only B has is unknown to A.
  const std::vector<RegionSpec> c_regions = {{9, 4096, 0}};
  auto wc = ConnectWriter(url(), Memnode().secret(), AppOptions(app_ + "-c", c_regions, true));
  ASSERT_TRUE(wc.ok());
  auto ra = Raw();
  ASSERT_NE(ra, nullptr);
  wire::ReadImageMsg req{9, 0, 0, 16};
  ASSERT_TRUE(ra->sock->SendStruct(wire::MsgType::kReadImage, req).ok());
  Frame f;
  Status st = ra->sock->Expect(wire::MsgType::kImageData, &f, 5000);
  EXPECT_FALSE(st.ok()) << "A read region 9 of app C";
}

TEST_P(BadInputTest, CorruptedRecordIsRefused) {
  auto r = Raw();
  ASSERT_NE(r, nullptr);
  std::vector<uint8_t> bytes;
  const wire::CommitMsg c = HonestEpoch(*r, &bytes);
  bytes[wire::kRecordHeaderSize + 500] ^= 0x01;  // one payload bit flips after encoding
  ASSERT_TRUE(r->Put(c.first_pos, bytes.data(), bytes.size()).ok());
  ExpectRefused(*r, c, Status::Code::kCorruption, "checksum");
  ExpectUnharmed();
}

TEST_P(BadInputTest, TruncatedRecordIsRefused) {
  auto r = Raw();
  ASSERT_NE(r, nullptr);
  std::vector<uint8_t> bytes;
  wire::CommitMsg c = HonestEpoch(*r, &bytes);
  ASSERT_TRUE(r->Put(c.first_pos, bytes.data(), bytes.size()).ok());
  c.end_pos = c.first_pos + 512;  // the epoch ends inside its only record
  ExpectRefused(*r, c, Status::Code::kCorruption, "truncated");
  ExpectUnharmed();
}

TEST_P(BadInputTest, RecordOutsideItsRegionIsRefused) {
  auto r = Raw();
  ASSERT_NE(r, nullptr);
  std::vector<uint8_t> bytes;
  const wire::CommitMsg c = HonestEpoch(*r, &bytes, /*region=*/2, /*offset=*/(64 << 10) - 999);
  ASSERT_TRUE(r->Put(c.first_pos, bytes.data(), bytes.size()).ok());
  ExpectRefused(*r, c, Status::Code::kCorruption, "outside region");
  ExpectUnharmed();
}

TEST_P(BadInputTest, RecordForAnUnknownRegionIsRefused) {
  auto r = Raw();
  ASSERT_NE(r, nullptr);
  std::vector<uint8_t> bytes;
  const wire::CommitMsg c = HonestEpoch(*r, &bytes, /*region=*/42);
  ASSERT_TRUE(r->Put(c.first_pos, bytes.data(), bytes.size()).ok());
  Status st = r->Commit(c);
  EXPECT_EQ(st.code(), Status::Code::kCorruption) << st.ToString();
  EXPECT_TRUE(r->WaitClosed());
  ExpectUnharmed();
}

TEST_P(BadInputTest, CommitWithWrongChecksumIsRefused) {
  auto r = Raw();
  ASSERT_NE(r, nullptr);
  std::vector<uint8_t> bytes;
  wire::CommitMsg c = HonestEpoch(*r, &bytes);
  ASSERT_TRUE(r->Put(c.first_pos, bytes.data(), bytes.size()).ok());
  c.epoch_checksum ^= 1;
  ExpectRefused(*r, c, Status::Code::kCorruption, "");
  ExpectUnharmed();
}

TEST_P(BadInputTest, CommitWithWrongCountIsRefused) {
  auto r = Raw();
  ASSERT_NE(r, nullptr);
  std::vector<uint8_t> bytes;
  wire::CommitMsg c = HonestEpoch(*r, &bytes);
  ASSERT_TRUE(r->Put(c.first_pos, bytes.data(), bytes.size()).ok());
  c.record_count = 2;
  ExpectRefused(*r, c, Status::Code::kCorruption, "");
  ExpectUnharmed();
}

TEST_P(BadInputTest, CommitOfAnEpochThatDoesNotFollowIsRefused) {
  auto r = Raw();
  ASSERT_NE(r, nullptr);
  std::vector<uint8_t> bytes;
  wire::CommitMsg c = HonestEpoch(*r, &bytes);
  ASSERT_TRUE(r->Put(c.first_pos, bytes.data(), bytes.size()).ok());
  // At or below the committed epoch (above by more than one is a replica's
  // catch-up: its records must then carry that number).
  c.epoch -= 1;
  Status st = r->Commit(c);
  EXPECT_EQ(st.code(), Status::Code::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("does not follow committed"), std::string::npos) << st.message();
  r.reset();
  ExpectUnharmed();
}

TEST_P(BadInputTest, JumpingCommitWhoseRecordsSayAnotherEpochIsRefused) {
  auto r = Raw();
  ASSERT_NE(r, nullptr);
  std::vector<uint8_t> bytes;
  wire::CommitMsg c = HonestEpoch(*r, &bytes);
  ASSERT_TRUE(r->Put(c.first_pos, bytes.data(), bytes.size()).ok());
  c.epoch += 5;
  Status st = r->Commit(c);
  EXPECT_EQ(st.code(), Status::Code::kCorruption) << st.ToString();
  r.reset();
  ExpectUnharmed();
}

TEST_P(BadInputTest, RingWriteOutsideTheFreeSpaceIsRefused) {
  if (GetParam() != "tcp") GTEST_SKIP() << "RingWrite is the tcp (inline) path";
  auto r = Raw();
  ASSERT_NE(r, nullptr);
  const std::vector<uint8_t> junk(128, 0xCC);
  // Past applied + capacity: bytes there would overwrite records not yet applied.
  const wire::RingWriteMsg m{r->attach->ok.ring_applied + r->attach->ok.ring_capacity};
  ASSERT_TRUE(r->sock->Send(wire::MsgType::kRingWrite, &m, sizeof m, junk.data(), junk.size()).ok());
  Frame f;
  Status st = r->sock->Expect(wire::MsgType::kCommitAck, &f, 10000);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("outside the free ring space"), std::string::npos) << st.message();
  ExpectUnharmed();
}

TEST_P(BadInputTest, GarbageBytesAreRefused) {
  auto r = Raw();
  ASSERT_NE(r, nullptr);
  std::vector<uint8_t> garbage(4096);
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<uint8_t>(i * 131 + 7);
  (void)r->sock->SendRaw(garbage.data(), garbage.size());  // the memnode may close before all is sent
  Frame f;
  Status st = r->sock->Expect(wire::MsgType::kCommitAck, &f, 10000);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(st.IsCorruption() || st.IsUnavailable()) << st.ToString();
  ExpectUnharmed();
}

TEST_P(BadInputTest, FrameWithAHugeLengthIsRefused) {
  auto r = Raw();
  ASSERT_NE(r, nullptr);
  const wire::FrameHeader h = wire::MakeFrameHeader(wire::MsgType::kRingWrite, 0xFFFFFFF0u);
  ASSERT_TRUE(r->sock->SendRaw(&h, sizeof h).ok());
  Frame f;
  Status st = r->sock->Expect(wire::MsgType::kCommitAck, &f, 10000);
  EXPECT_TRUE(st.IsCorruption()) << st.ToString();
  ExpectUnharmed();
}

TEST_P(BadInputTest, GarbageBeforeAuthenticationIsRefused) {
  auto s = RawChannel(url());
  ASSERT_NE(s, nullptr);
  const char junk[] = "GET / HTTP/1.1\r\nHost: memnode\r\n\r\n";
  (void)s->SendRaw(junk, sizeof junk - 1);
  Frame f;
  Status st = s->Expect(wire::MsgType::kChallenge, &f, 10000);
  EXPECT_FALSE(st.ok());
  ExpectUnharmed();
}

// A peer that connects and never says a word (a port scanner, a client
// that hung) holds up no one: an honest writer attaches and commits while it
// is still connected and not yet given up on. Over rdma:// the queue-pair
// set-up used to run on the accept loop, so every later client waited out
// the silent one's 5 s set-up timeout, and the silent one had been dropped
// by the time the writer got in.
TEST_P(BadInputTest, AClientThatConnectsAndNeverSpeaksHoldsUpNoOne) {
  auto ep = ParseEndpoint(url());
  ASSERT_TRUE(ep.ok()) << ep.status().ToString();
  int fd = -1;
  if (ep->kind == Endpoint::Kind::kShm) {
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, ep->path.c_str(), sizeof sa.sun_path - 1);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << std::strerror(errno);
  } else {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(ep->port);
    ASSERT_EQ(inet_pton(AF_INET, ep->host.c_str(), &sa.sin_addr), 1) << "the test memnodes listen on IPv4: " << url();
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << std::strerror(errno);
  }
  ExpectUnharmed();
  // Still connected, still waited for: no end of stream yet (over rdma://
  // the memnode's half of the set-up may be waiting to be read).
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
  }
  EXPECT_TRUE(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      << "the memnode gave the silent client up before the writer was served (recv " << n << ", "
      << std::strerror(errno) << ")";
  close(fd);
}

INSTANTIATE_TEST_SUITE_P(Transports, BadInputTest, ::testing::Values("shm", "tcp", "rdma"), TransportName);

}  // namespace
}  // namespace respct::test
