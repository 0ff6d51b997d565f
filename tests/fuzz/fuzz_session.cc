// fuzz_session: a respct-memnode Session (memnode/session.h) fed arbitrary
// frame sequences by a hostile client, before and after a successful
// handshake. The memnode must answer every violation with an Error and end
// only that session: no crash, no read out of bounds, no hang.
//
// Input: one byte picks how far the harness takes the session honestly
// before the script starts —
//   0  nowhere: the first frame is the script's (the handshake is fuzzed)
//   1  handshake done as an admin session (no app)
//   2  handshake done for app "fuzz", not attached (the script may Attach)
//   3  attached as the writer of "fuzz" over tcp (records in RingWrite)
//   4  attached as the writer over shm (records in the passed staging ring)
// — then a script of operations, each one frame:
//   raw frame           any type, length and payload
//   valid record        a data record encoded at the writer's ring cursor
//                       (a RingWrite, or bytes in the staging ring), so
//                       that commits can succeed and apply
//   commit              the Commit of the records so far, maybe with one
//                       byte flipped
//   read image / query  ReadImage, ListEpochs, ListWrites with fuzzed ranges
//   ring write at       a RingWrite at a position near the cursor
// The harness answers the Challenge with a correct proof and follows
// AttachOk, CommitAck and RingProgress to keep its cursor where the memnode's is.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "memnode/pool.h"
#include "memnode/session.h"
#include "runtime/transport/secret.h"
#include "runtime/wire/record.h"
#include "tests/fuzz/fuzz_workdir.h"
#include "tests/fuzz/ring_epoch.h"
#include "tests/fuzz/scripted_channel.h"

namespace respct::fuzz {
namespace {

constexpr char kApp[] = "fuzz";
// The writer modes' regions: ids 1 and 2 (the script also names others).
constexpr uint32_t kRegionIds[] = {1, 2};
constexpr uint64_t kRegionSizes[] = {256u << 10, 64u << 10};
// A fresh pool now and then: reset apps are retired, not freed, while the
// pool is open.
constexpr int kRunsPerPool = 2000;

struct Globals {
  std::unique_ptr<FuzzWorkdir> dir;
  std::unique_ptr<memnode::Pool> pool;
  Secret secret = Secret::FromBytes("fuzz-session-secret-0123456789ab");
  memnode::SessionOptions options;
  int runs = 0;
};
Globals* g = nullptr;

void OpenFreshPool() {
  g->pool.reset();
  const std::string path = g->dir->File("pool");
  std::filesystem::remove(path);
  auto pool = memnode::Pool::Open(path, 128ull << 20, memnode::Pool::OpenMode::kReadWrite);
  if (!pool.ok()) {
    std::fprintf(stderr, "fuzz_session: cannot create its pool: %s\n", pool.status().ToString().c_str());
    std::abort();
  }
  g->pool = std::move(*pool);
}

// The client side of one session: what the harness knows of the conversation.
class ScriptedClient {
 public:
  ScriptedClient(const uint8_t* data, size_t size)
      : in_(data, size), mode_(in_.U8() % 5), chan_([this](auto t, const auto& p, int fd) { OnSend(t, p, fd); },
                                                   [this] { return Next(); }) {}
  ~ScriptedClient() {
    if (staging_ != nullptr) munmap(staging_, staging_size_);
  }

  bool unix_socket() const { return mode_ == 4; }
  ScriptedChannel* channel() { return &chan_; }

  void Start() {
    if (mode_ == 0) return;
    wire::HelloMsg hello{};
    hello.version = wire::kProtocolVersion;
    app_ = mode_ == 1 ? "" : kApp;
    hello.app_len = static_cast<uint16_t>(app_.size());
    std::memcpy(hello.app, app_.data(), app_.size());
    chan_.Deliver(wire::MsgType::kHello, Payload(hello));
  }

 private:
  void OnSend(wire::MsgType type, const std::vector<uint8_t>& p, int fd) {
    switch (type) {
      case wire::MsgType::kChallenge: {
        const auto ch = FromBytes<wire::ChallengeMsg>(p);
        wire::AuthMsg auth{};
        const Secret::Proof proof = g->secret.Prove(kClientProofLabel, ch.server_nonce, app_);
        std::memcpy(auth.client_proof, proof.data(), proof.size());
        chan_.Deliver(wire::MsgType::kAuth, Payload(auth));
        break;
      }
      case wire::MsgType::kAuthOk:
        if (mode_ >= 3) {
          const wire::AttachMsg msg{wire::kAttachWriter | wire::kAttachCreate | wire::kAttachReset, 2, 0};
          wire::RegionDesc regions[2];
          for (int i = 0; i < 2; ++i) regions[i] = wire::RegionDesc{kRegionIds[i], 0, kRegionSizes[i], 0};
          chan_.Deliver(wire::MsgType::kAttach, Payload(msg, regions, sizeof regions));
        }
        break;
      case wire::MsgType::kAttachOk: {
        const auto ok = FromBytes<wire::AttachOkMsg>(p);
        writer_.Start(ok.ring_capacity, ok.ring_tail, ok.ring_applied, ok.committed_epoch + 1);
        capacity_ = ok.ring_capacity;
        if (fd >= 0) MapStaging(fd, ok.ring_capacity);
        break;
      }
      case wire::MsgType::kCommitAck: {
        const auto ack = FromBytes<wire::CommitAckMsg>(p);
        writer_.Start(capacity_, ack.ring_tail, ack.ring_applied, ack.epoch + 1);
        break;
      }
      case wire::MsgType::kRingProgress: {
        const auto progress = FromBytes<wire::RingProgressMsg>(p);
        writer_.SetApplied(progress.ring_applied);
        break;
      }
      default:
        break;
    }
  }

  void MapStaging(int fd, uint64_t capacity) {
    void* p = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return;
    staging_ = static_cast<uint8_t*>(p);
    staging_size_ = capacity;
  }

  // Places record bytes at ring position `pos`: a RingWrite over tcp, the
  // staging ring over shm.
  void PlaceRecord(uint64_t pos, const std::vector<uint8_t>& rec) {
    if (staging_ != nullptr) {
      const uint64_t slot = pos % staging_size_;
      if (rec.size() <= staging_size_ - slot) std::memcpy(staging_ + slot, rec.data(), rec.size());
      return;
    }
    chan_.Deliver(wire::MsgType::kRingWrite, Payload(wire::RingWriteMsg{pos}, rec.data(), rec.size()));
  }

  // One operation of the script; false when the input is used up.
  bool Next() {
    if (in_.empty()) return false;
    switch (in_.U8() % 8) {
      case 0:
      case 1: {
        const uint16_t type = in_.U8();
        chan_.Deliver(type, in_.Take(in_.U16()));
        return true;
      }
      case 2:
      case 3:
        ValidRecord();
        return true;
      case 4:
        Commit();
        return true;
      case 5: {
        const wire::ReadImageMsg msg{RegionId(), 0, in_.U32(), in_.U32() % (2u << 20)};
        chan_.Deliver(wire::MsgType::kReadImage, Payload(msg));
        return true;
      }
      case 6: {
        wire::EpochQueryMsg q{};
        const uint8_t name = in_.U8();
        if (name % 3 == 1) std::memcpy(q.app, kApp, sizeof kApp);
        if (name % 3 == 2) std::memcpy(q.app, "other", 6);
        q.from_epoch = in_.U16();
        q.to_epoch = q.from_epoch + in_.U16();
        chan_.Deliver(name & 0x80 ? wire::MsgType::kListWrites : wire::MsgType::kListEpochs, Payload(q));
        return true;
      }
      default: {
        const uint64_t pos = writer_.tail() + static_cast<int16_t>(in_.U16()) * int64_t{64};
        const std::vector<uint8_t> bytes = in_.Take(in_.U16());
        chan_.Deliver(wire::MsgType::kRingWrite, Payload(wire::RingWriteMsg{pos}, bytes.data(), bytes.size()));
        return true;
      }
    }
  }

  uint32_t RegionId() {
    const uint8_t pick = in_.U8();
    return pick < 250 ? kRegionIds[pick % 2] : pick;
  }

  void ValidRecord() {
    const uint32_t region = RegionId();
    const uint64_t size = region == kRegionIds[1] ? kRegionSizes[1] : kRegionSizes[0];
    const uint64_t offset = in_.U32() % (size + 128);
    const std::vector<uint8_t> data = in_.Take(in_.U16() % 4096);
    if (!writer_.attached()) return;  // nothing to place
    // A full ring places nothing: the script goes on.
    (void)writer_.Add(region, offset, data, [this](uint64_t pos, const auto& rec) { PlaceRecord(pos, rec); });
  }

  void Commit() {
    wire::CommitMsg msg = writer_.Commit();
    const uint8_t flip = in_.U8();
    if (flip < sizeof msg) reinterpret_cast<uint8_t*>(&msg)[flip] ^= in_.U8() | 1;
    chan_.Deliver(wire::MsgType::kCommit, Payload(msg));
  }

  FuzzBytes in_;
  const int mode_;
  std::string app_;
  ScriptedChannel chan_;
  RingEpoch writer_;
  uint64_t capacity_ = 0;
  uint8_t* staging_ = nullptr;
  uint64_t staging_size_ = 0;
};

}  // namespace
}  // namespace respct::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace respct::fuzz;
  spdlog::set_level(spdlog::level::off);
  g = new Globals;
  g->dir = std::make_unique<FuzzWorkdir>("session");
  g->options.default_ring = respct::wire::AlignUp(respct::wire::kMinRingCapacity, 4096);
  OpenFreshPool();
  std::atexit([] { delete g; });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace respct::fuzz;
  if (++g->runs % kRunsPerPool == 0) OpenFreshPool();
  ScriptedClient client(data, size);
  client.Start();
  respct::memnode::Session session(client.channel(), g->pool.get(), &g->secret, g->options, client.unix_socket(),
                                   "fuzz-peer");
  session.Run();
  return 0;
}
