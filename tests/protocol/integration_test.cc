// Client transports against a real respct-memnode, over shm://, tcp:// and rdma:// (both durability modes):
// random epochs checked byte for byte, readers, reconnection, one writer per
// app, ring wrap-around and an epoch too large for the ring.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "tests/protocol/image_model.h"
#include "tests/protocol/protocol_env.h"
#include "tests/protocol/raw_writer.h"

namespace respct::test {
namespace {

const std::vector<RegionSpec> kRegions = {{1, 2 << 20, 0x200000000000}, {2, 6 << 20, 0x200000400000},
                                          {7, 300 << 10, 0x200001000000}};

class ProtocolTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { RESPCT_SKIP_WITHOUT_RDMA(GetParam()); }
  std::string url() const { return UrlOf(GetParam()); }
  std::string App(const std::string& what) const { return what + "-" + GetParam(); }
  Result<std::unique_ptr<Transport>> Writer(const std::string& app) {
    return ConnectWriter(url(), Memnode().secret(), AppOptions(app, kRegions, true));
  }
  Result<std::unique_ptr<Transport>> Reader(const std::string& app) {
    return Transport::Connect(url(), Memnode().secret(), AppOptions(app, {}, false, false));
  }
};

TEST_P(ProtocolTest, ThousandRandomEpochsMatchTheModelByteForByte) {
  const std::string app = App("random");
  auto w = Writer(app);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  Transport& t = **w;
  ASSERT_EQ(t.info().committed_epoch, 0u);
  ASSERT_EQ(t.info().regions.size(), kRegions.size());
  const uint64_t ring = t.info().ring_capacity;
  ImageModel model(kRegions);
  EpochGenerator gen(/*seed=*/GetParam() == "shm" ? 1 : 2, kRegions, /*max_len=*/200 << 10);
  for (uint64_t e = 1; e <= 1000; ++e) {
    const Epoch ep = gen.Next();
    ASSERT_TRUE(AppendEpoch(t, e, ep).ok()) << "epoch " << e;
    Status st = t.Commit(e);
    ASSERT_TRUE(st.ok()) << "epoch " << e << ": " << st.ToString();
    model.Apply(ep);
    if (e % 250 == 0) {
      ASSERT_TRUE(model.Matches(t)) << "after epoch " << e;
    }
  }
  EXPECT_EQ(t.info().committed_epoch, 1000u);
  EXPECT_EQ(t.stats().commits, 1000u);
  // The ring wrapped many times, so placement across lap ends was exercised.
  EXPECT_GT(t.stats().ring_bytes, 5 * ring) << "ring of " << ring << " bytes";

  auto r = Reader(app);
  ASSERT_TRUE(r.ok()) << r.status().ToString() << "; memnode log: " << Memnode().LogTail();
  EXPECT_EQ((*r)->info().committed_epoch, 1000u);
  EXPECT_TRUE(model.Matches(**r));
  // A reader may read but never commit.
  uint8_t b = 1;
  EXPECT_EQ((*r)->Append(1001, 1, 0, &b, 1).code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ((*r)->Commit(1001).code(), Status::Code::kFailedPrecondition);

  // ListApps from the app session and from an admin session.
  auto apps = t.ListApps();
  ASSERT_TRUE(apps.ok()) << apps.status().ToString();
  auto admin = Transport::Connect(url(), Memnode().secret(), ConnectOptions{});
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  auto apps2 = (*admin)->ListApps();
  ASSERT_TRUE(apps2.ok()) << apps2.status().ToString();
  for (const auto* list : {&*apps, &*apps2}) {
    bool found = false;
    for (const wire::AppSummary& a : *list) {
      if (app != a.name) continue;
      found = true;
      EXPECT_EQ(a.committed_epoch, 1000u);
      EXPECT_EQ(a.region_count, kRegions.size());
      EXPECT_EQ(a.writer_attached, 1u);
      EXPECT_EQ(a.ring_capacity, ring);
    }
    EXPECT_TRUE(found) << app << " missing from ListApps";
  }
  // An admin session only lists.
  EXPECT_FALSE((*admin)->ReadImage(1, 0, &b, 1).ok());
}

TEST_P(ProtocolTest, ReconnectingWriterResumesAndASecondWriterIsRefused) {
  const std::string app = App("resume");
  ImageModel model(kRegions);
  EpochGenerator gen(3, kRegions, 64 << 10);
  {
    auto w = Writer(app);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    for (uint64_t e = 1; e <= 20; ++e) {
      const Epoch ep = gen.Next();
      ASSERT_TRUE(AppendEpoch(**w, e, ep).ok());
      ASSERT_TRUE((*w)->Commit(e).ok());
      model.Apply(ep);
    }
    auto second = Transport::Connect(url(), Memnode().secret(), AppOptions(app, kRegions, true));
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), Status::Code::kBusy);
    EXPECT_NE(second.status().message().find("already has a writer attached"), std::string::npos)
        << second.status().message();
    // An uncommitted epoch is left behind when the writer goes away.
    const Epoch lost = gen.Next();
    ASSERT_TRUE(AppendEpoch(**w, 21, lost).ok());
  }
  auto w = Writer(app);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_EQ((*w)->info().committed_epoch, 20u);
  EXPECT_TRUE(model.Matches(**w));
  uint8_t b = 7;
  EXPECT_EQ((*w)->Append(20, 1, 0, &b, 1).code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ((*w)->Commit(20).code(), Status::Code::kFailedPrecondition);
  const Epoch ep = gen.Next();
  ASSERT_TRUE(AppendEpoch(**w, 21, ep).ok());
  ASSERT_TRUE((*w)->Commit(21).ok());
  model.Apply(ep);
  EXPECT_TRUE(model.Matches(**w));
}

TEST_P(ProtocolTest, EpochLargerThanTheRingIsRefusedAndTheSessionGoesOn) {
  const std::string app = App("toolarge");
  auto w = Writer(app);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  const uint64_t ring = (*w)->info().ring_capacity;
  std::vector<uint8_t> big(2 << 20, 0xAB);
  Status st;
  for (uint64_t off = 0; st.ok() && off < ring + (4 << 20); off += big.size())
    st = (*w)->Append(1, 2, off % (6 << 20), big.data(), big.size());
  ASSERT_EQ(st.code(), Status::Code::kResourceExhausted) << st.ToString();
  EXPECT_NE(st.message().find("does not fit the ring of " + std::to_string(ring) + " bytes"), std::string::npos)
      << st.message();
  // The oversized epoch was dropped; a normal epoch 1 commits in its place.
  const std::vector<uint8_t> small(3 << 20, 0x5A);  // > kMaxRecordPayload: split into records
  ASSERT_TRUE((*w)->Append(1, 2, 100, small.data(), small.size()).ok());
  ASSERT_TRUE((*w)->Commit(1).ok());
  ImageModel model(kRegions);
  model.Apply({Write{2, 100, small}});
  EXPECT_TRUE(model.Matches(**w));
}

TEST_P(ProtocolTest, FullRingBlocksUntilTheMemnodeAppliesThenContinues) {
  // Epochs of ~3 MiB in a ~4 MiB ring: each one needs space the previous one
  // holds until the memnode has applied it and said so with RingProgress.
  ConnectOptions o = AppOptions(App("backpressure"), kRegions, true);
  o.ring_capacity = wire::kMinRingCapacity;
  auto w = ConnectWriter(url(), Memnode().secret(), o);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ImageModel model(kRegions);
  for (uint64_t e = 1; e <= 12; ++e) {
    const Epoch ep = {Write{2, e * 1000, std::vector<uint8_t>(3 << 20, static_cast<uint8_t>(e))}};
    ASSERT_TRUE(AppendEpoch(**w, e, ep).ok()) << "epoch " << e;
    ASSERT_TRUE((*w)->Commit(e).ok()) << "epoch " << e;
    model.Apply(ep);
  }
  EXPECT_GE((*w)->stats().ring_full_waits, 1u);
  EXPECT_TRUE(model.Matches(**w));
}

TEST_P(ProtocolTest, AttachErrorsNameTheirCause) {
  auto missing = Transport::Connect(url(), Memnode().secret(), AppOptions(App("nosuchapp"), kRegions, false, false));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound) << missing.status().ToString();
  const std::string app = App("layout");
  ASSERT_TRUE(Writer(app).ok());
  std::vector<RegionSpec> other = kRegions;
  other[0].size += 4096;
  auto bad = ConnectWriter(url(), Memnode().secret(), AppOptions(app, other, true));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(bad.status().message().find("different region layout"), std::string::npos) << bad.status().message();
  auto badname = Transport::Connect(url(), Memnode().secret(), AppOptions("no/slash", kRegions, false));
  EXPECT_EQ(badname.status().code(), Status::Code::kInvalidArgument);
}

TEST_P(ProtocolTest, ReadImageOutsideARegionIsRefusedLocally) {
  auto w = Writer(App("bounds"));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  uint8_t b[16];
  EXPECT_EQ((*w)->ReadImage(7, (300 << 10) - 8, b, 16).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ((*w)->ReadImage(99, 0, b, 1).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE((*w)->ReadImage(7, (300 << 10) - 16, b, 16).ok());
}

INSTANTIATE_TEST_SUITE_P(Transports, ProtocolTest, ::testing::Values("shm", "tcp", "rdma", "rdma_client"),
                         TransportName);

}  // namespace
}  // namespace respct::test
