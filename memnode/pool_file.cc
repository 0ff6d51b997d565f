#include "memnode/pool_file.h"

#include <fcntl.h>
#include <cstring>
#include <libpmem2.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace respct::memnode {
namespace {

// libpmem2 keeps its last error per thread; this turns it into a Status.
Status Pmem2Error(const std::string& what) { return Status::IOError(what + ": " + pmem2_errormsg()); }

}  // namespace

PoolFile::~PoolFile() {
  if (map_ != nullptr) pmem2_map_delete(&map_);
  if (plain_mmap_ && base_ != nullptr) munmap(base_, size_);
  if (fd_ >= 0) close(fd_);  // also drops the flock
}

Status PoolFile::CreateSparse(const std::string& path, uint64_t size) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno("create pool " + path, errno);
  // ftruncate allocates nothing: untouched pages of the data area stay holes.
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    const int err = errno;
    close(fd);
    unlink(path.c_str());
    return Status::FromErrno("size pool " + path, err);
  }
  close(fd);
  return Status::OK();
}

Result<std::unique_ptr<PoolFile>> PoolFile::Map(const std::string& path, bool read_only) {
  std::unique_ptr<PoolFile> f(new PoolFile());
  f->path_ = path;
  f->read_only_ = read_only;
  f->fd_ = open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (f->fd_ < 0) return Status::FromErrno("open pool " + path, errno);
  if (!read_only && flock(f->fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return Status::FailedPrecondition("pool " + path + " is in use by another respct-memnode");
    return Status::FromErrno("lock pool " + path, errno);
  }
  struct stat st;
  if (fstat(f->fd_, &st) != 0) return Status::FromErrno("stat pool " + path, errno);
  if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
    return Status::InvalidArgument("pool " + path + " is not a regular file or DAX device");
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) < 4096)
    return Status::Corruption(path + " is not a respct pool (only " + std::to_string(st.st_size) + " bytes)");
  Status s = f->MapWithPmem2();
  // libpmem2 may refuse a read-only mapping of an O_RDONLY descriptor on some
  // file systems; inspection only needs to read, so plain mmap will do.
  if (!s.ok() && read_only) s = f->MapReadOnlyFallback();
  if (!s.ok()) return s.Annotate("map pool " + path);
  return f;
}

Status PoolFile::MapWithPmem2() {
  pmem2_source* src = nullptr;
  if (pmem2_source_from_fd(&src, fd_) != 0) return Pmem2Error("pmem2_source_from_fd");
  pmem2_config* cfg = nullptr;
  if (pmem2_config_new(&cfg) != 0) {
    pmem2_source_delete(&src);
    return Pmem2Error("pmem2_config_new");
  }
  // Page granularity is the weakest we accept: it lets libpmem2 fall back to
  // msync on a regular file, and it still picks MAP_SYNC on real PMem.
  int rc = pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE);
  if (rc == 0 && read_only_) rc = pmem2_config_set_protection(cfg, PMEM2_PROT_READ);
  if (rc == 0) rc = pmem2_map_new(&map_, cfg, src);
  Status s = rc == 0 ? Status::OK() : Pmem2Error("pmem2_map_new");
  pmem2_config_delete(&cfg);
  pmem2_source_delete(&src);
  if (!s.ok()) return s;
  base_ = static_cast<uint8_t*>(pmem2_map_get_address(map_));
  size_ = pmem2_map_get_size(map_);
  persist_ = pmem2_get_persist_fn(map_);
  is_pmem_ = pmem2_map_get_store_granularity(map_) != PMEM2_GRANULARITY_PAGE;
  return Status::OK();
}

Status PoolFile::MapReadOnlyFallback() {
  struct stat st;
  if (fstat(fd_, &st) != 0) return Status::FromErrno("stat", errno);
  void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) return Status::FromErrno("mmap", errno);
  base_ = static_cast<uint8_t*>(p);
  size_ = static_cast<uint64_t>(st.st_size);
  plain_mmap_ = true;
  return Status::OK();
}

void PoolFile::Persist(const void* addr, size_t len) const {
  if (read_only_ || len == 0) return;
  persist_(addr, len);
}

Status PoolFile::Sync() const {
  if (read_only_) return Status::OK();
  if (fsync(fd_) != 0) return Status::FromErrno("fsync pool " + path_, errno);
  return Status::OK();
}

Status PoolFile::Zero(uint64_t offset, uint64_t len) const {
  if (read_only_) return Status::FailedPrecondition("pool " + path_ + " is open read-only");
  if (offset > size_ || len > size_ - offset) return Status::InvalidArgument("zero range outside the pool");
  if (fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                static_cast<off_t>(len)) == 0)
    return Sync();
  std::memset(base_ + offset, 0, len);
  Persist(base_ + offset, len);
  return Status::OK();
}

}  // namespace respct::memnode
