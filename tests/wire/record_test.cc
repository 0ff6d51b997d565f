// Log record encoding and every way a record can be refused.
#include "runtime/wire/record.h"

#include <gtest/gtest.h>

#include <vector>

#include "runtime/wire/checksum.h"

namespace respct::wire {
namespace {

std::vector<uint8_t> Encoded(uint64_t pos, uint32_t len, uint64_t* checksum = nullptr) {
  std::vector<uint8_t> payload(len);
  for (uint32_t i = 0; i < len; ++i) payload[i] = static_cast<uint8_t>(i * 7 + 3);
  std::vector<uint8_t> buf(RecordFootprint(len), 0xEE);
  const uint64_t c = EncodeDataRecord(buf.data(), pos, 9, 2, 4096, payload.data(), len);
  if (checksum != nullptr) *checksum = c;
  return buf;
}

TEST(Record, FootprintIsAlignedAndCoversHeader) {
  EXPECT_EQ(RecordFootprint(0), 64u);
  EXPECT_EQ(RecordFootprint(16), 64u);
  EXPECT_EQ(RecordFootprint(17), 128u);
  EXPECT_EQ(RecordFootprint(4096), 4160u);
  EXPECT_EQ(kCommitFootprint, 128u);
}

TEST(Record, DataRoundTrip) {
  uint64_t c = 0;
  auto buf = Encoded(640, 300, &c);
  RecordView v;
  ASSERT_TRUE(DecodeRecord(buf.data(), buf.size(), 640, &v).ok());
  EXPECT_EQ(v.header.kind, static_cast<uint16_t>(RecordKind::kData));
  EXPECT_EQ(v.header.region_id, 2u);
  EXPECT_EQ(v.header.offset, 4096u);
  EXPECT_EQ(v.header.epoch, 9u);
  EXPECT_EQ(v.header.length, 300u);
  EXPECT_EQ(v.header.checksum, c);
  EXPECT_EQ(v.footprint, RecordFootprint(300));
  for (uint32_t i = 0; i < 300; ++i) ASSERT_EQ(v.payload[i], static_cast<uint8_t>(i * 7 + 3));
  // Padding after the payload is zeroed, not left as garbage.
  for (size_t i = kRecordHeaderSize + 300; i < buf.size(); ++i) ASSERT_EQ(buf[i], 0);
}

TEST(Record, CommitRoundTrip) {
  std::vector<uint8_t> buf(kCommitFootprint);
  CommitBody body{AppIdOf("bank", 4), 12, 3, 999, 0xabcdef, 4096};
  EncodeCommitRecord(buf.data(), 8192, body);
  RecordView v;
  ASSERT_TRUE(DecodeRecord(buf.data(), buf.size(), 8192, &v).ok());
  EXPECT_EQ(v.header.kind, static_cast<uint16_t>(RecordKind::kCommit));
  CommitBody got;
  std::memcpy(&got, v.payload, sizeof got);
  EXPECT_EQ(got.epoch, 12u);
  EXPECT_EQ(got.record_count, 3u);
  EXPECT_EQ(got.byte_count, 999u);
  EXPECT_EQ(got.epoch_checksum, 0xabcdefu);
  EXPECT_EQ(got.app_id, AppIdOf("bank", 4));
}

TEST(Record, PadCoversRestOfLap) {
  std::vector<uint8_t> buf(1024, 0x55);
  EncodePadRecord(buf.data(), 3 * 1024, 4, 1024);
  RecordView v;
  ASSERT_TRUE(DecodeRecord(buf.data(), buf.size(), 3 * 1024, &v).ok());
  EXPECT_EQ(v.header.kind, static_cast<uint16_t>(RecordKind::kPad));
  EXPECT_EQ(v.footprint, 1024u);
  // A pad claiming more than the bytes to the lap end is refused.
  EXPECT_TRUE(DecodeRecord(buf.data(), 512, 3 * 1024, &v).IsCorruption());
}

TEST(RecordReject, BadMagic) {
  auto buf = Encoded(0, 10);
  buf[0] ^= 1;
  RecordView v;
  Status st = DecodeRecord(buf.data(), buf.size(), 0, &v);
  EXPECT_TRUE(st.IsCorruption());
  EXPECT_NE(st.message().find("magic"), std::string::npos) << st.ToString();
}

TEST(RecordReject, BadVersion) {
  auto buf = Encoded(0, 10);
  RecordHeader h;
  std::memcpy(&h, buf.data(), sizeof h);
  h.version = 99;
  std::memcpy(buf.data(), &h, sizeof h);
  RecordView v;
  Status st = DecodeRecord(buf.data(), buf.size(), 0, &v);
  EXPECT_TRUE(st.IsCorruption());
  EXPECT_NE(st.message().find("version"), std::string::npos) << st.ToString();
}

TEST(RecordReject, UnknownKind) {
  auto buf = Encoded(0, 10);
  RecordHeader h;
  std::memcpy(&h, buf.data(), sizeof h);
  h.kind = 77;
  std::memcpy(buf.data(), &h, sizeof h);
  RecordView v;
  EXPECT_TRUE(DecodeRecord(buf.data(), buf.size(), 0, &v).IsCorruption());
}

TEST(RecordReject, TruncatedHeaderAndPayload) {
  auto buf = Encoded(0, 1000);
  RecordView v;
  EXPECT_TRUE(DecodeRecord(buf.data(), 40, 0, &v).IsCorruption());
  Status st = DecodeRecord(buf.data(), 500, 0, &v);
  EXPECT_TRUE(st.IsCorruption());
  EXPECT_NE(st.message().find("truncated"), std::string::npos) << st.ToString();
}

TEST(RecordReject, WrongChecksumOnAnyByte) {
  auto clean = Encoded(128, 200);
  // Flip every payload and header byte in turn: each flip must be caught.
  for (size_t i = 0; i < kRecordHeaderSize + 200; ++i) {
    auto buf = clean;
    buf[i] ^= 0x10;
    RecordView v;
    EXPECT_FALSE(DecodeRecord(buf.data(), buf.size(), 128, &v).ok()) << "flip at byte " << i;
  }
}

TEST(RecordReject, LengthOverflow) {
  auto buf = Encoded(0, 10);
  RecordHeader h;
  std::memcpy(&h, buf.data(), sizeof h);
  h.length = kMaxRecordPayload + 1;
  std::memcpy(buf.data(), &h, sizeof h);
  RecordView v;
  Status st = DecodeRecord(buf.data(), UINT64_MAX, 0, &v);
  EXPECT_TRUE(st.IsCorruption());
  EXPECT_NE(st.message().find("exceeds"), std::string::npos) << st.ToString();
}

TEST(RecordReject, StaleLapPosition) {
  // The same bytes read one lap later (a record left from an earlier pass).
  auto buf = Encoded(64, 10);
  RecordView v;
  Status st = DecodeRecord(buf.data(), buf.size(), 64 + (1 << 20), &v);
  EXPECT_TRUE(st.IsCorruption());
  EXPECT_NE(st.message().find("ring position"), std::string::npos);
}

TEST(RecordReject, OffsetOutsideRegion) {
  RecordHeader h{};
  h.region_id = 1;
  h.offset = 4000;
  h.length = 96;
  EXPECT_TRUE(CheckRecordBounds(h, 4096).ok());
  h.length = 97;
  EXPECT_TRUE(CheckRecordBounds(h, 4096).IsCorruption());
  h.offset = 5000;
  h.length = 0;
  EXPECT_TRUE(CheckRecordBounds(h, 4096).IsCorruption());
  // offset + length wraps around 2^64: must not pass.
  h.offset = UINT64_MAX - 10;
  h.length = 100;
  EXPECT_TRUE(CheckRecordBounds(h, UINT64_MAX).IsCorruption());
}

TEST(EpochChecksum, OrderAndContentMatter) {
  EpochChecksum a, b, c;
  a.Add(1);
  a.Add(2);
  b.Add(2);
  b.Add(1);
  c.Add(1);
  c.Add(2);
  EXPECT_NE(a.Digest(), b.Digest());
  EXPECT_EQ(a.Digest(), c.Digest());
  EXPECT_NE(EpochChecksum().Digest(), a.Digest());
}

}  // namespace
}  // namespace respct::wire
