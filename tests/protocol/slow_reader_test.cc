// A reader of an app's image that stops reading (a recovery on a slow link,
// a stuck respct-inspect) must not stall the app's writer, over shm://,
// tcp:// and rdma://. The memnode hands image bytes on without the app's
// mutex and defers applying epochs while a read is in progress
// (memnode/app.h, ReadImage); a writer that fills its ring meanwhile is told
// of the ring space the deferred apply frees as soon as the read ends, with
// nothing of its own to commit (memnode/session.h, ReceiveNext).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "tests/protocol/image_model.h"
#include "tests/protocol/protocol_env.h"
#include "tests/protocol/raw_writer.h"

namespace respct::test {
namespace {

// Region 2 is the read one: larger than any socket buffer, so that the
// memnode's sends to a reader that does not read block (over rdma:// the
// memnode waits for the reader's ImageReadDone instead).
const std::vector<RegionSpec> kRegions = {{1, 1 << 20, 0}, {2, 64 << 20, 0}};
constexpr uint64_t kEpochBytes = 1 << 20;

class SlowReaderTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    RESPCT_SKIP_WITHOUT_RDMA(GetParam());
    app_ = "slow-reader-" + GetParam();
    ConnectOptions o = AppOptions(app_, kRegions, true);
    o.ring_capacity = wire::kMinRingCapacity;
    o.reset = true;
    auto w = ConnectWriter(url(), Memnode().secret(), o);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    writer_ = std::move(*w);
  }

  std::string url() const { return UrlOf(GetParam()); }

  // A reader session that asks for the whole of region 2 and then reads
  // nothing of the answer.
  std::unique_ptr<FrameChannel> StalledReader() {
    auto ch = RawChannel(url());
    if (ch == nullptr) return nullptr;
    Status st = ClientHandshake(*ch, Memnode().secret(), app_, 5000);
    if (st.ok()) {
      auto a = ClientAttach(*ch, AppOptions(app_, kRegions, /*writer=*/false, /*create=*/false));
      st = a.status();
    }
    if (st.ok()) {
      const wire::ReadImageMsg req{2, 0, 0, kRegions[1].size};
      st = ch->SendStruct(wire::MsgType::kReadImage, req);
    }
    EXPECT_TRUE(st.ok()) << st.ToString();
    return st.ok() ? std::move(ch) : nullptr;
  }

  Status CommitEpoch(uint64_t epoch, uint8_t fill) {
    const Epoch ep = {Write{1, 0, std::vector<uint8_t>(kEpochBytes, fill)}};
    RESPCT_RETURN_IF_ERROR(AppendEpoch(*writer_, epoch, ep));
    RESPCT_RETURN_IF_ERROR(writer_->Commit(epoch));
    model_.Apply(ep);
    return Status::OK();
  }

  std::string app_;
  std::unique_ptr<Transport> writer_;
  ImageModel model_{kRegions};
};

TEST_P(SlowReaderTest, CommitsGoOnAndTheRingIsFreedWhenTheReadEnds) {
  ASSERT_TRUE(CommitEpoch(1, 0x11).ok());
  auto reader = StalledReader();
  ASSERT_NE(reader, nullptr);
  // Let the memnode start the read and block on the reader.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  // One epoch commits (and is acknowledged) while the read is stuck. Before
  // reads let go of the app's mutex, this Commit waited for the read and
  // failed at the client's 10 s reply bound.
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(CommitEpoch(2, 0x22).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));

  // Epochs that together fill the ring several times over: the writer must
  // wait for ring space that only the deferred apply can free.
  const uint64_t epochs = 4 * wire::kMinRingCapacity / kEpochBytes;
  std::promise<Status> written;
  std::future<Status> done = written.get_future();
  std::thread w([&] {
    Status st;
    for (uint64_t e = 3; e < 3 + epochs && st.ok(); ++e) st = CommitEpoch(e, static_cast<uint8_t>(e));
    written.set_value(st);
  });
  EXPECT_EQ(done.wait_for(std::chrono::milliseconds(500)), std::future_status::timeout)
      << "the writer filled its ring while a read held back the apply";

  reader.reset();  // the read fails at its next send and ends
  const bool finished = done.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  w.join();
  ASSERT_TRUE(finished) << "the writer was never told of the space the read's end freed";
  const Status st = done.get();
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_GT(writer_->stats().ring_full_waits, 0u);
  EXPECT_EQ(writer_->info().committed_epoch, 2 + epochs);
  EXPECT_TRUE(model_.Matches(*writer_));
}

INSTANTIATE_TEST_SUITE_P(Transports, SlowReaderTest, ::testing::Values("shm", "tcp", "rdma"), TransportName);

}  // namespace
}  // namespace respct::test
