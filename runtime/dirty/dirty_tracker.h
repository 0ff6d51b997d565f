// DirtyTracker: which pages of the tracked ranges were written since the last
// Collect. One implementation per kernel mechanism (uffd_tracker.h,
// mprotect_tracker.h, scan_tracker.h); Create() picks one.
//
// Use, by the epoch coordinator:
//   Track(heap), Track(globals), Track(stack of each thread) ... at any time;
//   under the pause:  tracker->Collect(&runs); for each run: differ.Diff(run, sink);
//   resume the threads, ship the sink.
//
// Contract
// - Ranges are page-aligned, non-overlapping, and readable+writable for the
//   app (do not include guard pages), and stay mapped while tracked: Untrack
//   before munmap or mremap (the uffd registration and the mprotect state
//   belong to the mapping). Contents present when a range is tracked
//   count as written: the first Collect reports every populated page of it, so
//   the first epoch ships the initial contents (e.g. .data) to the image.
// - Collect runs while every app thread is paused. It reports the pages written
//   since the previous Collect and re-arms them before returning, so a write
//   after the pause is seen by the next Collect. Runs are sorted by address and
//   never cross a range boundary.
// - Track/Untrack/Collect/KernelWillWrite are not thread-safe with respect to
//   each other for a given tracker; the caller serialises them. If an app thread
//   was paused in the middle of Track/Untrack, Collect does not wait for it
//   (that would deadlock the pause): it returns Unavailable, and the coordinator
//   abandons the epoch and retries later, as DESIGN §3 allows.
// - After warm-up (output vectors at their high-water mark) Collect does not
//   allocate.
// - Signal safety: none of these methods may be called from a signal handler,
//   except KernelWillWrite (async-signal-safe in every implementation).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/dirty/page_run.h"

namespace respct::dirty {

class DirtyTracker {
 public:
  enum class Kind { kAuto, kUffd, kMprotect, kScan };

  virtual ~DirtyTracker() = default;
  DirtyTracker(const DirtyTracker&) = delete;
  DirtyTracker& operator=(const DirtyTracker&) = delete;

  // Auto probes uffd, then mprotect, then scan, and returns the first that
  // works on this kernel; if it had to pass over a better kind and
  // `passed_over` is given, it receives why ("uffd tracker: kernel lacks ...")
  // for the start-up log. A forced kind that does not work is an error that
  // names the missing kernel feature or permission.
  static Result<std::unique_ptr<DirtyTracker>> Create(Kind kind,
                                                      std::string* passed_over = nullptr);

  virtual Status Track(void* addr, size_t len) = 0;
  // Stops tracking exactly a range previously passed to Track.
  virtual Status Untrack(void* addr, size_t len) = 0;
  // Replaces *out with the pages written since the previous Collect and re-arms
  // tracking for them. Call only while every app thread is paused.
  virtual Status Collect(std::vector<PageRun>* out) = 0;

  // The caller is about to let the kernel write [addr, addr+len) on the app's
  // behalf (read(2), recv(2), ...). Trackers that rely on user-space faults
  // (mprotect) open and mark the covered pages here, because a kernel write to a
  // protected page fails with EFAULT instead of faulting. Async-signal-safe.
  virtual void KernelWillWrite(void* addr, size_t len) { (void)addr, (void)len; }
  // Under the pause, before Track or Collect: [addr, addr+len) may be written
  // by the kernel while they run (a thread blocked in read(2) into it, which
  // can return at any moment). A tracker that write-protects must not
  // protect it, even for an instant (the kernel's write would fail with
  // EFAULT), and reports it as written at the next Collect. Applies until
  // the next Collect has run.
  virtual void KeepWritable(void* addr, size_t len) { (void)addr, (void)len; }

  virtual Kind kind() const = 0;
  virtual std::string_view name() const = 0;

 protected:
  DirtyTracker() = default;
};

// "auto", "uffd", "mprotect", "scan" (the values of RESPCT_TRACKER); an empty
// string means auto.
Result<DirtyTracker::Kind> ParseTrackerKind(std::string_view s);
std::string_view TrackerKindName(DirtyTracker::Kind kind);

}  // namespace respct::dirty
