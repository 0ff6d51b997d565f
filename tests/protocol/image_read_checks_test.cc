// ClientSession::ReadImage checks, in its own memory, the page checksums the
// memnode sends before each piece (runtime/wire/image_sums.h): a memnode that
// serves bytes other than the ones it checked (a flip in its memory, on the
// wire, in an RDMA READ) is an error, never a resumed image. The memnode here
// is scripted (tests/fuzz/scripted_channel.h's ScriptedChannel).
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "runtime/transport/client_handshake.h"
#include "runtime/transport/client_session.h"
#include "runtime/wire/image_sums.h"
#include "tests/fuzz/scripted_channel.h"

namespace respct {
namespace {

using fuzz::Payload;
using fuzz::ScriptedChannel;

constexpr uint32_t kRegion = 1;
constexpr uint64_t kRegionSize = 3 * wire::kImageSumPage + 100;  // a partial last page

std::vector<uint8_t> RegionBytes() {
  std::vector<uint8_t> b(kRegionSize);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 13 + 7);
  return b;
}

// A reader session whose memnode answers each ReadImage with one piece:
// ImageSums for its whole pages, then ImageData, after `tamper` had its go.
struct ScriptedReader {
  using Tamper = std::function<void(std::vector<uint64_t>& sums, std::vector<uint8_t>& bytes, wire::PageSpan& span)>;

  explicit ScriptedReader(Tamper tamper) : image(RegionBytes()) {
    auto chan = std::make_unique<ScriptedChannel>(
        [this, tamper](wire::MsgType t, const std::vector<uint8_t>& p, int) {
          if (t != wire::MsgType::kReadImage) return;
          const auto r = fuzz::FromBytes<wire::ReadImageMsg>(p);
          std::vector<uint8_t> bytes(image.begin() + static_cast<ptrdiff_t>(r.offset),
                                     image.begin() + static_cast<ptrdiff_t>(r.offset + r.length));
          wire::PageSpan span = wire::WholePages(r.offset, r.length, kRegionSize);
          std::vector<uint64_t> sums;
          for (uint64_t pg = span.first; pg < span.end; ++pg) {
            const uint64_t at = pg * wire::kImageSumPage;
            sums.push_back(wire::ImagePageSum(image.data() + at, std::min(wire::kImageSumPage, kRegionSize - at)));
          }
          tamper(sums, bytes, span);
          chan_->Deliver(wire::MsgType::kImageSums, Payload(wire::ImageSumsMsg{span.first, span.count()}, sums.data(),
                                                            sums.size() * sizeof(uint64_t)));
          chan_->Deliver(wire::MsgType::kImageData,
                         Payload(wire::ImageDataMsg{r.offset}, bytes.data(), bytes.size()));
        },
        nullptr);
    chan_ = chan.get();
    attach.regions = {wire::RegionDesc{kRegion, 0, kRegionSize, 0}};
    session = std::make_unique<ClientSession>("scripted://memnode", std::move(chan), &attach, nullptr, 1000);
  }

  Status Read(uint64_t offset, uint64_t len, std::vector<uint8_t>* out) {
    out->assign(len, 0);
    return session->ReadImage(kRegion, offset, out->data(), len);
  }

  std::vector<uint8_t> image;
  ScriptedChannel* chan_ = nullptr;
  AttachReply attach;
  std::unique_ptr<ClientSession> session;
};

TEST(ImageReadChecks, HonestPiecesReadBackWholeAndInPart) {
  ScriptedReader r([](auto&, auto&, auto&) {});
  std::vector<uint8_t> got;
  ASSERT_TRUE(r.Read(0, kRegionSize, &got).ok());
  EXPECT_EQ(got, r.image);
  // A range ending mid-page: only its whole pages are checked, and it reads.
  ASSERT_TRUE(r.Read(100, 5000, &got).ok());
  EXPECT_EQ(0, std::memcmp(got.data(), r.image.data() + 100, 5000));
}

TEST(ImageReadChecks, AFlippedByteInAPieceIsCorruption) {
  ScriptedReader r([](auto&, std::vector<uint8_t>& bytes, auto&) { bytes[2 * wire::kImageSumPage + 5] ^= 0x04; });
  std::vector<uint8_t> got;
  const Status st = r.Read(0, kRegionSize, &got);
  ASSERT_TRUE(st.IsCorruption()) << st.ToString();
  EXPECT_NE(st.message().find("offset 8192 fails its checksum"), std::string::npos) << st.ToString();
  // The session is spent: the frames that followed were never read.
  EXPECT_TRUE(r.Read(0, 10, &got).IsUnavailable());
}

TEST(ImageReadChecks, TheLastPartialPageIsCheckedZeroPadded) {
  ScriptedReader r([](auto&, std::vector<uint8_t>& bytes, auto&) { bytes[bytes.size() - 1] ^= 0x80; });
  std::vector<uint8_t> got;
  EXPECT_TRUE(r.Read(3 * wire::kImageSumPage, 100, &got).IsCorruption());
}

TEST(ImageReadChecks, SumsForOtherPagesThanThePieceHoldsAreRefused) {
  ScriptedReader r([](std::vector<uint64_t>& sums, auto&, wire::PageSpan& span) {
    sums.pop_back();
    --span.end;
  });
  std::vector<uint8_t> got;
  const Status st = r.Read(0, kRegionSize, &got);
  ASSERT_TRUE(st.IsCorruption()) << st.ToString();
  EXPECT_NE(st.message().find("ImageSums for pages"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace respct
