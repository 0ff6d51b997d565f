// Checkpointer: the CheckpointClient of a running application. Under the
// pause it stamps the meta header with the epoch, copies each thread's static
// TLS block into its slot, asks the DirtyTracker which pages were written,
// and lets the LineDiffer stage the changed 64-byte lines (the staged copy,
// not the live pages, is what gets shipped: DESIGN §8). After the release it
// hands the staged epoch to the Replicator. With Granularity::kFull it still
// collects (to re-arm the tracker and count the pages written) but stages every
// tracked page.
#pragma once

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "runtime/core/config.h"
#include "runtime/core/epoch_coordinator.h"
#include "runtime/core/meta_region.h"
#include "runtime/core/recovery_image.h"
#include "runtime/core/replicator.h"
#include "runtime/core/runtime_stats.h"
#include "runtime/core/stall_report.h"
#include "runtime/dirty/dirty_tracker.h"
#include "runtime/dirty/line_differ.h"
#include "runtime/dirty/staging_buffer.h"
#include "runtime/kernel/kernel_objects.h"

namespace respct::core {

class ThreadRegistry;

class Checkpointer final : public CheckpointClient {
 public:
  struct Options {
    dirty::DirtyTracker::Kind tracker = dirty::DirtyTracker::Kind::kAuto;
    // Makes the tracker of kind `tracker`; empty: DirtyTracker::Create. The
    // unit tests hand in a tracker that reports the pages they say were
    // written (tests/support/fake_dirty_tracker.h), so what the Checkpointer
    // stages for given dirty pages can be checked without a kernel mechanism.
    std::function<Result<std::unique_ptr<dirty::DirtyTracker>>(dirty::DirtyTracker::Kind)> make_tracker;
    Granularity granularity = Granularity::kLine;
    // Regions that fill from their start (heap, stacks): for such a region id,
    // how many bytes from its base may hold data now. Only that prefix (plus
    // slack) is tracked, and tracking grows under the pause as it does: the
    // cost of every Collect follows the memory in use, not the reservation.
    std::vector<std::pair<uint32_t, std::function<size_t()>>> in_use;
    // Set in a recovered process: the image the memnode holds. Tracking then
    // starts at least as far as the image's written prefix, and the shadow of
    // every tracked byte starts as the image's bytes, so the first epoch ships
    // exactly what differs from the image. Must outlive the Checkpointer.
    const RecoveryImage* image = nullptr;
    // The kernel-object layer: its kernel-only state is captured first under
    // each pause, so the epoch ships it with the rest. Must outlive the
    // Checkpointer.
    kernel::KernelObjects* kernel = nullptr;
    // Told of every captured and abandoned round (may be null).
    StallReport* stall = nullptr;
    // Called under the pause once epoch N is captured (output commit: what
    // the program sends from now on belongs to epoch N+1). May be empty.
    std::function<void(uint64_t)> on_captured;
  };

  static Result<std::unique_ptr<Checkpointer>> Create(const Options& options, std::vector<RegionMapping> regions,
                                                      MetaHeader* meta, ThreadRegistry* registry,
                                                      Replicator* replicator, RuntimeStats* stats);

  bool ReadyForCheckpoint() override { return replicator_->ReadyForCheckpoint(); }
  bool CaptureQuiescent(uint64_t epoch) override;
  void AfterRelease(uint64_t epoch, const RoundResult& round) override;
  void Abandoned(uint64_t epoch, const RoundResult& round) override;

  std::string_view tracker_name() const { return tracker_->name(); }
  dirty::DirtyTracker::Kind tracker_kind() const { return tracker_->kind(); }
  // The next capture also writes each region, as captured, to <dir>/<name>.bin
  // (sparse: pages never populated are holes). Tests compare these with the
  // memnode's image.
  void DumpNextCapture(const std::string& dir) { dump_dir_ = dir; }
  // The next capture is the process's last (it is exiting): the image it
  // writes says so (MetaHeader::exited).
  void MarkFinalCapture() { final_capture_ = true; }
  dirty::DirtyTracker* tracker() { return tracker_.get(); }

 private:
  Checkpointer() = default;
  void CopyThreadTls();
  void KeepKernelWriteSpansWritable();
  // Extends tracking of growing regions to what they use now (under the pause).
  Status GrowTracking();

  struct Tracked {
    RegionMapping region;
    std::function<size_t()> in_use;  // empty: the whole region is tracked
    size_t tracked = 0;              // bytes from the base tracked so far
    size_t high_water = 0;           // most bytes from the base ever in use (or in the recovered image)
  };
  void DumpRegions();

  std::vector<RegionMapping> regions_;
  std::vector<Tracked> tracked_;
  const RecoveryImage* image_ = nullptr;
  kernel::KernelObjects* kernel_ = nullptr;
  StallReport* stall_ = nullptr;
  std::function<void(uint64_t)> on_captured_;
  MetaHeader* meta_ = nullptr;
  ThreadRegistry* registry_ = nullptr;
  Replicator* replicator_ = nullptr;
  RuntimeStats* stats_ = nullptr;
  std::unique_ptr<dirty::DirtyTracker> tracker_;
  std::unique_ptr<dirty::LineDiffer> differ_;
  std::unique_ptr<dirty::StagingBuffer> staging_;
  std::vector<dirty::PageRun> runs_;
  bool full_image_ = false;
  bool final_capture_ = false;
  // Ranges compared whole every epoch instead of tracked (stacks under the
  // mprotect tracker: see GrowTracking).
  std::vector<dirty::PageRun> always_diffed_;
  std::vector<dirty::PageRun> tracked_runs_;  // every range given to the differ, for kFull
  EpochSample sample_;
  std::string dump_dir_;
};

}  // namespace respct::core
