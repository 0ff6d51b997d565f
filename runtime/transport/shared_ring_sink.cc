#include "runtime/transport/shared_ring_sink.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <string>

namespace respct {

Result<std::unique_ptr<SharedRingSink>> SharedRingSink::Map(int fd, uint64_t capacity) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return Status::FromErrno("stat staging ring", err);
  }
  // A short memfd would SIGBUS on the first write past its end: refuse it here.
  if (static_cast<uint64_t>(st.st_size) < capacity) {
    close(fd);
    return Status::Corruption("staging ring of " + std::to_string(st.st_size) + " bytes, ring capacity is " +
                              std::to_string(capacity));
  }
  // Not MAP_POPULATE: faulting in a ring of hundreds of MiB takes most of a
  // second here (640 MiB: 0.77 s), which start-up and, worse, a recovery
  // would wait for. The replicator faults it in between epochs instead
  // (PrefaultSome), ahead of the first lap's writes (WarmTarget).
  void* p = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int err = errno;
  close(fd);  // the mapping keeps the memfd alive
  if (p == MAP_FAILED) return Status::FromErrno("mmap staging ring", err);
  return std::unique_ptr<SharedRingSink>(new SharedRingSink(static_cast<uint8_t*>(p), capacity));
}

SharedRingSink::~SharedRingSink() { munmap(base_, capacity_); }

uint64_t SharedRingSink::WarmTarget() const {
  const uint64_t ahead = std::max(kMinWarmAhead, written_end_);
  return written_end_ + ahead >= capacity_ ? capacity_ : written_end_ + ahead;
}

bool SharedRingSink::PrefaultSome(uint64_t max_bytes) {
  const uint64_t target = WarmTarget();
  if (prefaulted_ >= target) return true;
  const uint64_t n = std::min(max_bytes, target - prefaulted_);
  if (madvise(base_ + prefaulted_, n, MADV_POPULATE_WRITE) != 0) {
    prefaulted_ = capacity_;
    return true;
  }
  prefaulted_ += n;
  return prefaulted_ >= target;
}

Result<uint8_t*> SharedRingSink::Reserve(uint64_t pos, uint64_t len) {
  const uint64_t slot = pos % capacity_;
  if (slot + len > capacity_) return Status::InvalidArgument("reservation crosses the end of the ring");
  written_end_ = std::max(written_end_, slot + len);
  return base_ + slot;
}

Status SharedRingSink::Flush() {
  // The Commit message that follows is a syscall, which orders these stores
  // before the memnode's reads; the fence documents that and keeps the
  // compiler from sinking stores past it.
  std::atomic_thread_fence(std::memory_order_release);
  return Status::OK();
}

}  // namespace respct
