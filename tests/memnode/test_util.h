// Helpers for memnode unit tests: a per-test temporary directory and a tiny
// client that places records in an App's ring exactly as a transport would
// (RingCursor placement, pads at lap ends, RingWrite), without sockets.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "memnode/app.h"
#include "memnode/pool.h"
#include "runtime/wire/checksum.h"
#include "runtime/wire/record.h"
#include "runtime/wire/ring_cursor.h"

namespace respct::memnode::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/memnode-test.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline wire::RegionDesc Region(uint32_t id, uint64_t size) { return wire::RegionDesc{id, 0, size, 0x200000000000ull + id * (1ull << 32)}; }

// Places an epoch's records in an app's ring like a client would.
class EpochBuilder {
 public:
  explicit EpochBuilder(App* app) : app_(app) {
    const AppPosition p = app->Position();
    cursor_ = wire::RingCursor(p.ring_capacity, p.ring_tail, p.ring_applied);
    epoch_ = p.committed_epoch + 1;
    first_ = p.ring_tail;
  }

  uint64_t epoch() const { return epoch_; }
  const wire::RingCursor& cursor() const { return cursor_; }
  // Numbers the epoch being built `epoch` instead (before any Add): a
  // catch-up epoch that jumps ahead of the committed one.
  void JumpTo(uint64_t epoch) { epoch_ = epoch; }

  // Encodes a data record (any region id, offset and epoch: tests lie on
  // purpose) and writes it into the ring. Returns false when the ring is full.
  bool Add(uint32_t region, uint64_t offset, const std::vector<uint8_t>& bytes, uint64_t record_epoch = 0) {
    const uint64_t fp = wire::RecordFootprint(bytes.size());
    wire::RingCursor::Placement p;
    if (!cursor_.Place(fp, &p)) return false;
    if (p.pad_len != 0) {
      std::vector<uint8_t> pad(wire::kRecordHeaderSize);
      wire::EncodePadRecord(pad.data(), p.pad_pos, epoch_, p.pad_len);
      EXPECT_TRUE(app_->RingWrite(p.pad_pos, pad.data(), pad.size()).ok());
    }
    std::vector<uint8_t> rec(fp);
    const uint64_t sum = wire::EncodeDataRecord(rec.data(), p.pos, record_epoch ? record_epoch : epoch_, region,
                                                offset, bytes.data(), static_cast<uint32_t>(bytes.size()));
    Status s = app_->RingWrite(p.pos, rec.data(), rec.size());
    EXPECT_TRUE(s.ok()) << s.ToString();
    checksum_.Add(sum);
    ++count_;
    bytes_ += bytes.size();
    cursor_.Advance(p);
    return true;
  }

  wire::CommitMsg Message() const {
    return wire::CommitMsg{epoch_, first_, cursor_.tail(), count_, bytes_, checksum_.Digest()};
  }

  // Commits (without applying) and moves to the next epoch.
  Status Commit() {
    wire::CommitAckMsg ack;
    Status s = app_->Commit(Message(), nullptr, &ack);
    if (!s.ok()) return s;
    Next(ack.ring_tail, ack.ring_applied);
    return s;
  }
  // Commits and applies, as a session does.
  Status CommitAndApply() {
    RESPCT_RETURN_IF_ERROR(Commit());
    wire::RingProgressMsg progress;
    RESPCT_RETURN_IF_ERROR(app_->ApplyCommitted(&progress));
    cursor_.SetApplied(progress.ring_applied);
    return Status::OK();
  }

 private:
  void Next(uint64_t tail, uint64_t applied) {
    cursor_.Reset(tail, applied);
    first_ = tail;
    ++epoch_;
    checksum_ = wire::EpochChecksum();
    count_ = 0;
    bytes_ = 0;
  }

  App* app_;
  wire::RingCursor cursor_;
  uint64_t epoch_ = 0;
  uint64_t first_ = 0;
  wire::EpochChecksum checksum_;
  uint64_t count_ = 0;
  uint64_t bytes_ = 0;
};

// The bytes of a region as App::ReadImage returns them.
inline std::vector<uint8_t> ReadRegion(App* app, uint32_t region, uint64_t size) {
  std::vector<uint8_t> out;
  Status s = app->ReadImage(region, 0, size, 1 << 20, [&](const App::ImagePiece& p) {
    EXPECT_EQ(p.offset, out.size());
    out.insert(out.end(), p.data, p.data + p.len);
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

}  // namespace respct::memnode::testing
