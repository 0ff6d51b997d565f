// App: one application's namespace in the pool (image, log ring, applied
// mark) and the protocol operations on it, without any socket: sessions call
// these, and unit tests drive them directly.
//
// Every operation takes the app's mutex, so an app's commits, applies and
// image reads are serialised while different apps proceed in parallel;
// image reads hand their bytes on without it (ReadImage says how they stay
// consistent). The durable order is the protocol's: records persisted, then
// the commit record (the epoch is committed), then image bytes, then the
// applied mark.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "memnode/pool_file.h"
#include "memnode/pool_layout.h"
#include "memnode/ring_log.h"
#include "runtime/base/status.h"
#include "runtime/wire/message.h"

namespace respct::memnode {

// A writer's token (wire::kAttachWriterToken); all zero: none.
using WriterToken = std::array<uint8_t, wire::kWriterTokenSize>;

// An app's positions, as AttachOk reports them.
struct AppPosition {
  uint64_t committed_epoch = 0;
  uint64_t applied_epoch = 0;
  uint64_t ring_capacity = 0;
  uint64_t ring_tail = 0;
  uint64_t ring_applied = 0;
};

class App {
 public:
  // Builds the app of a live table entry: checks its description, picks the
  // current applied mark and scans the ring for committed, unapplied epochs
  // (applied later by ApplyCommitted; a read-only pool never applies). A
  // damaged entry still yields an App whose health() says why.
  static std::unique_ptr<App> Load(const PoolFile* file, AppEntry* entry);

  App(const App&) = delete;
  App& operator=(const App&) = delete;

  const std::string& name() const { return name_; }
  uint64_t app_id() const { return app_id_; }
  const std::vector<RegionInfo>& regions() const { return regions_; }
  const Status& health() const { return health_; }
  // First pool byte after the app's image and ring (0 when unknown).
  uint64_t alloc_end() const { return alloc_end_; }
  // First pool byte of the app's image (start of its extent).
  uint64_t alloc_begin() const { return alloc_begin_; }
  // The app is being discarded (reset): refused (kBusy) while a writer is
  // attached or an image read is in progress; afterwards every call on it fails with `why`. Its table entry is the
  // caller's to free.
  Status Retire(const std::string& why);
  AppEntry* entry() const { return entry_; }
  // What the load-time scan found (for logs and tests).
  const ReplayScan& replay_scan() const { return scan_; }

  // §5: applies every committed, unapplied epoch to the image and advances
  // the applied mark. Idempotent. While an image read is in progress nothing
  // is applied (the epochs wait in the ring; *progress says how far the
  // image is): the read that ends last applies them.
  Status ApplyCommitted(wire::RingProgressMsg* progress);
  // §3: makes this the app's single writer (applying what is pending first).
  // `end_session` ends this writer's session (shuts its connection down, so
  // that the session detaches). A writer attached with the same nonzero
  // `token` is this process on a connection it gave up (wire/message.h,
  // kAttachWriterToken): its session is ended and the attach waits, up to
  // kTakeoverWait, for it to detach. Any other attached writer: kBusy.
  // `generation` (wire::kAttachGeneration; 0: the writer gives none, and is
  // neither fenced nor fences): below the app's, kFenced; above it, it is
  // made durable as the attach succeeds, and with `take_over` an attached
  // writer's session is ended first, as for a token takeover (without it, an
  // attached writer makes the attach kBusy and changes nothing).
  Status AttachWriter(AppPosition* pos, const WriterToken& token = {}, std::function<void()> end_session = nullptr,
                      uint64_t generation = 0, bool take_over = false);
  // The highest writer generation that attached (0: none gave one).
  uint64_t writer_generation() const;
  static constexpr std::chrono::milliseconds kTakeoverWait{5000};
  void DetachWriter();
  AppPosition Position() const;

  // §4, inline mode: places record bytes at ring position `pos`.
  Status RingWrite(uint64_t pos, const uint8_t* data, size_t len);
  // §4: checks, persists and commits an epoch. With `staging` (shm mode, or
  // rdma:// when the pool ring cannot be registered), the records are first
  // copied from that staging ring (same slot arithmetic). With
  // `records_durable` (an rdma:// client that made its WRITEs durable in this
  // PMem pool ring itself) only the commit record is persisted here.
  // Does not apply: call ApplyCommitted next.
  Status Commit(const wire::CommitMsg& m, const uint8_t* staging, wire::CommitAckMsg* ack,
                bool records_durable = false);
  // The app's log ring in the pool mapping: what an rdma:// writer's
  // one-sided WRITEs target (a verbs session registers it for its peer).
  uint8_t* ring_base() const { return ring_; }
  uint64_t ring_capacity() const { return capacity_; }
  bool pool_is_pmem() const { return file_->is_pmem(); }

  // One piece of an image read: region bytes [offset, offset + len) and the
  // checksums of its whole pages, region pages [first_page, first_page +
  // sum_count) (wire::WholePages, wire::ImagePageSum).
  struct ImagePiece {
    uint64_t region_size;
    uint64_t offset;
    const uint8_t* data;
    size_t len;
    uint64_t first_page;
    const uint64_t* sums;
    size_t sum_count;
  };
  using ImageSink = std::function<Status(const ImagePiece& piece)>;
  // §7: calls `sink` with consecutive pieces (at most `max_piece` bytes) of
  // the region's bytes as of the last committed epoch. Every page the range
  // touches is checked against its stored checksum first: a damaged page is
  // Corruption (naming the page), and nothing is sent.
  //
  // `sink` runs without the app's mutex (it sends over the network: a slow
  // reader must not stall the app's commits). The image stays as it is
  // meanwhile because no epoch is applied while any read is in progress;
  // commits go on and their epochs wait in the ring. A read that arrives
  // while epochs wait to be applied waits for the reads in progress to end,
  // so that it applies them and returns the last committed epoch too.
  Status ReadImage(uint32_t region_id, uint64_t offset, uint64_t length, size_t max_piece, const ImageSink& sink);
  // Checks every page of the image against its checksum (offline scrub):
  // OK, or Corruption naming the first damaged pages.
  Status VerifyImage() const;

  wire::AppSummary Summary() const;

  // The epoch history's entries for epochs in [from, to], oldest first;
  // epochs it no longer holds (or never recorded) are left out.
  std::vector<wire::EpochInfo> EpochHistory(uint64_t from, uint64_t to) const;
  // Which bytes epochs from+1 .. to wrote, read back from their records in
  // the ring (each epoch checked against its commit record). InvalidArgument
  // unless from < to <= the committed epoch.
  Result<std::vector<wire::EpochWrites>> WrittenRanges(uint64_t from, uint64_t to) const;

 private:
  App() = default;
  Status CheckEntry();
  // After the load-time scan: a committed epoch whose records the scan could
  // not read (the history knows it) is damage, not a torn tail.
  Status CheckScanAgainstHistory() const;
  Status ApplyLocked();
  // The image pages (indexes into the checksum table) the records of `er`
  // write, sorted, each once, into touched_pages_; those one record rewrites
  // whole into replaced_pages_.
  void CollectTouchedPagesLocked(const EpochRecords& er);
  // Checksum of image page `page` (0 when it matches its stored checksum).
  uint64_t PageSumOf(uint64_t page) const;
  bool PageIntact(uint64_t page) const;
  Status DamagedPage(uint64_t page, const std::string& when) const;
  // "region R, offset O" of an image page.
  std::string PageWhere(uint64_t page) const;
  void WriteMarkLocked(uint64_t epoch, uint64_t pos, uint64_t commit_ns);
  void WriteGenerationLocked(uint64_t generation);
  void PersistRing(uint64_t from, uint64_t to) const;
  // Records a committed epoch in the history ring (after its commit record is durable).
  void WriteHistoryLocked(const EpochRecords& er, uint64_t payload_bytes);
  // A replay's vouching for an epoch that jumps ahead (RingLog::JumpCheck):
  // its history entry says it started there.
  RingLog::JumpCheck HistoryVouches() const;
  // The history entry of `epoch`, or null when its slot holds another epoch.
  const EpochHistoryEntry* HistoryOf(uint64_t epoch) const;
  uint8_t* Slot(uint64_t pos) const { return ring_ + pos % capacity_; }

  const PoolFile* file_ = nullptr;
  AppEntry* entry_ = nullptr;
  std::string name_;
  uint64_t app_id_ = 0;
  std::vector<RegionInfo> regions_;
  uint8_t* image_ = nullptr;
  uint8_t* ring_ = nullptr;
  uint64_t capacity_ = 0;
  EpochHistoryEntry* history_ = nullptr;
  uint32_t history_entries_ = 0;
  uint64_t* sums_ = nullptr;   // page checksum table (pool_layout.h)
  uint64_t sum_pages_ = 0;
  // Epochs up to this one were found by the load-time scan: their pages may
  // be half-applied (a crash during apply), so replay does not check their
  // old checksums; it rewrites pages and checksums from the records.
  uint64_t replayed_epoch_ = 0;
  // Read-only pools never apply: the pages of the pending epochs may be half
  // applied, and image reads serve them unchecked (sorted page indexes).
  std::vector<uint64_t> in_flux_pages_;
  std::vector<uint64_t> touched_pages_;   // ApplyLocked's scratch
  std::vector<uint64_t> replaced_pages_;  // ApplyLocked's scratch
  uint64_t alloc_begin_ = 0;
  uint64_t alloc_end_ = 0;
  Status health_;
  ReplayScan scan_;

  mutable std::mutex mu_;
  uint64_t tail_ = 0;           // after the last commit record
  uint64_t applied_pos_ = 0;    // ring space before it is free
  uint64_t applied_epoch_ = 0;
  uint64_t committed_epoch_ = 0;
  uint64_t generation_ = 0;     // the current GenerationMark's
  uint64_t generation_seq_ = 0;
  int generation_slot_ = 1;     // updates go to the other slot
  uint64_t mark_seq_ = 0;       // seq of the current applied mark
  int mark_slot_ = 0;           // which slot holds it; updates go to the other
  uint64_t last_commit_ns_ = 0;
  bool writer_ = false;
  WriterToken writer_token_{};
  std::function<void()> end_writer_session_;
  std::condition_variable writer_detached_;
  std::deque<EpochRecords> pending_;  // committed, not yet applied, in order
  uint32_t image_readers_ = 0;         // ReadImage calls handing bytes on; no apply while > 0
  std::condition_variable image_reads_ended_;
};

}  // namespace respct::memnode
