// LineDiffer: turns dirty pages into changed 64-byte lines.
//
// For every tracked range it keeps a shadow: the contents of the last committed
// epoch, in a private anonymous MAP_NORESERVE mapping of the same size. Pages
// never written cost nothing and read as zero, exactly like never-touched app
// memory, so a first write shows only its non-zero lines.
//
// Diff(run, sink), under the pause: each page of the run is compared with its
// shadow line by line (AVX2/SSE2, line_compare.h); each maximal range of
// adjacent changed lines (merged across page boundaries within the run) is
// copied into the sink and into the shadow — or, for a zero-copy sink
// (ShadowRefs), only into the shadow, the sink keeping a pointer to it.
// Granularity::kPage ships every reported page whole instead, for comparison.
//
// Diff is restartable: if the sink is full it returns ResourceExhausted, and
// the lines already staged are already in the shadow, so after shipping the
// staged bytes (or moving to a new sink) calling Diff again with the same run
// stages exactly the rest.
//
// No allocation on the Diff path. AddRange/RemoveRange are serialised by the
// caller with Diff, as DirtyTracker::Track with Collect (Diff returns
// Unavailable instead of waiting for an AddRange a paused thread left half-way).
//
// Signal safety: nothing here is async-signal-safe (Diff takes a mutex with
// try_lock); all of it is meant for the coordinator thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/dirty/diff_sink.h"
#include "runtime/dirty/line_compare.h"
#include "runtime/dirty/page_range_set.h"
#include "runtime/dirty/page_run.h"

namespace respct::dirty {

struct DiffStats {
  uint64_t pages_dirty = 0;     // pages passed to Diff
  uint64_t bytes_by_pages = 0;  // pages_dirty * 4096: what page granularity would ship
  uint64_t bytes_shipped = 0;   // bytes put into the sink
  uint64_t records = 0;         // ranges put into the sink
};

class LineDiffer {
 public:
  enum class Granularity { kLine, kPage };
  struct Options {
    Granularity granularity = Granularity::kLine;
    CompareImpl compare = CompareImpl::kAuto;
  };

  // Fails if `compare` names a kernel this CPU lacks.
  static Result<std::unique_ptr<LineDiffer>> Create(Options options);
  ~LineDiffer();
  LineDiffer(const LineDiffer&) = delete;
  LineDiffer& operator=(const LineDiffer&) = delete;

  // Gives [addr, addr+len) a zero shadow. Page-aligned, non-overlapping.
  Status AddRange(void* addr, size_t len);
  // Makes the shadow of [addr, addr+len), inside one added range, the bytes of
  // file `fd` from `file_offset`: after a recovery the shadow must hold what
  // the memnode's image holds, not zeros. The shadow there becomes a private
  // mapping of the file (copy-on-write): no page is cleared or copied until the
  // differ updates it, where filling fresh pages cost a 1 GiB recovery 4 s.
  // `addr` and `file_offset` page-aligned; a partial last page reads zero past
  // `len`'s end in the file (the caller's file holds zeros there or ends).
  Status SeedShadow(const void* addr, size_t len, int fd, uint64_t file_offset);
  // Drops the shadow of a range previously added (exact match).
  Status RemoveRange(void* addr, size_t len);

  // Stages the changed lines of `run` (which must lie within one added range)
  // into `sink` and brings the shadow up to date.
  Status Diff(const PageRun& run, DiffSink* sink);

  const DiffStats& stats() const { return stats_; }
  void ResetStats() { stats_ = DiffStats{}; }
  Granularity granularity() const { return options_.granularity; }
  CompareImpl compare() const { return options_.compare; }

 private:
  // An added range; its value is the base of its shadow mapping.
  using Range = PageRangeSet<std::byte*>::Entry;
  LineDiffer(Options options, ChangedLinesFn changed) : options_(options), changed_(changed) {}
  // Stages [addr, addr+len) and copies it into the shadow.
  Status Stage(const Range& r, uintptr_t addr, size_t len, DiffSink* sink);
  Status DiffLines(const Range& r, const PageRun& run, DiffSink* sink);

  const Options options_;
  const ChangedLinesFn changed_;
  std::mutex mu_;
  PageRangeSet<std::byte*> ranges_;
  DiffStats stats_;
};

}  // namespace respct::dirty
