#include "runtime/dirty/dirty_tracker.h"

#include <string>

#include "runtime/dirty/mprotect_tracker.h"
#include "runtime/dirty/scan_tracker.h"
#include "runtime/dirty/uffd_tracker.h"

namespace respct::dirty {
namespace {

template <typename T>
Result<std::unique_ptr<DirtyTracker>> Upcast(Result<std::unique_ptr<T>> r) {
  if (!r.ok()) return r.status();
  return std::unique_ptr<DirtyTracker>(std::move(r).value());
}

}  // namespace

Result<std::unique_ptr<DirtyTracker>> DirtyTracker::Create(Kind kind, std::string* passed_over) {
  switch (kind) {
    case Kind::kUffd:
      return Upcast(UffdTracker::Open());
    case Kind::kMprotect:
      return Upcast(MprotectTracker::Open());
    case Kind::kScan:
      return Upcast(ScanTracker::Open());
    case Kind::kAuto:
      break;
  }
  // Best first: uffd costs nothing per Collect for clean memory and never
  // signals; mprotect is exact to a chunk but pays a signal per first write;
  // scan always works. The reasons a better kind was refused are kept for the
  // caller's log, and for the error when even scan fails.
  std::string why;
  for (Kind k : {Kind::kUffd, Kind::kMprotect, Kind::kScan}) {
    Result<std::unique_ptr<DirtyTracker>> t = Create(k);
    if (t.ok()) {
      if (passed_over != nullptr) *passed_over = why;
      return t;
    }
    if (!why.empty()) why += "; ";
    why += t.status().message();
  }
  return Status::FailedPrecondition("no dirty tracker works here: " + why);
}

Result<DirtyTracker::Kind> ParseTrackerKind(std::string_view s) {
  if (s.empty() || s == "auto") return DirtyTracker::Kind::kAuto;
  if (s == "uffd") return DirtyTracker::Kind::kUffd;
  if (s == "mprotect") return DirtyTracker::Kind::kMprotect;
  if (s == "scan") return DirtyTracker::Kind::kScan;
  std::string m = "RESPCT_TRACKER: unknown tracker '";
  m += s;
  m += "' (expected auto, uffd, mprotect or scan)";
  return Status::InvalidArgument(m);
}

std::string_view TrackerKindName(DirtyTracker::Kind kind) {
  switch (kind) {
    case DirtyTracker::Kind::kAuto: return "auto";
    case DirtyTracker::Kind::kUffd: return "uffd";
    case DirtyTracker::Kind::kMprotect: return "mprotect";
    case DirtyTracker::Kind::kScan: return "scan";
  }
  return "unknown";
}

}  // namespace respct::dirty
