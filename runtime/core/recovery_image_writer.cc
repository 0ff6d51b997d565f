#include "runtime/core/recovery_image_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/base/page.h"

namespace respct::core {
namespace {


}  // namespace

Result<RecoveryImageWriter> RecoveryImageWriter::Create(const std::string& path, const std::string& app,
                                                        uint64_t epoch, const std::vector<Region>& regions) {
  if (regions.size() > kMaxImageRegions)
    return Status::InvalidArgument("a recovery image holds at most " + std::to_string(kMaxImageRegions) +
                                   " regions, not " + std::to_string(regions.size()));
  if (app.size() >= sizeof(RecoveryImageHeader::app))
    return Status::InvalidArgument("app name '" + app + "' is too long for a recovery image");
  RecoveryImageHeader h{};
  h.magic = kRecoveryImageMagic;
  h.version = kRecoveryImageVersion;
  h.epoch = epoch;
  std::memcpy(h.app, app.data(), app.size());
  uint64_t file_end = kPageSize;
  for (const Region& r : regions) {
    if (r.stored > r.size)
      return Status::InvalidArgument("region " + std::to_string(r.id) + ": stored prefix larger than the region");
    h.regions[h.region_count++] = RecoveryRegion{r.id, 0, r.base, r.size, r.stored, file_end};
    file_end += PageUp(r.stored);
  }
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno("create " + path, errno);
  RecoveryImageWriter w(path, fd);
  w.header_ = h;
  if (ftruncate(fd, static_cast<off_t>(file_end)) != 0) return w.Fail(Status::FromErrno("ftruncate " + path, errno));
  return w;
}

RecoveryImageWriter::RecoveryImageWriter(RecoveryImageWriter&& o) noexcept
    : path_(std::move(o.path_)), fd_(o.fd_), header_(o.header_) {
  o.fd_ = -1;
}

RecoveryImageWriter::~RecoveryImageWriter() {
  if (fd_ < 0) return;
  close(fd_);
  unlink(path_.c_str());
}

Status RecoveryImageWriter::Fail(Status st) {
  close(fd_);
  fd_ = -1;
  unlink(path_.c_str());
  return st;
}

Status RecoveryImageWriter::Write(uint32_t index, uint64_t offset, const void* data, size_t len) {
  if (fd_ < 0) return Status::FailedPrecondition(path_ + ": the image is already finished or failed");
  if (index >= header_.region_count) return Status::InvalidArgument("no region " + std::to_string(index));
  const RecoveryRegion& r = header_.regions[index];
  if (offset > r.stored || len > r.stored - offset)
    return Status::InvalidArgument("write outside the stored prefix of region " + std::to_string(r.id));
  static const uint8_t kZero[kPageSize] = {};
  const auto* bytes = static_cast<const uint8_t*>(data);
  // Page by page from the region's page grid, so that a skipped page is a
  // whole page of the file (a hole ftruncate left).
  for (size_t p = 0; p < len;) {
    const uint64_t at = offset + p;
    const size_t n = std::min<uint64_t>(len - p, kPageSize - at % kPageSize);
    if (std::memcmp(bytes + p, kZero, n) != 0 &&
        pwrite(fd_, bytes + p, n, static_cast<off_t>(r.file_offset + at)) != static_cast<ssize_t>(n))
      return Fail(Status::FromErrno("write " + path_, errno));
    p += n;
  }
  return Status::OK();
}

Status RecoveryImageWriter::Finish() {
  if (fd_ < 0) return Status::FailedPrecondition(path_ + ": the image is already finished or failed");
  if (pwrite(fd_, &header_, sizeof header_, 0) != static_cast<ssize_t>(sizeof header_))
    return Fail(Status::FromErrno("write " + path_, errno));
  const int fd = fd_;
  fd_ = -1;
  if (close(fd) != 0) {
    unlink(path_.c_str());
    return Status::FromErrno("close " + path_, errno);
  }
  return Status::OK();
}

}  // namespace respct::core
