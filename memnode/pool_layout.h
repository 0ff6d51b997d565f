// The on-media layout of a respct-memnode pool file: THE one place that says
// where every persisted byte lives and why. Everything is little-endian and
// copied as-is; offsets are from the start of the file.
//
//   offset      size        what
//   0           4 KiB       Superblock
//   4 KiB       256 x 2 KiB app table (AppEntry[kAppTableEntries]) = 512 KiB
//   1 MiB       4 KiB       copy of the Superblock, written with it: a damaged
//                           superblock (a bit flip on the media) is restored from
//                           it instead of losing every app of the pool
//   2 MiB       ...         data area: per-app image, log ring, epoch history and
//                           page checksums, bump-allocated upwards, each app's
//                           extent starting on a 2 MiB boundary (huge-page/DAX
//                           friendly): image, ring at the next 2 MiB boundary,
//                           history at the next 4 KiB boundary after the ring,
//                           page checksums at the next 4 KiB after the history.
//
// Superblock (written once when the pool is formatted; only data_cursor moves):
//   0    8  magic            "RESPCTPL"
//   8    4  version          kPoolVersion: layout changes bump it; older
//                            memnodes refuse newer pools rather than guess
//   12   4  superblock_size  4096
//   16   8  pool_size        bytes the layout covers (the file may not be shorter)
//   24   8  app_table_offset 4096
//   32   4  app_table_entries 256
//   36   4  app_entry_size   2048
//   40   8  data_offset      2 MiB
//   48   8  created_unix_ns
//   56   8  checksum         XXH3_64 of bytes [0, 56): a torn or foreign header
//                            never passes for a pool
//   64   8  data_cursor      first free byte of the data area. Own cache line,
//                            outside the checksum: an aligned 8-byte store is
//                            failure-atomic, and it is only a hint. Opening takes
//                            max(data_cursor, end of every live app's allocation),
//                            so a crash between an app's creation and the cursor
//                            update loses nothing and never double-allocates.
//
// AppEntry (2 KiB each; state word first):
//   0    4  state            kAppFree (0) or kAppLive. Creating an app is
//                            crash-atomic: every other field is written and
//                            persisted while the state still says free, then the
//                            aligned 4-byte state store is persisted. An entry whose
//                            state never flipped is free, whatever its other bytes.
//                            Any other value is damage (no single bit flip turns
//                            one of the two into the other): the entry is loaded
//                            as a damaged app, reported, and its space kept.
//   4    4  entry_version    kAppEntryVersion
//   8    64 name             NUL-padded app name
//   72   8  app_id           wire::AppIdOf(name): commit records name their app
//   80   4  region_count     <= wire::kMaxRegions
//   84   4  history_entries  slots of the epoch history ring (kEpochHistoryEntries)
//   88   8  image_offset     pool offset of the image (all regions back to back)
//   96   8  image_size
//   104  8  ring_offset      pool offset of the log ring
//   112  8  ring_capacity    bytes, a multiple of 64, >= wire::kMinRingCapacity
//   120  8  created_unix_ns
//   128  32 x 32 regions     RegionEntry{id, flags, size, base_addr, image_offset};
//                            image_offset is relative to the app's image, and each
//                            region starts on a 4 KiB boundary inside it
//   1152 8  history_offset   pool offset of the epoch history (4 KiB aligned)
//   1160 8  sums_offset      pool offset of the page checksums (4 KiB aligned)
//   1168 8  checksum         XXH3_64 of bytes [8, 1168): the immutable description
//   1280 64 mark[0]          AppliedMark slots, each on its own cache line so one
//   1344 64 mark[1]          persist never tears both. See AppliedMark.
//   1408 64 generation[0]    GenerationMark slots, likewise: the highest writer
//   1472 64 generation[1]    generation that attached (zeros in pools made before
//                            fencing: generation 0, no slot valid)
//
// AppliedMark: how far the log has been applied to the image.
//   0  8 seq               grows by one per update; the valid slot with the
//                          higher seq is current, the next update goes to the other
//   8  8 applied_epoch     last epoch whose records are in the image
//   16 8 applied_pos       ring position after that epoch's commit record:
//                          everything before it is free ring space
//   24 8 last_commit_unix_ns  when that epoch committed (shown by ListApps)
//   32 8 checksum          XXH3_64 of bytes [0, 32); a torn slot fails it, and
//                          the other slot still holds the previous mark
//
// GenerationMark: the app's writer generation (wire::kAttachGeneration).
//   0  8 seq               as in AppliedMark
//   8  8 generation
//   16 8 checksum          XXH3_64 of bytes [0, 16)
//
// EpochHistoryEntry (64 bytes, one cache line; history_entries of them): one
// committed epoch, in slot epoch % history_entries, so the history keeps the
// last history_entries epochs and each slot holds the newest epoch mapped to it.
//   0  8 epoch             0: the slot was never written
//   8  8 commit_unix_ns    when the memnode made the commit record durable
//   16 8 payload_bytes     data bytes of the epoch's records
//   24 8 record_count      data records of the epoch
//   32 8 first_pos         ring position of the epoch's first record
//   40 8 end_pos           ring position after its commit record
//   48 8 reserved
//   56 8 checksum          XXH3_64 of bytes [0, 56)
// Written after the epoch's commit record is durable and persisted on its own
// (one cache line: a CPU flush on PMem, one msync of a page otherwise). It is
// informational: a torn or unpersisted entry fails its checksum and the epoch
// is shown without history; nothing in the commit protocol reads it. The
// records themselves stay in the ring until a later lap overwrites them; a
// reader finds that out by decoding them (each record names its position).
// One use beyond display: start-up compares it with the ring scan, so a
// committed epoch whose records were damaged is reported, not taken for the
// torn tail of an uncommitted one.
//
// Page checksums: one uint64 per 4 KiB page of the image (image_size / 4096),
// wire::ImagePageSum(page) XOR kZeroPageSum, so the all-zero table of a new
// (sparse, or hole-punched) extent is right for its all-zero image. Apply
// checks the old checksum of each page it changes, writes the page, then its
// new checksum, all before the applied mark moves; start-up replay recomputes
// the pages of the epochs it re-applies (a crash may have stopped between a
// page and its checksum). Image reads check every page they serve and send
// the checksums on, so the reader checks them too (runtime/wire/image_sums.h).
//
// Image: the app's regions byte for byte, as of applied_epoch.
// Ring: log records (runtime/wire/record.h) at absolute positions, slot =
// pos % ring_capacity. [applied_pos, ...) holds records of epochs not yet
// applied and, after the last valid commit record, a possibly torn tail that
// start-up replay discards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "runtime/wire/checksum.h"
#include "runtime/wire/image_sums.h"
#include "runtime/wire/message.h"

namespace respct::memnode {

inline constexpr char kPoolMagic[8] = {'R', 'E', 'S', 'P', 'C', 'T', 'P', 'L'};
inline constexpr uint32_t kPoolVersion = 3;  // 2: per-app epoch history; 3: page checksums, superblock copy
inline constexpr uint64_t kSuperblockSize = 4096;
inline constexpr uint32_t kAppTableEntries = 256;
inline constexpr uint32_t kAppEntrySize = 2048;
inline constexpr uint64_t kAppTableOffset = kSuperblockSize;
inline constexpr uint64_t kSuperblockCopyOffset = 1ull << 20;
inline constexpr uint64_t kDataOffset = 2ull << 20;
inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kAllocAlign = 2ull << 20;
// Room for the metadata and one small app (a 2 MiB image and a minimal ring).
inline constexpr uint64_t kMinPoolSize = 16ull << 20;

inline constexpr uint32_t kAppFree = 0;
inline constexpr uint32_t kAppLive = 0x4556494c;  // "LIVE"
inline constexpr uint32_t kAppEntryVersion = 3;
// 4096 x 64 B = 256 KiB per app: at 10 ms epochs, the last ~40 s.
inline constexpr uint32_t kEpochHistoryEntries = 4096;

struct Superblock {
  char magic[8];
  uint32_t version;
  uint32_t superblock_size;
  uint64_t pool_size;
  uint64_t app_table_offset;
  uint32_t app_table_entries;
  uint32_t app_entry_size;
  uint64_t data_offset;
  uint64_t created_unix_ns;
  uint64_t checksum;
  uint64_t data_cursor;
};
static_assert(offsetof(Superblock, checksum) == 56);
static_assert(offsetof(Superblock, data_cursor) == 64);
static_assert(sizeof(Superblock) <= kSuperblockSize);
static_assert(kAppTableOffset + uint64_t{kAppTableEntries} * kAppEntrySize <= kSuperblockCopyOffset);
static_assert(kSuperblockCopyOffset + kSuperblockSize <= kDataOffset);

inline uint64_t SuperblockChecksum(const Superblock& sb) {
  return wire::Checksum64(&sb, offsetof(Superblock, checksum));
}

struct RegionEntry {
  uint32_t id;
  uint32_t flags;
  uint64_t size;
  uint64_t base_addr;
  uint64_t image_offset;
};
static_assert(sizeof(RegionEntry) == 32);

struct alignas(64) AppliedMark {
  uint64_t seq;
  uint64_t applied_epoch;
  uint64_t applied_pos;
  uint64_t last_commit_unix_ns;
  uint64_t checksum;
};
static_assert(sizeof(AppliedMark) == 64);

inline uint64_t MarkChecksum(const AppliedMark& m) { return wire::Checksum64(&m, offsetof(AppliedMark, checksum)); }
inline bool MarkValid(const AppliedMark& m) { return m.seq != 0 && m.checksum == MarkChecksum(m); }

struct alignas(64) GenerationMark {
  uint64_t seq;
  uint64_t generation;
  uint64_t checksum;
};
static_assert(sizeof(GenerationMark) == 64);

inline uint64_t GenerationChecksum(const GenerationMark& m) {
  return wire::Checksum64(&m, offsetof(GenerationMark, checksum));
}
inline bool GenerationValid(const GenerationMark& m) { return m.seq != 0 && m.checksum == GenerationChecksum(m); }

struct AppEntry {
  uint32_t state;
  uint32_t entry_version;
  char name[64];
  uint64_t app_id;
  uint32_t region_count;
  uint32_t history_entries;
  uint64_t image_offset;
  uint64_t image_size;
  uint64_t ring_offset;
  uint64_t ring_capacity;
  uint64_t created_unix_ns;
  RegionEntry regions[wire::kMaxRegions];
  uint64_t history_offset;
  uint64_t sums_offset;
  uint64_t checksum;
  uint8_t pad0[1280 - 1176];
  AppliedMark mark[2];
  GenerationMark generation[2];
  uint8_t pad1[kAppEntrySize - 1536];
};
static_assert(offsetof(AppEntry, name) == 8);
static_assert(offsetof(AppEntry, regions) == 128);
static_assert(offsetof(AppEntry, history_offset) == 1152);
static_assert(offsetof(AppEntry, sums_offset) == 1160);
static_assert(offsetof(AppEntry, checksum) == 1168);
static_assert(offsetof(AppEntry, mark) == 1280);
static_assert(offsetof(AppEntry, generation) == 1408);
static_assert(sizeof(AppEntry) == kAppEntrySize);
static_assert(kAppTableOffset + uint64_t{kAppTableEntries} * kAppEntrySize <= kDataOffset);

inline uint64_t AppEntryChecksum(const AppEntry& e) {
  const auto* p = reinterpret_cast<const uint8_t*>(&e);
  return wire::Checksum64(p + offsetof(AppEntry, name), offsetof(AppEntry, checksum) - offsetof(AppEntry, name));
}

struct alignas(64) EpochHistoryEntry {
  uint64_t epoch;
  uint64_t commit_unix_ns;
  uint64_t payload_bytes;
  uint64_t record_count;
  uint64_t first_pos;
  uint64_t end_pos;
  uint64_t reserved;
  uint64_t checksum;
};
static_assert(sizeof(EpochHistoryEntry) == 64);
static_assert(offsetof(EpochHistoryEntry, checksum) == 56);

inline uint64_t HistoryEntryChecksum(const EpochHistoryEntry& h) {
  return wire::Checksum64(&h, offsetof(EpochHistoryEntry, checksum));
}
inline bool HistoryEntryValid(const EpochHistoryEntry& h) {
  return h.epoch != 0 && h.checksum == HistoryEntryChecksum(h);
}

// Page checksums (see above): what the table stores for a page's checksum.
inline const uint64_t kZeroPageSum = [] {
  static const uint8_t zeros[wire::kImageSumPage] = {};
  return wire::ImagePageSum(zeros, sizeof zeros);
}();
inline uint64_t StoredPageSum(uint64_t page_sum) { return page_sum ^ kZeroPageSum; }
inline uint64_t PageSumTableBytes(uint64_t image_size) {
  return (image_size + wire::kImageSumPage - 1) / wire::kImageSumPage * sizeof(uint64_t);
}

}  // namespace respct::memnode
