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
  if (meta == nullptr) return Status::Corruption(path + ": no meta region");
  RESPCT_RETURN_IF_ERROR(CheckMetaHeader(img.meta(), meta->stored).Annotate(path));
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

Layout RecoveryImage::ImageLayout() const {
  const MetaHeader& m = meta();
  Layout l;
  l.base = m.base;
  l.heap_size = m.heap_size;
  l.stack_size = m.stack_size;
  l.max_threads = m.max_threads;
  return l;
}

namespace {

// A thread may park holding locks (restart_point.h); a depth beyond this
// is a corrupted slot, not a program.
constexpr uint32_t kMaxPlausibleLockDepth = 1u << 20;

// [lo, lo+len) inside [begin, end), without overflow.
bool Inside(uint64_t lo, uint64_t len, uint64_t begin, uint64_t end) {
  return lo >= begin && lo <= end && len <= end - lo;
}

}  // namespace

Status RecoveryImage::CheckResumable(const std::string& what) const {
  const MetaHeader& m = meta();
  // Threads other than the one that called exit() may still look parked in
  // the final image: the mark, not the thread table, says the program ended.
  if (m.exited == kMetaExitedMark)
    return Status::FailedPrecondition("the image is of a finished run (the program had exited)");
  const uint32_t expected[] = {kMetaRegion, kHeapRegion, kStackRegion};
  for (uint32_t id : expected)
    if (region(id) == nullptr) return Status::Corruption(what + ": no " + RegionName(id) + " region");
  const Layout l = ImageLayout();
  // The products below are checked against what the regions say before the
  // layout's own arithmetic is trusted.
  if (m.stack_size == 0 || m.stack_size % kPageSize != 0 || m.max_threads == 0 ||
      region(kStackRegion)->size / m.stack_size != m.max_threads || region(kMetaRegion)->size != l.meta_size() ||
      region(kHeapRegion)->size != l.heap_size || region(kStackRegion)->size != l.stacks_size())
    return Status::Corruption(what + ": region sizes do not match the image's layout");
  bool any = false;
  for (uint32_t i = 0; i < m.max_threads; ++i) {
    const ThreadSlot& s = slot(i);
    const char* state = SlotStateName(s.state);
    const std::string which = "thread slot " + std::to_string(i) + " (" + (state != nullptr ? state : "unknown") + ")";
    switch (s.state) {
      case kSlotFree:
      case kSlotExited:
        break;
      case kSlotStarting:
      case kSlotFrozenStarting:
        any = true;
        break;
      case kSlotParked:
      case kSlotBlocked:
      case kSlotFrozen: {
        any = true;
        if (s.lock_depth > kMaxPlausibleLockDepth)
          return Status::Corruption("the image's " + which + " claims " + std::to_string(s.lock_depth) +
                                    " locks held");
        const uint64_t own_lo = l.stack_of(i);
        const uint64_t own_hi = own_lo + l.stack_size;
        if (s.stack_lo != own_lo || s.stack_hi != own_hi)
          return Status::Corruption("the image's " + which + " claims a stack that is not its slot's");
        if (s.fctx < s.stack_lo || s.fctx >= s.entry_sp || s.entry_sp > s.stack_hi)
          return Status::Corruption("the image's " + which + " has a saved context outside its stack");
        if (s.tls_size > kTlsImageMax || (s.tls_size != 0 && !Inside(s.tls_addr, s.tls_size, own_lo, own_hi)))
          return Status::Corruption("the image's " + which + " has a bad TLS block");
        break;
      }
      default:
        return Status::Corruption("the image is not a restart point: " + which + " was not quiescent");
    }
  }
  if (!any) return Status::FailedPrecondition("the image has no thread to resume (the program had exited)");
  return Status::OK();
}

}  // namespace respct::core
