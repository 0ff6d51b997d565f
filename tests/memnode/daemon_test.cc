// respct-memnode as a process: start-up (ready file), handshake, tcp and shm
// writers, readers, admin sessions, hostile clients, SIGTERM and kill -9.
// The client side here is hand-rolled from the wire structs on purpose: it
// checks the daemon against the protocol (runtime/wire/message.h), not
// against a transport.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "runtime/transport/frame_socket.h"
#include "runtime/transport/secret.h"
#include "runtime/transport/transport.h"
#include "runtime/wire/checksum.h"
#include "runtime/wire/image_sums.h"
#include "runtime/wire/record.h"
#include "memnode/ready_file.h"
#include "tests/memnode/test_util.h"

namespace respct::memnode {
namespace {

using testing::TempDir;

constexpr int kTimeout = 5000;

class Daemon {
 public:
  explicit Daemon(const TempDir& dir) : dir_(dir) {}
  ~Daemon() {
    if (pid_ > 0) Kill(SIGKILL);
  }

  std::string SocketPath() const { return dir_.File("s.sock"); }

  // Starts respct-memnode and waits for its ready file. The first start
  // listens on tcp port 0 and learns the kernel's choice from the ready
  // file; a restart asks for that port again.
  void Start() {
    const std::string ready = dir_.File("ready");
    unlink(ready.c_str());
    const std::vector<std::string> args = {RESPCT_MEMNODE_BIN,
                                           "--pool", dir_.File("pool"),
                                           "--size", "64M",
                                           "--ring-size", "5M",
                                           "--secret-file", dir_.File("secret"),
                                           "--listen", "tcp://127.0.0.1:" + std::to_string(port_),
                                           "--listen", "shm://" + SocketPath(),
                                           "--ready-file", ready,
                                           "--log-level", "warn"};
    const auto t0 = std::chrono::steady_clock::now();
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    Result<ReadyFile> announced = Status::NotFound("");
    while (!(announced = ReadyFile::Read(ready)).ok()) {
      int status;
      ASSERT_EQ(waitpid(pid_, &status, WNOHANG), 0) << "respct-memnode exited during start-up";
      ASSERT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    startup_ = std::chrono::steady_clock::now() - t0;
    ASSERT_EQ(announced->pid, pid_);
    ASSERT_EQ(announced->urls.size(), 2u);
    EXPECT_EQ(announced->UrlOf("shm"), "shm://" + SocketPath());
    auto tcp = ParseEndpoint(announced->UrlOf("tcp"));
    ASSERT_TRUE(tcp.ok()) << tcp.status().ToString();
    ASSERT_EQ(tcp->host, "127.0.0.1");
    const uint16_t bound = tcp->port;  // ParseEndpoint refuses port 0 here
    if (port_ != 0) {
      ASSERT_EQ(bound, port_) << "a restart listens where the first start did";
    }
    port_ = bound;
  }
  // Sends `sig` and returns the wait status.
  int Kill(int sig) {
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  std::chrono::steady_clock::duration startup() const { return startup_; }
  uint16_t port() const { return port_; }

 private:
  const TempDir& dir_;
  uint16_t port_ = 0;  // 0 until the first start
  pid_t pid_ = -1;
  std::chrono::steady_clock::duration startup_{};
};

struct Attached {
  wire::AttachOkMsg ok{};
  std::vector<wire::RegionDesc> regions;
  int fd = -1;
};

class Client {
 public:
  Status Connect(const std::string& tcp_or_unix, uint16_t port) {
    auto s = port != 0 ? FrameSocket::ConnectTcp("127.0.0.1", port, kTimeout)
                       : FrameSocket::ConnectUnix(tcp_or_unix, kTimeout);
    if (!s.ok()) return s.status();
    sock = std::move(s).value();
    return Status::OK();
  }
  Status Handshake(const std::string& app, const Secret& secret) {
    wire::HelloMsg h{};
    h.version = wire::kProtocolVersion;
    h.app_len = static_cast<uint16_t>(app.size());
    RESPCT_RETURN_IF_ERROR(Secret::RandomNonce(h.client_nonce));
    std::memcpy(h.app, app.data(), app.size());
    RESPCT_RETURN_IF_ERROR(sock.SendStruct(wire::MsgType::kHello, h));
    Frame f;
    RESPCT_RETURN_IF_ERROR(sock.Expect(wire::MsgType::kChallenge, &f, kTimeout));
    const auto ch = f.As<wire::ChallengeMsg>();
    if (!secret.Verify(ch.server_proof, kServerProofLabel, h.client_nonce, app))
      return Status::PermissionDenied("memnode failed to prove the shared secret");
    wire::AuthMsg a{};
    const auto proof = secret.Prove(kClientProofLabel, ch.server_nonce, app);
    std::memcpy(a.client_proof, proof.data(), proof.size());
    RESPCT_RETURN_IF_ERROR(sock.SendStruct(wire::MsgType::kAuth, a));
    return sock.Expect(wire::MsgType::kAuthOk, &f, kTimeout);
  }
  Status Attach(uint32_t flags, const std::vector<wire::RegionDesc>& regions, Attached* out) {
    wire::AttachMsg m{flags, static_cast<uint32_t>(regions.size()), 0};
    RESPCT_RETURN_IF_ERROR(sock.Send(wire::MsgType::kAttach, &m, sizeof m, regions.data(),
                                     regions.size() * sizeof(wire::RegionDesc)));
    Frame f;
    RESPCT_RETURN_IF_ERROR(sock.Expect(wire::MsgType::kAttachOk, &f, kTimeout));
    out->ok = f.As<wire::AttachOkMsg>();
    out->regions.resize(out->ok.region_count);
    std::memcpy(out->regions.data(), f.payload.data() + sizeof out->ok, out->regions.size() * sizeof(wire::RegionDesc));
    out->fd = f.TakeFd();
    return Status::OK();
  }
  Result<std::vector<wire::AppSummary>> ListApps() {
    RESPCT_RETURN_IF_ERROR(sock.Send(wire::MsgType::kListApps, nullptr, 0));
    Frame f;
    RESPCT_RETURN_IF_ERROR(sock.Expect(wire::MsgType::kAppList, &f, kTimeout));
    uint32_t n;
    std::memcpy(&n, f.payload.data(), 4);
    std::vector<wire::AppSummary> apps(n);
    std::memcpy(apps.data(), f.payload.data() + 4, n * sizeof(wire::AppSummary));
    return apps;
  }
  Result<std::vector<uint8_t>> Read(uint32_t region, uint64_t offset, uint64_t length) {
    const wire::ReadImageMsg m{region, 0, offset, length};
    RESPCT_RETURN_IF_ERROR(sock.SendStruct(wire::MsgType::kReadImage, m));
    std::vector<uint8_t> out;
    while (out.size() < length) {
      // Each piece comes after the checksums of its whole pages (the test's
      // regions are page multiples, so a region's end is a page end).
      Frame sums, f;
      RESPCT_RETURN_IF_ERROR(sock.Expect(wire::MsgType::kImageSums, &sums, kTimeout));
      RESPCT_RETURN_IF_ERROR(sock.Expect(wire::MsgType::kImageData, &f, kTimeout));
      const uint64_t at = f.As<wire::ImageDataMsg>().offset;
      EXPECT_EQ(at, offset + out.size());
      const uint8_t* bytes = f.payload.data() + sizeof(wire::ImageDataMsg);
      const uint64_t n = f.payload.size() - sizeof(wire::ImageDataMsg);
      const auto head = sums.As<wire::ImageSumsMsg>();
      const wire::PageSpan whole = wire::WholePages(at, n, UINT64_MAX);
      EXPECT_EQ(head.first_page, whole.first);
      EXPECT_EQ(head.count, whole.count());
      for (uint64_t p = 0; p < whole.count() && p < head.count; ++p) {
        uint64_t want;
        std::memcpy(&want, sums.payload.data() + sizeof head + p * sizeof want, sizeof want);
        EXPECT_EQ(wire::ImagePageSum(bytes + ((whole.first + p) * wire::kImageSumPage - at), wire::kImageSumPage),
                  want);
      }
      out.insert(out.end(), bytes, bytes + n);
    }
    return out;
  }

  FrameSocket sock;
};

// Builds one epoch's records at the ring tail, into a byte vector per
// RingWrite (tcp) or straight into the staging ring (shm).
struct Epoch {
  Epoch(uint64_t e, uint64_t first_pos, uint64_t at, uint64_t cap) : epoch(e), first(first_pos), pos(at), capacity(cap) {}

  uint64_t epoch;
  uint64_t first;
  uint64_t pos;
  uint64_t capacity;
  wire::EpochChecksum sum;
  uint64_t count = 0;
  uint64_t bytes = 0;

  // Encodes at `pos` into `dst` (the ring slot's address); returns the footprint.
  uint64_t Put(uint8_t* dst, uint32_t region, uint64_t offset, const std::vector<uint8_t>& data) {
    sum.Add(wire::EncodeDataRecord(dst, pos, epoch, region, offset, data.data(), static_cast<uint32_t>(data.size())));
    ++count;
    bytes += data.size();
    const uint64_t fp = wire::RecordFootprint(data.size());
    pos += fp;
    return fp;
  }
  wire::CommitMsg Message() const { return wire::CommitMsg{epoch, first, pos, count, bytes, sum.Digest()}; }
};

Status CommitAndWait(Client& c, const wire::CommitMsg& m, wire::CommitAckMsg* ack) {
  RESPCT_RETURN_IF_ERROR(c.sock.SendStruct(wire::MsgType::kCommit, m));
  Frame f;
  RESPCT_RETURN_IF_ERROR(c.sock.Expect(wire::MsgType::kCommitAck, &f, kTimeout));
  *ack = f.As<wire::CommitAckMsg>();
  RESPCT_RETURN_IF_ERROR(c.sock.Expect(wire::MsgType::kRingProgress, &f, kTimeout));
  const auto p = f.As<wire::RingProgressMsg>();
  EXPECT_EQ(p.applied_epoch, m.epoch);
  EXPECT_EQ(p.ring_applied, ack->ring_tail);
  return Status::OK();
}

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed * 31 + i);
  return v;
}

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const int fd = open(dir_.File("secret").c_str(), O_WRONLY | O_CREAT, 0600);
    ASSERT_EQ(write(fd, "0123456789abcdef-test-secret", 28), 28);
    close(fd);
    secret_ = Secret::FromFile(dir_.File("secret")).value();
    daemon_ = std::make_unique<Daemon>(dir_);
    daemon_->Start();
  }

  Client Connect(const std::string& app, bool tcp = true) {
    Client c;
    Status s = c.Connect(daemon_->SocketPath(), tcp ? daemon_->port() : 0);
    EXPECT_TRUE(s.ok()) << s.ToString();
    s = c.Handshake(app, secret_);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return c;
  }

  TempDir dir_;
  Secret secret_;
  std::unique_ptr<Daemon> daemon_;
  const std::vector<wire::RegionDesc> regions_ = {testing::Region(1, 3 << 20), testing::Region(2, 4096)};
};

TEST_F(DaemonTest, StartsFast) {
  EXPECT_LT(daemon_->startup(), std::chrono::seconds(2));
  EXPECT_EQ(WEXITSTATUS(daemon_->Kill(SIGTERM)), 0);
  EXPECT_NE(access(dir_.File("ready").c_str(), F_OK), 0) << "a clean exit removes the ready file";
  EXPECT_NE(access(daemon_->SocketPath().c_str(), F_OK), 0);
}

TEST_F(DaemonTest, TcpWriterCommitsAndReadsBack) {
  Client w = Connect("bank");
  Attached at;
  ASSERT_TRUE(w.Attach(wire::kAttachWriter | wire::kAttachCreate, regions_, &at).ok());
  EXPECT_EQ(at.ok.ring_mode, static_cast<uint32_t>(wire::RingMode::kInline));
  EXPECT_EQ(at.fd, -1);
  EXPECT_EQ(at.ok.ring_capacity, 5u << 20);
  EXPECT_EQ(at.ok.app_id, wire::AppIdOf("bank", 4));
  ASSERT_EQ(at.regions.size(), 2u);
  EXPECT_EQ(at.regions[0].size, 3u << 20);

  uint64_t tail = at.ok.ring_tail;
  const std::vector<uint8_t> big = Pattern(2 << 20, 1);
  for (uint64_t e = 1; e <= 3; ++e) {
    Epoch ep{e, tail, tail, at.ok.ring_capacity};
    const std::vector<uint8_t> small = Pattern(100, static_cast<uint8_t>(e));
    std::vector<uint8_t> rec(wire::RecordFootprint(small.size()));
    const uint64_t at_pos = ep.pos;
    ep.Put(rec.data(), 2, 8 * e, small);
    const wire::RingWriteMsg rw{at_pos};
    ASSERT_TRUE(w.sock.Send(wire::MsgType::kRingWrite, &rw, sizeof rw, rec.data(), rec.size()).ok());
    wire::CommitAckMsg ack;
    ASSERT_TRUE(CommitAndWait(w, ep.Message(), &ack).ok());
    EXPECT_EQ(ack.epoch, e);
    tail = ack.ring_tail;
  }
  // A record bigger than one frame, split over two RingWrites.
  {
    Epoch ep{4, tail, tail, at.ok.ring_capacity};
    const std::vector<uint8_t> payload(big.begin(), big.begin() + wire::kMaxRecordPayload);
    std::vector<uint8_t> rec(wire::RecordFootprint(payload.size()));
    const uint64_t at_pos = ep.pos;
    ep.Put(rec.data(), 1, 4096, payload);
    const size_t half = rec.size() / 2;
    const wire::RingWriteMsg a{at_pos};
    const wire::RingWriteMsg b{at_pos + half};
    ASSERT_TRUE(w.sock.Send(wire::MsgType::kRingWrite, &a, sizeof a, rec.data(), half).ok());
    ASSERT_TRUE(w.sock.Send(wire::MsgType::kRingWrite, &b, sizeof b, rec.data() + half, rec.size() - half).ok());
    wire::CommitAckMsg ack;
    ASSERT_TRUE(CommitAndWait(w, ep.Message(), &ack).ok());
  }
  auto r2 = w.Read(2, 0, 4096);
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(std::memcmp(r2->data() + 24, Pattern(100, 3).data(), 100), 0);
  // A reader sees the same image, in 1 MiB pieces.
  Client r = Connect("bank");
  Attached rat;
  ASSERT_TRUE(r.Attach(0, {}, &rat).ok());
  EXPECT_EQ(rat.ok.committed_epoch, 4u);
  auto r1 = r.Read(1, 4096, wire::kMaxRecordPayload);
  ASSERT_TRUE(r1.ok());
  EXPECT_TRUE(std::equal(r1->begin(), r1->end(), big.begin()));
  // Out of bounds: an Error, and the session lives on.
  const wire::ReadImageMsg bad{1, 0, 3 << 20, 1};
  ASSERT_TRUE(r.sock.SendStruct(wire::MsgType::kReadImage, bad).ok());
  Frame f;
  EXPECT_EQ(r.sock.Expect(wire::MsgType::kImageSums, &f, kTimeout).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(r.Read(2, 0, 8).ok());
  // Readers do not commit.
  ASSERT_TRUE(r.sock.SendStruct(wire::MsgType::kCommit, wire::CommitMsg{5, 0, 0, 0, 0, 0}).ok());
  EXPECT_TRUE(r.sock.Expect(wire::MsgType::kCommitAck, &f, kTimeout).IsPermissionDenied());

  Client admin = Connect("");
  auto apps = admin.ListApps();
  ASSERT_TRUE(apps.ok());
  ASSERT_EQ(apps->size(), 1u);
  EXPECT_EQ((*apps)[0].committed_epoch, 4u);
  EXPECT_EQ((*apps)[0].writer_attached, 1u);
}

TEST_F(DaemonTest, ShmWriterUsesTheStagingRing) {
  Client w = Connect("kv", /*tcp=*/false);
  Attached at;
  ASSERT_TRUE(w.Attach(wire::kAttachWriter | wire::kAttachCreate, regions_, &at).ok());
  ASSERT_EQ(at.ok.ring_mode, static_cast<uint32_t>(wire::RingMode::kShared));
  ASSERT_GE(at.fd, 0);
  auto* ring = static_cast<uint8_t*>(mmap(nullptr, at.ok.ring_capacity, PROT_READ | PROT_WRITE, MAP_SHARED, at.fd, 0));
  ASSERT_NE(ring, MAP_FAILED);
  // The memnode sealed the size: a client cannot make it fault.
  EXPECT_NE(ftruncate(at.fd, 4096), 0);
  uint64_t tail = at.ok.ring_tail;
  for (uint64_t e = 1; e <= 5; ++e) {
    Epoch ep{e, tail, tail, at.ok.ring_capacity};
    for (int i = 0; i < 3; ++i) {
      const std::vector<uint8_t> data = Pattern(1 << 20, static_cast<uint8_t>(e + i));
      if (ep.pos % ep.capacity + wire::RecordFootprint(data.size()) > ep.capacity) {
        const uint64_t pad = ep.capacity - ep.pos % ep.capacity;
        wire::EncodePadRecord(ring + ep.pos % ep.capacity, ep.pos, e, pad);
        ep.pos += pad;
      }
      ep.Put(ring + ep.pos % ep.capacity, 1, static_cast<uint64_t>(i) << 20, data);
    }
    wire::CommitAckMsg ack;
    ASSERT_TRUE(CommitAndWait(w, ep.Message(), &ack).ok()) << "epoch " << e;
    tail = ack.ring_tail;
  }
  EXPECT_GT(tail, at.ok.ring_capacity) << "should have wrapped";
  auto img = w.Read(1, 0, 3 << 20);
  ASSERT_TRUE(img.ok());
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(std::equal(img->begin() + (i << 20), img->begin() + ((i + 1) << 20), Pattern(1 << 20, 5 + i).begin()));
  // RingWrite makes no sense with a shared ring.
  const wire::RingWriteMsg rw{tail};
  ASSERT_TRUE(w.sock.Send(wire::MsgType::kRingWrite, &rw, sizeof rw, ring, 64).ok());
  Frame f;
  EXPECT_FALSE(w.sock.Expect(wire::MsgType::kCommitAck, &f, kTimeout).ok());
  munmap(ring, at.ok.ring_capacity);
  close(at.fd);
}

TEST_F(DaemonTest, RefusesBadClientsAndKeepsServingOthers) {
  Client w = Connect("app");
  Attached at;
  ASSERT_TRUE(w.Attach(wire::kAttachWriter | wire::kAttachCreate, regions_, &at).ok());
  Frame f;
  // Garbage bytes.
  {
    Client g;
    ASSERT_TRUE(g.Connect("", daemon_->port()).ok());
    ASSERT_TRUE(g.sock.SendRaw("this is not a respct frame header", 33).ok());
    EXPECT_TRUE(g.sock.Expect(wire::MsgType::kChallenge, &f, kTimeout).IsCorruption());
    EXPECT_TRUE(g.sock.Receive(&f, kTimeout).IsUnavailable());
  }
  // Wrong secret.
  {
    Client c;
    ASSERT_TRUE(c.Connect("", daemon_->port()).ok());
    EXPECT_TRUE(c.Handshake("app", Secret::FromBytes("another secret entirely")).IsPermissionDenied());
  }
  {
    Client c;
    ASSERT_TRUE(c.Connect("", daemon_->port()).ok());
    wire::HelloMsg h{};
    h.version = wire::kProtocolVersion;
    h.app_len = 3;
    std::memcpy(h.app, "app", 3);
    ASSERT_TRUE(c.sock.SendStruct(wire::MsgType::kHello, h).ok());
    ASSERT_TRUE(c.sock.Expect(wire::MsgType::kChallenge, &f, kTimeout).ok());
    ASSERT_TRUE(c.sock.SendStruct(wire::MsgType::kAuth, wire::AuthMsg{}).ok());
    Status s = c.sock.Expect(wire::MsgType::kAuthOk, &f, kTimeout);
    EXPECT_TRUE(s.IsPermissionDenied());
    EXPECT_NE(s.message().find("authentication failed for app 'app'"), std::string::npos) << s.ToString();
  }
  // Bad app name; nothing served before AuthOk.
  {
    Client c;
    ASSERT_TRUE(c.Connect("", daemon_->port()).ok());
    EXPECT_EQ(c.Handshake("../etc", secret_).code(), Status::Code::kInvalidArgument);
    Client d;
    ASSERT_TRUE(d.Connect("", daemon_->port()).ok());
    ASSERT_TRUE(d.sock.Send(wire::MsgType::kListApps, nullptr, 0).ok());
    EXPECT_FALSE(d.sock.Expect(wire::MsgType::kAppList, &f, kTimeout).ok());
  }
  // Admin sessions only list apps.
  {
    Client a = Connect("");
    wire::AttachMsg m{0, 0, 0};
    ASSERT_TRUE(a.sock.SendStruct(wire::MsgType::kAttach, m).ok());
    EXPECT_TRUE(a.sock.Expect(wire::MsgType::kAttachOk, &f, kTimeout).IsPermissionDenied());
  }
  // Second writer, different layout, missing app.
  {
    Client c = Connect("app");
    Attached x;
    const Status busy = c.Attach(wire::kAttachWriter, {}, &x);
    EXPECT_TRUE(busy.IsBusy()) << busy.ToString();
    EXPECT_EQ(busy.message(), "memnode: app 'app' already has a writer attached");
    Client d = Connect("app");
    EXPECT_EQ(d.Attach(0, {testing::Region(1, 4096)}, &x).code(), Status::Code::kFailedPrecondition)
        << "another region layout";
    Client e = Connect("missing");
    EXPECT_TRUE(e.Attach(0, {}, &x).IsNotFound());
  }
  // A ring write outside the free space, then a lying commit: both fatal to that session only.
  {
    Client c = Connect("other");
    Attached x;
    ASSERT_TRUE(c.Attach(wire::kAttachWriter | wire::kAttachCreate, regions_, &x).ok());
    const wire::RingWriteMsg rw{x.ok.ring_tail + x.ok.ring_capacity};
    uint8_t junk[64] = {};
    ASSERT_TRUE(c.sock.Send(wire::MsgType::kRingWrite, &rw, sizeof rw, junk, sizeof junk).ok());
    Status s = c.sock.Expect(wire::MsgType::kCommitAck, &f, kTimeout);
    EXPECT_NE(s.message().find("ring write outside the free ring space"), std::string::npos) << s.ToString();
    Client d = Connect("other");
    ASSERT_TRUE(d.Attach(wire::kAttachWriter, {}, &x).ok()) << "the dead session's writer slot is released";
    ASSERT_TRUE(d.sock.SendStruct(wire::MsgType::kCommit, wire::CommitMsg{1, 0, 64, 1, 1, 0}).ok());
    EXPECT_TRUE(d.sock.Expect(wire::MsgType::kCommitAck, &f, kTimeout).IsCorruption());
  }
  // The first writer never noticed.
  Epoch ep{1, at.ok.ring_tail, at.ok.ring_tail, at.ok.ring_capacity};
  wire::CommitAckMsg ack;
  EXPECT_TRUE(CommitAndWait(w, ep.Message(), &ack).ok());
}

TEST_F(DaemonTest, SurvivesKillNineAndSigterm) {
  uint64_t tail;
  {
    Client w = Connect("app");
    Attached at;
    ASSERT_TRUE(w.Attach(wire::kAttachWriter | wire::kAttachCreate, regions_, &at).ok());
    Epoch ep{1, at.ok.ring_tail, at.ok.ring_tail, at.ok.ring_capacity};
    std::vector<uint8_t> rec(wire::RecordFootprint(4096));
    ep.Put(rec.data(), 2, 0, Pattern(4096, 9));
    const wire::RingWriteMsg rw{at.ok.ring_tail};
    ASSERT_TRUE(w.sock.Send(wire::MsgType::kRingWrite, &rw, sizeof rw, rec.data(), rec.size()).ok());
    wire::CommitAckMsg ack;
    ASSERT_TRUE(CommitAndWait(w, ep.Message(), &ack).ok());
    tail = ack.ring_tail;
    // Records of epoch 2 without a commit: torn by the crash.
    Epoch ep2{2, tail, tail, at.ok.ring_capacity};
    ep2.Put(rec.data(), 2, 0, Pattern(4096, 10));
    const wire::RingWriteMsg rw2{tail};
    ASSERT_TRUE(w.sock.Send(wire::MsgType::kRingWrite, &rw2, sizeof rw2, rec.data(), rec.size()).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(WIFSIGNALED(daemon_->Kill(SIGKILL)));
  }
  daemon_->Start();  // the stale unix socket is replaced
  {
    Client w = Connect("app", /*tcp=*/false);
    Attached at;
    ASSERT_TRUE(w.Attach(wire::kAttachWriter, {}, &at).ok());
    EXPECT_EQ(at.ok.committed_epoch, 1u);
    EXPECT_EQ(at.ok.ring_tail, tail);
    EXPECT_EQ(at.ok.ring_applied, tail);
    auto img = w.Read(2, 0, 4096);
    ASSERT_TRUE(img.ok());
    EXPECT_TRUE(*img == Pattern(4096, 9));
    // SIGTERM with a connected client: it is disconnected and the daemon exits 0.
    const int status = daemon_->Kill(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    Frame f;
    EXPECT_TRUE(w.sock.Receive(&f, kTimeout).IsUnavailable());
  }
}

}  // namespace
}  // namespace respct::memnode
