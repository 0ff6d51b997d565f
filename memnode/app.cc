#include "memnode/app.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <spdlog/spdlog.h>

#include "runtime/base/clock.h"
#include "runtime/wire/checksum.h"
#include "runtime/wire/ring_cursor.h"

namespace respct::memnode {
namespace {

// True when [off, off+len) lies inside [lo, hi), without overflow.
bool Within(uint64_t off, uint64_t len, uint64_t lo, uint64_t hi) { return off >= lo && off <= hi && len <= hi - off; }

}  // namespace

std::unique_ptr<App> App::Load(const PoolFile* file, AppEntry* entry) {
  std::unique_ptr<App> app(new App());
  app->file_ = file;
  app->entry_ = entry;
  app->name_.assign(entry->name, strnlen(entry->name, sizeof entry->name));
  app->health_ = app->CheckEntry();
  if (!app->health_.ok()) return app;

  const AppliedMark& m0 = entry->mark[0];
  const AppliedMark& m1 = entry->mark[1];
  const bool v0 = MarkValid(m0);
  const bool v1 = MarkValid(m1);
  if (!v0 && !v1) {
    app->health_ = Status::Corruption("app '" + app->name_ + "': both applied-mark slots are corrupt");
    return app;
  }
  app->mark_slot_ = (v0 && (!v1 || m0.seq > m1.seq)) ? 0 : 1;
  // The writer generation: no valid slot (a pool made before fencing, or a
  // new app) is generation 0.
  const GenerationMark& g0 = entry->generation[0];
  const GenerationMark& g1 = entry->generation[1];
  const bool gv0 = GenerationValid(g0), gv1 = GenerationValid(g1);
  if (gv0 || gv1) {
    app->generation_slot_ = (gv0 && (!gv1 || g0.seq > g1.seq)) ? 0 : 1;
    const GenerationMark& g = entry->generation[app->generation_slot_];
    app->generation_ = g.generation;
    app->generation_seq_ = g.seq;
  }
  const AppliedMark& cur = entry->mark[app->mark_slot_];
  app->mark_seq_ = cur.seq;
  app->applied_epoch_ = cur.applied_epoch;
  app->applied_pos_ = cur.applied_pos;
  app->last_commit_ns_ = cur.last_commit_unix_ns;

  app->scan_ = RingLog(app->ring_, app->capacity_, app->regions_, app->app_id_)
                   .ScanCommitted(app->applied_pos_, app->applied_epoch_, app->HistoryVouches());
  app->tail_ = app->scan_.tail;
  app->committed_epoch_ = app->scan_.committed.empty() ? app->applied_epoch_ : app->scan_.committed.back().epoch;
  app->pending_.assign(app->scan_.committed.begin(), app->scan_.committed.end());
  app->replayed_epoch_ = app->committed_epoch_;
  app->health_ = app->CheckScanAgainstHistory();
  if (file->read_only()) {
    for (const EpochRecords& er : app->pending_) {
      app->CollectTouchedPagesLocked(er);
      app->in_flux_pages_.insert(app->in_flux_pages_.end(), app->touched_pages_.begin(), app->touched_pages_.end());
    }
    std::sort(app->in_flux_pages_.begin(), app->in_flux_pages_.end());
  }
  return app;
}

Status App::CheckScanAgainstHistory() const {
  // The history entry of an epoch is written only after its commit record is
  // durable, so an entry for the epoch after the last one the scan found
  // means committed records are unreadable: a damaged ring, or a damaged
  // applied mark that sent the scan to records a later lap overwrote.
  const uint64_t next = committed_epoch_ + 1;
  if (HistoryOf(next) == nullptr) return Status::OK();
  return Status::Corruption("app '" + name_ + "': epoch " + std::to_string(next) +
                            " was committed (its history entry says so) but the ring scan from the applied mark "
                            "(epoch " + std::to_string(applied_epoch_) + ") stopped before it: " + scan_.stop_reason +
                            ". The log or the applied mark is damaged; the app is not served");
}

Status App::CheckEntry() {
  const AppEntry& e = *entry_;
  auto bad = [&](const std::string& why) { return Status::Corruption("app '" + name_ + "': " + why); };
  if (e.entry_version != kAppEntryVersion) return bad("unknown entry version " + std::to_string(e.entry_version));
  if (e.checksum != AppEntryChecksum(e)) return bad("app table entry checksum mismatch");
  if (!wire::ValidateAppName(name_).ok()) return bad("invalid stored name");
  if (e.app_id != wire::AppIdOf(name_.data(), name_.size())) return bad("app id does not match its name");
  if (e.region_count == 0 || e.region_count > wire::kMaxRegions) return bad("bad region count");
  const uint64_t size = file_->size();
  if (!Within(e.image_offset, e.image_size, kDataOffset, size)) return bad("image outside the pool");
  if (!Within(e.ring_offset, e.ring_capacity, kDataOffset, size)) return bad("ring outside the pool");
  if (e.ring_capacity % wire::kRecordAlign != 0 || e.ring_capacity < wire::kMinRingCapacity)
    return bad("bad ring capacity");
  if (e.history_entries == 0 || e.history_entries > kEpochHistoryEntries || e.history_offset % kPageSize != 0 ||
      !Within(e.history_offset, uint64_t{e.history_entries} * sizeof(EpochHistoryEntry), kDataOffset, size))
    return bad("epoch history outside the pool");
  const uint64_t sum_bytes = PageSumTableBytes(e.image_size);
  if (e.sums_offset % kPageSize != 0 || !Within(e.sums_offset, sum_bytes, kDataOffset, size))
    return bad("page checksums outside the pool");
  for (uint32_t i = 0; i < e.region_count; ++i) {
    const RegionEntry& r = e.regions[i];
    if (!Within(r.image_offset, r.size, 0, e.image_size)) return bad("region outside its image");
    regions_.push_back(RegionInfo{r.id, r.size, r.base_addr, r.image_offset});
  }
  app_id_ = e.app_id;
  image_ = file_->base() + e.image_offset;
  ring_ = file_->base() + e.ring_offset;
  capacity_ = e.ring_capacity;
  history_ = reinterpret_cast<EpochHistoryEntry*>(file_->base() + e.history_offset);
  history_entries_ = e.history_entries;
  sums_ = reinterpret_cast<uint64_t*>(file_->base() + e.sums_offset);
  sum_pages_ = sum_bytes / sizeof(uint64_t);
  alloc_begin_ = e.image_offset;
  alloc_end_ = std::max({e.image_offset + e.image_size, e.ring_offset + e.ring_capacity,
                         e.history_offset + uint64_t{e.history_entries} * sizeof(EpochHistoryEntry),
                         e.sums_offset + sum_bytes});
  // Checked last: the description passed its checksum, so the extent is
  // known and kept from new apps even though the app is not served.
  if (e.state != kAppLive) {
    char word[16];
    std::snprintf(word, sizeof word, "0x%08x", e.state);
    return bad(std::string("app table entry has a damaged state word ") + word);
  }
  return Status::OK();
}

void App::PersistRing(uint64_t from, uint64_t to) const {
  while (from < to) {
    const uint64_t slot = from % capacity_;
    const uint64_t n = std::min(capacity_ - slot, to - from);
    file_->Persist(ring_ + slot, n);
    from += n;
  }
}

namespace {

// Writes `m` (its seq and checksum set here) to the slot of the pair that
// does not hold the current value: a torn write leaves the current one.
template <typename Mark>
void WriteOtherSlot(const PoolFile* file, Mark (&slots)[2], Mark m, uint64_t checksum(const Mark&), uint64_t* seq,
                    int* slot) {
  m.seq = *seq + 1;
  m.checksum = checksum(m);
  const int next = 1 - *slot;
  std::memcpy(&slots[next], &m, sizeof m);
  file->Persist(&slots[next], sizeof m);
  *seq = m.seq;
  *slot = next;
}

}  // namespace

void App::WriteMarkLocked(uint64_t epoch, uint64_t pos, uint64_t commit_ns) {
  AppliedMark m{};
  m.applied_epoch = epoch;
  m.applied_pos = pos;
  m.last_commit_unix_ns = commit_ns;
  WriteOtherSlot(file_, entry_->mark, m, MarkChecksum, &mark_seq_, &mark_slot_);
}

void App::WriteGenerationLocked(uint64_t generation) {
  GenerationMark m{};
  m.generation = generation;
  WriteOtherSlot(file_, entry_->generation, m, GenerationChecksum, &generation_seq_, &generation_slot_);
  generation_ = generation;
}

uint64_t App::writer_generation() const {
  std::lock_guard<std::mutex> l(mu_);
  return generation_;
}

void App::WriteHistoryLocked(const EpochRecords& er, uint64_t payload_bytes) {
  EpochHistoryEntry h{};
  h.epoch = er.epoch;
  h.commit_unix_ns = er.commit_unix_ns;
  h.payload_bytes = payload_bytes;
  h.record_count = er.records.size();
  h.first_pos = er.first_pos;
  h.end_pos = er.end_pos;
  h.checksum = HistoryEntryChecksum(h);
  EpochHistoryEntry& slot = history_[er.epoch % history_entries_];
  std::memcpy(&slot, &h, sizeof h);
  file_->Persist(&slot, sizeof slot);
}

RingLog::JumpCheck App::HistoryVouches() const {
  return [this](uint64_t epoch, uint64_t first_pos) {
    const EpochHistoryEntry* h = HistoryOf(epoch);
    return h != nullptr && h->first_pos == first_pos;
  };
}

const EpochHistoryEntry* App::HistoryOf(uint64_t epoch) const {
  // Copy first: a read-only reader may see a live memnode rewrite the slot.
  const EpochHistoryEntry& slot = history_[epoch % history_entries_];
  EpochHistoryEntry h;
  std::memcpy(&h, &slot, sizeof h);
  if (!HistoryEntryValid(h) || h.epoch != epoch) return nullptr;
  return &slot;
}

void App::CollectTouchedPagesLocked(const EpochRecords& er) {
  touched_pages_.clear();
  replaced_pages_.clear();
  constexpr uint64_t kPage = wire::kImageSumPage;
  for (const DataRef& r : er.records) {
    if (r.length == 0) continue;
    const uint64_t off = regions_[r.region_index].image_offset + r.offset;
    const uint64_t end = off + r.length;
    for (uint64_t p = off / kPage; p <= (end - 1) / kPage; ++p) {
      if (touched_pages_.empty() || touched_pages_.back() != p) touched_pages_.push_back(p);
      if (p * kPage >= off && (p + 1) * kPage <= end) replaced_pages_.push_back(p);
    }
  }
  for (auto* v : {&touched_pages_, &replaced_pages_}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
}

uint64_t App::PageSumOf(uint64_t page) const {
  return wire::ImagePageSum(image_ + page * wire::kImageSumPage, wire::kImageSumPage);
}

bool App::PageIntact(uint64_t page) const { return StoredPageSum(PageSumOf(page)) == sums_[page]; }

std::string App::PageWhere(uint64_t page) const {
  const uint64_t off = page * wire::kImageSumPage;
  for (const RegionInfo& r : regions_)
    if (off >= r.image_offset && off - r.image_offset < wire::AlignUp(r.size, wire::kImageSumPage))
      return "region " + std::to_string(r.id) + ", offset " + std::to_string(off - r.image_offset);
  return "image offset " + std::to_string(off);
}

Status App::DamagedPage(uint64_t page, const std::string& when) const {
  return Status::Corruption("app '" + name_ + "': image page at " + PageWhere(page) + " fails its checksum " + when +
                            " (damaged media or memory on the memnode); the image cannot be trusted");
}

Status App::ApplyLocked() {
  if (file_->read_only()) return Status::FailedPrecondition("pool is open read-only");
  if (image_readers_ > 0) return Status::OK();  // the last read to end applies (ReadImage)
  while (!pending_.empty()) {
    const EpochRecords& er = pending_.front();
    CollectTouchedPagesLocked(er);
    // A page must be intact before it changes, or the new checksum would
    // cover (and hide) damage in the bytes the epoch does not write; a page
    // one record rewrites whole keeps nothing of its old bytes.
    if (er.epoch > replayed_epoch_) {
      for (uint64_t p : touched_pages_) {
        if (std::binary_search(replaced_pages_.begin(), replaced_pages_.end(), p) || PageIntact(p)) continue;
        health_ = DamagedPage(p, "before epoch " + std::to_string(er.epoch) + " was applied");
        spdlog::error("{}; the app is no longer served", health_.message());
        return health_;
      }
    }
    uint64_t lo = UINT64_MAX;
    uint64_t hi = 0;
    for (const DataRef& r : er.records) {
      uint8_t* dst = image_ + regions_[r.region_index].image_offset + r.offset;
      // A payload may not straddle the lap end: records never do.
      std::memcpy(dst, ring_ + r.payload_slot, r.length);
      if (file_->is_pmem()) {
        file_->Persist(dst, r.length);
      } else {
        // msync writes back only dirty pages, so one call over the span of
        // the epoch's writes is far cheaper than one syscall per record.
        const uint64_t off = static_cast<uint64_t>(dst - image_);
        lo = std::min(lo, off);
        hi = std::max(hi, off + r.length);
      }
    }
    if (lo < hi) file_->Persist(image_ + lo, hi - lo);
    for (uint64_t p : touched_pages_) {
      sums_[p] = StoredPageSum(PageSumOf(p));
      if (file_->is_pmem()) file_->Persist(&sums_[p], sizeof sums_[p]);
    }
    if (!touched_pages_.empty() && !file_->is_pmem())
      file_->Persist(&sums_[touched_pages_.front()],
                     (touched_pages_.back() - touched_pages_.front() + 1) * sizeof(uint64_t));
    const uint64_t ns = er.commit_unix_ns != 0 ? er.commit_unix_ns : last_commit_ns_;
    WriteMarkLocked(er.epoch, er.end_pos, ns);
    applied_epoch_ = er.epoch;
    applied_pos_ = er.end_pos;
    last_commit_ns_ = ns;
    pending_.pop_front();
  }
  return Status::OK();
}

Status App::ApplyCommitted(wire::RingProgressMsg* progress) {
  std::lock_guard<std::mutex> l(mu_);
  RESPCT_RETURN_IF_ERROR(health_);
  RESPCT_RETURN_IF_ERROR(ApplyLocked());
  if (progress != nullptr) *progress = wire::RingProgressMsg{applied_epoch_, applied_pos_};
  return Status::OK();
}

Status App::AttachWriter(AppPosition* pos, const WriterToken& token, std::function<void()> end_session,
                         uint64_t generation, bool take_over) {
  std::unique_lock<std::mutex> l(mu_);
  RESPCT_RETURN_IF_ERROR(health_);
  if (generation != 0 && generation < generation_)
    return Status::Fenced("app '" + name_ + "' was taken over by writer generation " + std::to_string(generation_) +
                          ", newer than this writer's " + std::to_string(generation));
  if (generation > generation_ && writer_ && take_over) {
    if (file_->read_only()) return Status::FailedPrecondition("pool is open read-only");
    // Durable before the old writer's session ends: from here on it is
    // refused, also after a restart of this memnode.
    WriteGenerationLocked(generation);
    spdlog::warn("app '{}': writer generation {} takes over; the attached writer (older) is fenced", name_,
                 generation);
    if (end_writer_session_) end_writer_session_();
    writer_detached_.wait_for(l, kTakeoverWait, [this] { return !writer_; });
    RESPCT_RETURN_IF_ERROR(health_);
  }
  if (writer_ && token != WriterToken{} && token == writer_token_) {
    spdlog::warn("app '{}': its writer reconnected; ending the writer's previous session, which stopped hearing "
                 "from it",
                 name_);
    if (end_writer_session_) end_writer_session_();
    writer_detached_.wait_for(l, kTakeoverWait, [this] { return !writer_; });
    RESPCT_RETURN_IF_ERROR(health_);
  }
  if (writer_) return Status::Busy("app '" + name_ + "' already has a writer attached");
  RESPCT_RETURN_IF_ERROR(ApplyLocked());
  if (generation > generation_) {
    if (file_->read_only()) return Status::FailedPrecondition("pool is open read-only");
    WriteGenerationLocked(generation);  // durable before the attach is answered
  }
  writer_ = true;
  writer_token_ = token;
  end_writer_session_ = std::move(end_session);
  *pos = AppPosition{committed_epoch_, applied_epoch_, capacity_, tail_, applied_pos_};
  return Status::OK();
}

Status App::Retire(const std::string& why) {
  std::lock_guard<std::mutex> l(mu_);
  if (writer_) return Status::Busy("app '" + name_ + "' has a writer attached; it cannot be reset now");
  if (image_readers_ > 0)
    return Status::Busy("app '" + name_ + "' is being read (a recovery fetching its image?); it cannot be reset now");
  health_ = Status::FailedPrecondition(why);
  return Status::OK();
}

void App::DetachWriter() {
  {
    std::lock_guard<std::mutex> l(mu_);
    writer_ = false;
    writer_token_ = {};
    end_writer_session_ = nullptr;
  }
  writer_detached_.notify_all();
}

AppPosition App::Position() const {
  std::lock_guard<std::mutex> l(mu_);
  return AppPosition{committed_epoch_, applied_epoch_, capacity_, tail_, applied_pos_};
}

Status App::RingWrite(uint64_t pos, const uint8_t* data, size_t len) {
  std::lock_guard<std::mutex> l(mu_);
  RESPCT_RETURN_IF_ERROR(health_);
  const uint64_t limit = applied_pos_ + capacity_;
  if (!Within(pos, len, tail_, limit) || pos % capacity_ + len > capacity_)
    return Status::InvalidArgument("ring write outside the free ring space");
  std::memcpy(Slot(pos), data, len);
  return Status::OK();
}

Status App::Commit(const wire::CommitMsg& m, const uint8_t* staging, wire::CommitAckMsg* ack, bool records_durable) {
  std::lock_guard<std::mutex> l(mu_);
  RESPCT_RETURN_IF_ERROR(health_);
  if (file_->read_only()) return Status::FailedPrecondition("pool is open read-only");
  // Usually committed + 1; more when a replica that missed epochs is caught
  // up (one epoch holding everything they wrote, numbered as the last).
  if (m.epoch <= committed_epoch_)
    return Status::FailedPrecondition("epoch " + std::to_string(m.epoch) + " does not follow committed " +
                                      std::to_string(committed_epoch_));
  if (m.first_pos != tail_)
    return Status::InvalidArgument("epoch " + std::to_string(m.epoch) + " starts at ring position " +
                                   std::to_string(m.first_pos) + ", the ring tail is " + std::to_string(tail_));
  if (m.end_pos < m.first_pos || m.end_pos - applied_pos_ > capacity_)
    return Status::InvalidArgument("commit range [" + std::to_string(m.first_pos) + ", " + std::to_string(m.end_pos) +
                                   ") is outside the free ring space");
  wire::RingCursor cursor(capacity_, m.end_pos, applied_pos_);
  wire::RingCursor::Placement place;
  if (!cursor.Place(wire::kCommitFootprint, &place))
    return Status::ResourceExhausted("ring full: no room for the commit record of epoch " + std::to_string(m.epoch) +
                                     " (wait for RingProgress before filling the ring)");
  if (staging != nullptr) {
    for (uint64_t pos = m.first_pos; pos < m.end_pos;) {
      const uint64_t slot = pos % capacity_;
      const uint64_t n = std::min(capacity_ - slot, m.end_pos - pos);
      std::memcpy(ring_ + slot, staging + slot, n);
      pos += n;
    }
  }
  EpochRecords er;
  RESPCT_RETURN_IF_ERROR(RingLog(ring_, capacity_, regions_, app_id_).ValidateEpoch(m, &er));

  if (place.pad_len != 0) wire::EncodePadRecord(Slot(place.pad_pos), place.pad_pos, m.epoch, place.pad_len);
  const wire::CommitBody body{app_id_, m.epoch, m.record_count, m.byte_count, m.epoch_checksum, m.first_pos};
  wire::EncodeCommitRecord(Slot(place.pos), place.pos, body);
  // Records, pad and commit record are persisted together (one msync on a
  // regular file instead of two) rather than records first: replay accepts a
  // commit record only if every record before it decodes with the checksums
  // the commit record chains, so a crash that made the commit record durable
  // without all of its records leaves an epoch replay discards, and that can
  // only happen before the CommitAck was sent.
  PersistRing(records_durable && staging == nullptr && file_->is_pmem() ? m.end_pos : m.first_pos, place.end);
  // The epoch is committed from here on.
  er.end_pos = place.end;
  er.commit_unix_ns = UnixNs();
  WriteHistoryLocked(er, m.byte_count);
  committed_epoch_ = m.epoch;
  tail_ = place.end;
  pending_.push_back(std::move(er));
  *ack = wire::CommitAckMsg{m.epoch, tail_, applied_pos_};
  return Status::OK();
}

Status App::ReadImage(uint32_t region_id, uint64_t offset, uint64_t length, size_t max_piece, const ImageSink& sink) {
  std::unique_lock<std::mutex> l(mu_);
  // Joining the reads in progress would return the image they hold; with
  // epochs committed since, wait for them to end and apply those first. A
  // read-only pool never applies; its image is as of applied_epoch.
  image_reads_ended_.wait(l, [this] { return image_readers_ == 0 || pending_.empty() || file_->read_only(); });
  RESPCT_RETURN_IF_ERROR(health_);
  if (!file_->read_only()) RESPCT_RETURN_IF_ERROR(ApplyLocked());
  const RegionInfo* region = nullptr;
  for (const RegionInfo& r : regions_)
    if (r.id == region_id) region = &r;
  if (region == nullptr)
    return Status::InvalidArgument("app '" + name_ + "' has no region " + std::to_string(region_id));
  if (!Within(offset, length, 0, region->size))
    return Status::InvalidArgument("read [" + std::to_string(offset) + ", +" + std::to_string(length) +
                                   ") is outside region " + std::to_string(region_id) + " of " +
                                   std::to_string(region->size) + " bytes");
  if (length == 0) return Status::OK();
  // Every page the range touches, checked before a byte is sent; the sums
  // travel with the pieces so the reader checks its copy too.
  const uint64_t region_page0 = region->image_offset / wire::kImageSumPage;
  const uint64_t first = offset / wire::kImageSumPage;
  const uint64_t end = (offset + length - 1) / wire::kImageSumPage + 1;
  std::vector<uint64_t> sums(end - first);
  for (uint64_t p = first; p < end; ++p) {
    const uint64_t page = region_page0 + p;
    sums[p - first] = PageSumOf(page);
    if (StoredPageSum(sums[p - first]) == sums_[page]) continue;
    if (std::binary_search(in_flux_pages_.begin(), in_flux_pages_.end(), page)) continue;
    Status st = DamagedPage(page, "on a read");
    spdlog::error("{}", st.message());
    return st;
  }
  const uint8_t* base = image_ + region->image_offset;
  const uint64_t region_size = region->size;
  ++image_readers_;
  l.unlock();
  Status st;
  for (uint64_t done = 0; done < length && st.ok();) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(max_piece, length - done));
    const wire::PageSpan whole = wire::WholePages(offset + done, n, region_size);
    const ImagePiece piece{region_size, offset + done, base + offset + done, n, whole.first, sums.data() + (whole.first - first),
                           static_cast<size_t>(whole.count())};
    st = sink(piece);
    done += n;
  }
  l.lock();
  if (--image_readers_ == 0) {
    // The epochs committed during the reads. A failure here (damage found
    // before a page changed) is the app's health from now on, which the
    // writer's next call reports.
    if (!file_->read_only() && health_.ok()) (void)ApplyLocked();
    image_reads_ended_.notify_all();
  }
  return st;
}

Status App::VerifyImage() const {
  std::lock_guard<std::mutex> l(mu_);
  RESPCT_RETURN_IF_ERROR(health_);
  uint64_t damaged = 0;
  uint64_t first_bad = 0;
  for (uint64_t p = 0; p < sum_pages_; ++p) {
    if (PageIntact(p) || std::binary_search(in_flux_pages_.begin(), in_flux_pages_.end(), p)) continue;
    if (damaged++ == 0) first_bad = p;
  }
  if (damaged == 0) return Status::OK();
  return Status::Corruption("app '" + name_ + "': " + std::to_string(damaged) + " of " + std::to_string(sum_pages_) +
                            " image page(s) fail their checksums, the first at " + PageWhere(first_bad));
}

wire::AppSummary App::Summary() const {
  std::lock_guard<std::mutex> l(mu_);
  wire::AppSummary s{};
  std::memcpy(s.name, name_.data(), std::min(name_.size(), sizeof s.name - 1));
  s.app_id = app_id_;
  s.committed_epoch = committed_epoch_;
  s.applied_epoch = applied_epoch_;
  s.image_size = entry_->image_size;
  s.ring_capacity = capacity_;
  s.ring_used = tail_ - applied_pos_;
  s.last_commit_unix_ns = last_commit_ns_;
  s.region_count = static_cast<uint32_t>(regions_.size());
  s.writer_attached = writer_ ? 1 : 0;
  return s;
}

std::vector<wire::EpochInfo> App::EpochHistory(uint64_t from, uint64_t to) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<wire::EpochInfo> out;
  if (!health_.ok()) return out;
  to = std::min(to, committed_epoch_);
  if (to - std::min(from, to) >= history_entries_) from = to - history_entries_ + 1;
  for (uint64_t e = std::max<uint64_t>(from, 1); e <= to; ++e) {
    EpochHistoryEntry h;
    std::memcpy(&h, &history_[e % history_entries_], sizeof h);
    if (!HistoryEntryValid(h) || h.epoch != e) continue;
    out.push_back(wire::EpochInfo{h.epoch, h.commit_unix_ns, h.payload_bytes, h.record_count, h.first_pos, h.end_pos});
  }
  return out;
}

Result<std::vector<wire::EpochWrites>> App::WrittenRanges(uint64_t from, uint64_t to) const {
  std::lock_guard<std::mutex> l(mu_);
  RESPCT_RETURN_IF_ERROR(health_);
  if (from >= to || to > committed_epoch_)
    return Status::InvalidArgument("epochs " + std::to_string(from) + ".." + std::to_string(to) +
                                   ": need E1 < E2 <= the committed epoch " + std::to_string(committed_epoch_));
  if (to - from > wire::kMaxEpochsPerQuery)
    return Status::InvalidArgument("epochs " + std::to_string(from) + ".." + std::to_string(to) + " span more than " +
                                   std::to_string(wire::kMaxEpochsPerQuery) + " epochs");
  std::vector<wire::EpochWrites> out;
  // One scan walks from an epoch's first record through every later epoch
  // still intact, so it usually serves the whole range; a new one starts only
  // where the previous scan could not reach (overwritten records).
  ReplayScan scan;
  size_t next = 0;
  for (uint64_t e = from + 1; e <= to; ++e) {
    wire::EpochWrites w;
    w.epoch = e;
    if (next >= scan.committed.size() || scan.committed[next].epoch != e) {
      const EpochHistoryEntry* h = HistoryOf(e);
      if (h == nullptr) {
        w.status = wire::WritesStatus::kNoHistory;
        out.push_back(std::move(w));
        continue;
      }
      scan = RingLog(ring_, capacity_, regions_, app_id_).ScanCommitted(h->first_pos, e - 1, HistoryVouches());
      next = 0;
    }
    if (next >= scan.committed.size()) {
      w.status = wire::WritesStatus::kOverwritten;
      out.push_back(std::move(w));
      continue;
    }
    w.status = wire::WritesStatus::kPresent;
    for (const DataRef& r : scan.committed[next].records)
      w.ranges.push_back(wire::WrittenRange{regions_[r.region_index].id, r.length, r.offset});
    ++next;
    out.push_back(std::move(w));
  }
  return out;
}

}  // namespace respct::memnode
