// RecoveryImageWriter: writes the file RecoveryImage::Open reads
// (recovery_image.h has the layout), so that both halves of the format live
// in one place. respct-recover writes one per recovery from what it fetches
// off the memnode; tests and fuzz targets build images with it.
//
// The header is written last: a file cut short by a crash or a full disk has
// no magic and is refused by Open, never half-read. A writer destroyed before
// Finish removes its file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/core/recovery_image.h"

namespace respct::core {

class RecoveryImageWriter {
 public:
  struct Region {
    uint32_t id;
    uint64_t base;    // address the region lives at
    uint64_t size;    // whole region
    uint64_t stored;  // bytes from its start the file holds (the rest is zero)
  };

  // Creates `path` (mode 0600, replacing what was there) sized for each
  // region's stored prefix, page-aligned after the header page.
  static Result<RecoveryImageWriter> Create(const std::string& path, const std::string& app, uint64_t epoch,
                                            const std::vector<Region>& regions);
  RecoveryImageWriter(RecoveryImageWriter&& o) noexcept;
  RecoveryImageWriter& operator=(RecoveryImageWriter&&) = delete;
  RecoveryImageWriter(const RecoveryImageWriter&) = delete;
  RecoveryImageWriter& operator=(const RecoveryImageWriter&) = delete;
  ~RecoveryImageWriter();

  const RecoveryImageHeader& header() const { return header_; }
  // Writes bytes [offset, offset+len) of the header's region `index`, inside
  // its stored prefix. Pages of zeros are skipped: they stay holes.
  Status Write(uint32_t index, uint64_t offset, const void* data, size_t len);
  // Writes the header and closes the file; the image is complete.
  Status Finish();

 private:
  RecoveryImageWriter(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  Status Fail(Status st);

  std::string path_;
  int fd_ = -1;
  RecoveryImageHeader header_{};
};

}  // namespace respct::core
