// respct-inspect --extract: writes an app's image to a directory, one file
// per region (meta.bin, heap.bin, stacks.bin, globals.bin; "region-<id>.bin"
// for ids respct does not name) plus manifest.json (epoch, regions with base
// addresses and sizes, build-id, executable, libraries), so the image can be
// examined with ordinary tools.
//
// Files are sparse: 4 KiB blocks of zeros are skipped, not written, so a
// mostly unused 1 GiB heap takes the disk space of what it holds.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/base/status.h"
#include "tools/inspect/image_source.h"

namespace respct::inspect {

struct ExtractResult {
  uint64_t epoch = 0;
  uint64_t bytes = 0;          // region bytes covered by the files
  uint64_t nonzero_bytes = 0;  // bytes actually written (the rest are holes)
  std::string manifest_path;
};

// `progress` (may be null) receives a line now and then for large images.
Result<ExtractResult> ExtractImage(ImageSource* source, const std::string& dir, FILE* progress);

// The file name of a region's bytes in an extract directory.
std::string RegionFileName(uint32_t region_id);

}  // namespace respct::inspect
