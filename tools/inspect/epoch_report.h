// The epoch reports of respct-inspect: the history of an app's committed
// epochs (--epochs) and what changed between two of them (--diff), as text
// or JSON. Data comes from an ImageSource; this file only shapes it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/transport/transport.h"
#include "tools/inspect/image_source.h"

namespace respct::inspect {

struct EpochReport {
  std::string app;
  std::string source;
  EpochListing listing;
  uint64_t image_epoch = 0;
  std::optional<uint32_t> image_threads;  // live thread slots of the image; none if unreadable
  std::string threads_note;               // why image_threads is missing
};

// The last `last` epochs (0: every epoch the history holds).
Result<EpochReport> BuildEpochReport(ImageSource* source, uint64_t last);
std::string FormatEpochsText(const EpochReport& r);
std::string FormatEpochsJson(const EpochReport& r);

// What epochs from+1 .. to wrote, per region, in 64-byte lines.
struct RegionDiff {
  uint32_t region_id = 0;
  uint64_t lines = 0;  // distinct 64-byte lines written
  uint64_t bytes = 0;  // distinct bytes written
  std::vector<std::pair<uint64_t, uint64_t>> line_ranges;  // [offset, end), line-aligned, merged
};
struct DiffReport {
  std::string app;
  std::string source;
  uint64_t from = 0, to = 0;
  uint64_t records = 0;
  std::vector<RegionDiff> regions;  // regions with writes, by id
};

// Fails (one clear line) when an epoch of the range has no records left in
// the ring, naming the oldest epoch a diff up to `to` can start from.
Result<DiffReport> BuildDiffReport(ImageSource* source, uint64_t from, uint64_t to);
std::string FormatDiffText(const DiffReport& r);
std::string FormatDiffJson(const DiffReport& r);

}  // namespace respct::inspect
