#include "runtime/core/recovery_image.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace respct::core {

Result<RecoveryImage> RecoveryImage::Open(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open recovery image " + path, errno);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return Status::FromErrno("stat " + path, err);
  }
  const auto len = static_cast<size_t>(st.st_size);
  if (len < kPageSize) {
    close(fd);
    return Status::Corruption(path + ": too short for a recovery image");
  }
  void* p = mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    close(fd);
    return Status::FromErrno("mmap " + path, err);
  }
  RecoveryImage img(static_cast<const uint8_t*>(p), len, fd);
  const RecoveryImageHeader& h = img.header();
  if (h.magic != kRecoveryImageMagic) return Status::Corruption(path + ": not a respct recovery image");
  if (h.version != kRecoveryImageVersion)
    return Status::Corruption(path + ": recovery image version " + std::to_string(h.version) + ", expected " +
                              std::to_string(kRecoveryImageVersion));
  if (h.region_count > kMaxImageRegions) return Status::Corruption(path + ": bad region count");
  for (uint32_t i = 0; i < h.region_count; ++i) {
    const RecoveryRegion& r = h.regions[i];
    if (r.stored > r.size || r.file_offset % kPageSize != 0 || r.file_offset > len || r.stored > len - r.file_offset)
      return Status::Corruption(path + ": region " + std::to_string(r.id) + " lies outside the file");
  }
  const RecoveryRegion* meta = img.region(kMetaRegion);
  if (meta == nullptr || meta->stored < kMetaHeaderBytes) return Status::Corruption(path + ": no meta region");
  const MetaHeader& m = img.meta();
  if (m.magic != kMetaMagic) return Status::Corruption(path + ": the image's meta region is not initialised");
  if (m.version != kMetaVersion)
    return Status::FailedPrecondition(path + ": image written by another respct version (meta version " +
                                      std::to_string(m.version) + ", this one reads " +
                                      std::to_string(kMetaVersion) + ")");
  if (MetaSlotsOffset() + uint64_t{m.max_threads} * sizeof(ThreadSlot) > meta->stored)
    return Status::Corruption(path + ": thread table outside the meta region");
  return img;
}

RecoveryImage::RecoveryImage(RecoveryImage&& o) noexcept : map_(o.map_), len_(o.len_), fd_(o.fd_) {
  o.map_ = nullptr;
  o.len_ = 0;
  o.fd_ = -1;
}

RecoveryImage& RecoveryImage::operator=(RecoveryImage&& o) noexcept {
  std::swap(map_, o.map_);
  std::swap(len_, o.len_);
  std::swap(fd_, o.fd_);
  return *this;
}

RecoveryImage::~RecoveryImage() {
  if (map_ != nullptr) munmap(const_cast<uint8_t*>(map_), len_);
  if (fd_ >= 0) close(fd_);
}

const RecoveryRegion* RecoveryImage::region(uint32_t id) const {
  const RecoveryImageHeader& h = header();
  for (uint32_t i = 0; i < h.region_count; ++i)
    if (h.regions[i].id == id) return &h.regions[i];
  return nullptr;
}

const MetaHeader& RecoveryImage::meta() const {
  return *reinterpret_cast<const MetaHeader*>(bytes(*region(kMetaRegion)));
}

const ThreadSlot& RecoveryImage::slot(uint32_t i) const {
  return reinterpret_cast<const ThreadSlot*>(bytes(*region(kMetaRegion)) + MetaSlotsOffset())[i];
}

void RecoveryImage::CopyOut(const RecoveryRegion& r, uint64_t offset, size_t len, void* dst) const {
  auto* out = static_cast<uint8_t*>(dst);
  const uint64_t end = offset + len;
  const uint64_t stored_end = std::min(end, r.stored);
  if (offset < stored_end) std::memcpy(out, bytes(r) + offset, stored_end - offset);
  if (stored_end < end) {
    const uint64_t from = std::max(offset, stored_end);
    std::memset(out + (from - offset), 0, end - from);
  }
}

}  // namespace respct::core
