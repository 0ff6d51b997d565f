// RecoveryImage: the local file through which respct-recover hands the
// image of one committed epoch to the shim of the process it starts
// (RESPCT_RECOVER=<path>). respct-recover fetches it from the memnode and
// writes it; the shim maps it read-only, restores memory from it and maps its
// regions copy-on-write as the starting shadow of dirty tracking (what the
// memnode has).
//
// Layout (little-endian):
//   RecoveryImageHeader          at offset 0, one page
//   region data                  page-aligned, at each region's file_offset;
//                                `stored` bytes from the region's base (the
//                                written prefix); the rest of the region is
//                                zero in the image and not stored. Runs of
//                                zero pages are holes (sparse file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/base/status.h"
#include "runtime/core/layout.h"
#include "runtime/core/meta_region.h"

namespace respct::core {

inline constexpr uint64_t kRecoveryImageMagic = 0x4d49544350534552;  // "RESPCTIM"
inline constexpr uint32_t kRecoveryImageVersion = 2;
inline constexpr size_t kMaxImageRegions = 32;  // wire::kMaxRegions

struct RecoveryRegion {
  uint32_t id;
  uint32_t reserved;
  uint64_t base;         // address the region lives at
  uint64_t size;         // whole region
  uint64_t stored;       // bytes from its start present in the file
  uint64_t file_offset;  // page-aligned
};

struct RecoveryImageHeader {
  uint64_t magic;
  uint32_t version;
  uint32_t region_count;
  uint64_t epoch;  // committed epoch the image is the state of
  char app[128];
  RecoveryRegion regions[kMaxImageRegions];
};
static_assert(sizeof(RecoveryImageHeader) <= kPageSize);

// A mapped recovery image. Not copyable; unmaps on destruction.
class RecoveryImage {
 public:
  // Maps and validates the file (header, region bounds, meta header magic).
  static Result<RecoveryImage> Open(const std::string& path);
  RecoveryImage(RecoveryImage&& o) noexcept;
  RecoveryImage& operator=(RecoveryImage&& o) noexcept;
  RecoveryImage(const RecoveryImage&) = delete;
  RecoveryImage& operator=(const RecoveryImage&) = delete;
  ~RecoveryImage();

  const RecoveryImageHeader& header() const { return *reinterpret_cast<const RecoveryImageHeader*>(map_); }
  // The region's entry, or null.
  const RecoveryRegion* region(uint32_t id) const;
  // The stored bytes of a region (region(id)->stored of them).
  const uint8_t* bytes(const RecoveryRegion& r) const { return map_ + r.file_offset; }
  // The open file (O_RDONLY, close-on-exec) the image is mapped from: the
  // differ maps regions of it copy-on-write as its starting shadow.
  int fd() const { return fd_; }
  const MetaHeader& meta() const;
  const ThreadSlot& slot(uint32_t i) const;
  // The process layout the image was taken with (from its meta header).
  Layout ImageLayout() const;

  // Whether the image is one a recovery may resume, checked before a byte of
  // it is copied anywhere (`what` names the image in messages): not of a
  // finished run; the meta, heap and stack regions present with the sizes
  // the meta header's layout gives; and every thread slot quiescent with a
  // saved context, a stack and a TLS block inside that slot's own stack, so
  // that restoring a thread never writes outside the stacks region.
  Status CheckResumable(const std::string& what) const;

  // Copies image bytes [offset, offset+len) of a region into dst; bytes past
  // the stored prefix are zero.
  void CopyOut(const RecoveryRegion& r, uint64_t offset, size_t len, void* dst) const;

 private:
  RecoveryImage(const uint8_t* map, size_t len, int fd) : map_(map), len_(len), fd_(fd) {}
  const uint8_t* map_ = nullptr;
  size_t len_ = 0;
  int fd_ = -1;
};

}  // namespace respct::core
