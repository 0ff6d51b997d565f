#include "runtime/core/checkpointer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "runtime/base/clock.h"
#include "runtime/core/shim_log.h"
#include "runtime/core/thread_registry.h"

namespace respct::core {
namespace {

size_t AlignUp(size_t v, size_t a) { return (v + a - 1) / a * a; }

}  // namespace
Result<std::unique_ptr<Checkpointer>> Checkpointer::Create(const Options& options, std::vector<RegionMapping> regions,
                                                          MetaHeader* meta, ThreadRegistry* registry,
                                                          Replicator* replicator, RuntimeStats* stats) {
  std::unique_ptr<Checkpointer> c(new Checkpointer());
  c->regions_ = std::move(regions);
  c->meta_ = meta;
  c->registry_ = registry;
  c->replicator_ = replicator;
  c->stats_ = stats;
  c->image_ = options.image;
  c->kernel_ = options.kernel;
  c->stall_ = options.stall;
  c->on_captured_ = options.on_captured;
  auto tracker =
      options.make_tracker ? options.make_tracker(options.tracker) : dirty::DirtyTracker::Create(options.tracker);
  if (!tracker.ok()) return tracker.status();
  c->tracker_ = std::move(tracker.value());
  dirty::LineDiffer::Options dopt;
  dopt.granularity = options.granularity == Granularity::kLine ? dirty::LineDiffer::Granularity::kLine
                                                               : dirty::LineDiffer::Granularity::kPage;
  c->full_image_ = options.granularity == Granularity::kFull;
  auto differ = dirty::LineDiffer::Create(dopt);
  if (!differ.ok()) return differ.status();
  c->differ_ = std::move(differ.value());
  size_t total = 0;
  for (const RegionMapping& r : c->regions_) {
    Tracked t{r, {}, 0, 0};
    for (const auto& [id, fn] : options.in_use)
      if (id == r.id) t.in_use = fn;
    c->tracked_.push_back(std::move(t));
    total += r.size;
  }
  RESPCT_RETURN_IF_ERROR(c->GrowTracking());
  // Address space only (MAP_NORESERVE): big enough for an epoch that changes
  // every line of every region, per StagingBuffer's sizing rule.
  auto staging = dirty::StagingBuffer::Create(total + total / 4 + 4096);
  if (!staging.ok()) return staging.status();
  c->staging_ = std::move(staging.value());
  return c;
}

Status Checkpointer::GrowTracking() {
  // Slack, so a growing heap re-registers a range now and then, not per epoch.
  constexpr size_t kGrowthStep = size_t{32} << 20;
  for (Tracked& t : tracked_) {
    const RecoveryRegion* from_image = image_ != nullptr ? image_->region(t.region.id) : nullptr;
    size_t used = t.in_use ? t.in_use() : t.region.size;
    if (from_image != nullptr) used = std::max<size_t>(used, from_image->stored);
    t.high_water = std::max(t.high_water, std::min(t.region.size, AlignUp(used, kPageSize)));
    if (t.region.id < kMaxRegionIds) meta_->written_bytes[t.region.id] = t.high_water;
    size_t want = t.region.size;
    if (t.in_use) want = std::min(t.region.size, AlignUp(t.high_water + kGrowthStep, kGrowthStep));
    if (want <= t.tracked) continue;
    // A new range adjacent to the tracked prefix: what the application wrote
    // there before now is reported by the next Collect, so nothing is missed.
    void* start = reinterpret_cast<void*>(t.region.base + t.tracked);
    const size_t len = want - t.tracked;
    // The kernel writes signal frames onto thread stacks (the stop signal,
    // the mprotect tracker's own SIGSEGV); on a page mprotect has made
    // read-only that write fails and the thread is killed. With that tracker
    // the stacks are not write-protected but compared whole every epoch.
    if (t.region.id == kStackRegion && tracker_->kind() == dirty::DirtyTracker::Kind::kMprotect) {
      always_diffed_.push_back(dirty::PageRun{reinterpret_cast<uintptr_t>(start), len / kPageSize});
    } else {
      RESPCT_RETURN_IF_ERROR(tracker_->Track(start, len).Annotate(RegionName(t.region.id)));
    }
    RESPCT_RETURN_IF_ERROR(differ_->AddRange(start, len).Annotate(RegionName(t.region.id)));
    if (from_image != nullptr && t.tracked < from_image->stored) {
      const size_t n = std::min<size_t>(len, from_image->stored - t.tracked);
      RESPCT_RETURN_IF_ERROR(differ_->SeedShadow(start, n, image_->fd(), from_image->file_offset + t.tracked));
    }
    tracked_runs_.push_back(dirty::PageRun{reinterpret_cast<uintptr_t>(start), len / kPageSize});
    t.tracked = want;
  }
  return Status::OK();
}

void Checkpointer::CopyThreadTls() {
  for (uint32_t i = 0; i < registry_->max_threads(); ++i) {
    ThreadSlot& s = registry_->slot(i);
    const SlotState st = s.load_state();
    if ((st == kSlotParked || st == kSlotFrozen) && s.tls_addr != 0 && s.tls_size <= kTlsImageMax)
      std::memcpy(s.tls_image, reinterpret_cast<const void*>(s.tls_addr), s.tls_size);
  }
}

bool Checkpointer::CaptureQuiescent(uint64_t epoch) {
  const uint64_t t0 = MonotonicNs();
  // Writes to persisted memory first, so this very collection ships them.
  meta_->epoch = epoch;
  meta_->capture_unix_ns = UnixNs();
  if (final_capture_) meta_->exited = kMetaExitedMark;
  CopyThreadTls();
  if (kernel_ != nullptr) kernel_->CaptureUnderPause();
  KeepKernelWriteSpansWritable();
  Status st = GrowTracking();
  if (st.ok()) st = tracker_->Collect(&runs_);
  if (!st.ok()) {
    ShimLog(kLogInfo, "epoch %llu not captured: %s", static_cast<unsigned long long>(epoch), st.ToString().c_str());
    return false;
  }
  staging_->Clear();
  differ_->ResetStats();
  uint64_t pages_written = 0;
  for (const dirty::PageRun& run : runs_) pages_written += run.pages;
  runs_.insert(runs_.end(), always_diffed_.begin(), always_diffed_.end());
  for (const dirty::PageRun& run : full_image_ ? tracked_runs_ : runs_) {
    st = differ_->Diff(run, staging_.get());
    if (!st.ok()) {
      // The lines already staged are in the shadow: losing them would leave the
      // image behind for good, so this is fatal, not retryable.
      ShimLog(kLogError, "epoch %llu: staging failed: %s", static_cast<unsigned long long>(epoch),
              st.ToString().c_str());
      std::abort();
    }
  }
  if (!dump_dir_.empty()) DumpRegions();
  const dirty::DiffStats& d = differ_->stats();
  sample_ = EpochSample{};
  sample_.epoch = epoch;
  sample_.start_unix_ns = meta_->capture_unix_ns;
  sample_.capture_ns = MonotonicNs() - t0;
  // What the application wrote, whatever was shipped for it.
  sample_.pages_dirty = pages_written;
  sample_.bytes_by_pages = pages_written * kPageSize;
  sample_.bytes_shipped = d.bytes_shipped;
  sample_.records = d.records;
  if (on_captured_) on_captured_(epoch);
  return true;
}

// A thread in a call the kernel will write into (epoll_wait's events, a
// read's buffer) told the tracker before the call, and the kernel may write
// there at any moment of this capture: the call can return while the other
// threads are paused. So the tracker is told, before it re-arms anything,
// to leave those spans writable (a write-protecting tracker would otherwise
// fail the kernel's write with EFAULT; re-opening them after the collect,
// as before, left a window that memcached's epoll_wait under the mprotect
// tracker hit) and to look at them again next epoch. That includes a thread
// parked at the restart point between telling and calling (Blocking passes
// one first).
void Checkpointer::KeepKernelWriteSpansWritable() {
  for (uint32_t i = 0; i < registry_->max_threads(); ++i) {
    const SlotState st = registry_->slot(i).load_state();
    if (st != kSlotBlocked && st != kSlotFrozen && st != kSlotParked) continue;
    const SlotControl& c = registry_->control(i);
    const uint64_t lo = c.kernel_write_lo.load(std::memory_order_relaxed);
    const uint64_t hi = c.kernel_write_hi.load(std::memory_order_relaxed);
    if (hi > lo) tracker_->KeepWritable(reinterpret_cast<void*>(lo), hi - lo);
  }
}

void Checkpointer::DumpRegions() {
  for (const RegionMapping& r : regions_) {
    const std::string path = dump_dir_ + "/" + RegionName(r.id) + ".bin";
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      ShimLog(kLogWarn, "dump %s: %s", path.c_str(), std::strerror(errno));
      continue;
    }
    (void)!ftruncate(fd, static_cast<off_t>(r.size));
    // Only resident pages can hold anything but zeros.
    const size_t pages = r.size / kPageSize;
    std::vector<unsigned char> resident(pages);
    if (mincore(reinterpret_cast<void*>(r.base), r.size, resident.data()) != 0) resident.assign(pages, 1);
    for (size_t p = 0; p < pages; ++p) {
      if ((resident[p] & 1) == 0) continue;
      const off_t off = static_cast<off_t>(p * kPageSize);
      (void)!pwrite(fd, reinterpret_cast<const void*>(r.base + p * kPageSize), kPageSize, off);
    }
    close(fd);
  }
  dump_dir_.clear();
}

void Checkpointer::Abandoned(uint64_t, const RoundResult& round) {
  stats_->RecordAbandoned(round.quiesce_ns);
  if (stall_ != nullptr) stall_->NoteAbandoned(round, MonotonicNs());
}

void Checkpointer::AfterRelease(uint64_t epoch, const RoundResult& round) {
  if (stall_ != nullptr) stall_->NoteCaptured(MonotonicNs());
  sample_.pause_ns = round.pause_ns;
  sample_.quiesce_ns = round.quiesce_ns;
  const size_t index = stats_->RecordCaptured(sample_);
  replicator_->Submit(epoch, staging_.get(), index);
}

}  // namespace respct::core
