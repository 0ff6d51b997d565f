// ListEpochs and ListWrites over shm:// and tcp://: an admin session gets any
// app's epoch history and written ranges (metadata, never bytes), an app
// session only its own; unknown apps, bad ranges and a non-terminated name
// are refused with an Error that leaves the session usable.
#include <gtest/gtest.h>

#include <cstring>

#include "runtime/transport/client_handshake.h"
#include "runtime/transport/frame_socket.h"
#include "tests/protocol/protocol_env.h"

namespace respct::test {
namespace {

const std::vector<RegionSpec> kRegions = {{1, 1 << 20, 0}, {2, 64 << 10, 0}};

class EpochQueryTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    // One app per test: a previous test's writer may still be detaching.
    app_ = "epochq-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (char& c : app_)
      if (c == '/') c = '-';
    ConnectOptions o = AppOptions(app_, kRegions, true);
    o.ring_capacity = wire::kMinRingCapacity;
    auto w = Transport::Connect(UrlOf(GetParam()), Memnode().secret(), o);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    const uint8_t bytes[300] = {1};
    for (uint64_t e = w.value()->info().committed_epoch + 1, n = 0; n < 3; ++e, ++n) {
      ASSERT_TRUE((*w)->Append(e, 1, 1000 * e % (1 << 19), bytes, sizeof bytes).ok());
      ASSERT_TRUE((*w)->Append(e, 2, 64, bytes, 100).ok());
      ASSERT_TRUE((*w)->Commit(e).ok());
    }
    committed_ = (*w)->info().committed_epoch;
  }
  std::unique_ptr<Transport> Admin() {
    ConnectOptions o;
    auto t = Transport::Connect(UrlOf(GetParam()), Memnode().secret(), o);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? std::move(*t) : nullptr;
  }
  std::string app_;
  uint64_t committed_ = 0;
};

TEST_P(EpochQueryTest, AdminListsEpochsAndWrites) {
  auto admin = Admin();
  ASSERT_NE(admin, nullptr);
  auto l = admin->ListEpochs(app_, 0, committed_);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->committed_epoch, committed_);
  ASSERT_GE(l->epochs.size(), 3u);
  const wire::EpochInfo& last = l->epochs.back();
  EXPECT_EQ(last.epoch, committed_);
  EXPECT_EQ(last.record_count, 2u);
  EXPECT_EQ(last.payload_bytes, 400u);
  EXPECT_GT(last.commit_unix_ns, 0u);

  auto w = admin->ListWrites(app_, committed_ - 2, committed_);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_EQ(w->size(), 2u);
  for (const wire::EpochWrites& e : *w) {
    EXPECT_EQ(e.status, wire::WritesStatus::kPresent);
    ASSERT_EQ(e.ranges.size(), 2u);
    EXPECT_EQ(e.ranges[0].region_id, 1u);
    EXPECT_EQ(e.ranges[0].offset, 1000 * e.epoch % (1 << 19));
    EXPECT_EQ(e.ranges[0].length, 300u);
    EXPECT_EQ(e.ranges[1].region_id, 2u);
  }
}

TEST_P(EpochQueryTest, RefusalsLeaveTheSessionUsable) {
  auto admin = Admin();
  ASSERT_NE(admin, nullptr);
  auto unknown = admin->ListEpochs("no-such-app", 0, 10);
  EXPECT_EQ(unknown.status().code(), Status::Code::kNotFound) << unknown.status().ToString();
  auto backwards = admin->ListWrites(app_, committed_, committed_ - 1);
  EXPECT_EQ(backwards.status().code(), Status::Code::kInvalidArgument) << backwards.status().ToString();
  auto future = admin->ListWrites(app_, 0, committed_ + 5);
  EXPECT_EQ(future.status().code(), Status::Code::kInvalidArgument) << future.status().ToString();
  auto huge = admin->ListEpochs(app_, 0, wire::kMaxEpochsPerQuery + 1);
  EXPECT_EQ(huge.status().code(), Status::Code::kInvalidArgument) << huge.status().ToString();
  // Still serving this session.
  auto apps = admin->ListApps();
  EXPECT_TRUE(apps.ok()) << apps.status().ToString();
  EXPECT_TRUE(admin->ListEpochs(app_, 0, 1).ok());
}

TEST_P(EpochQueryTest, AppSessionQueriesOnlyItsOwnApp) {
  auto reader = Transport::Connect(UrlOf(GetParam()), Memnode().secret(), AppOptions(app_, {}, false, false));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto own = (*reader)->ListEpochs("", 0, committed_);
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  EXPECT_EQ(own->committed_epoch, committed_);
  auto other = (*reader)->ListEpochs("inspect-bank", 0, 10);
  EXPECT_EQ(other.status().code(), Status::Code::kPermissionDenied) << other.status().ToString();
}

// A name field without a NUL is a malformed request, refused without
// reading past the field.
TEST_P(EpochQueryTest, UnterminatedNameIsRefused) {
  auto ep = ParseEndpoint(UrlOf(GetParam()));
  ASSERT_TRUE(ep.ok());
  auto s = ep->kind == Endpoint::Kind::kShm ? FrameSocket::ConnectUnix(ep->path, 5000)
                                            : FrameSocket::ConnectTcp(ep->host, ep->port, 5000);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE(ClientHandshake(*s, Memnode().secret(), "", 5000).ok());
  wire::EpochQueryMsg q;
  std::memset(&q, 'a', sizeof q);
  q.from_epoch = 0;
  q.to_epoch = 1;
  ASSERT_TRUE(s->SendStruct(wire::MsgType::kListEpochs, q).ok());
  Frame f;
  ASSERT_TRUE(s->Receive(&f, 5000).ok());
  ASSERT_EQ(f.type(), wire::MsgType::kError);
  const Status st = StatusFromErrorFrame(f);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("NUL"), std::string::npos) << st.ToString();
}

INSTANTIATE_TEST_SUITE_P(Transports, EpochQueryTest, ::testing::Values("shm", "tcp"), TransportName);

}  // namespace
}  // namespace respct::test
