// FdTable: the program's descriptors as recorded in the kernel region
// (kernel_state.h), one FdRecord per descriptor number.
//
// Writers are the interposed calls on application threads (and the census on
// the coordinator thread, between epochs); the capture reads and completes
// records under the pause, when no application thread is inside a writer
// (writers run as runtime code, where threads never park). A writer brackets
// its change with Begin/Commit, which make `seq` odd then even again; the
// census only takes a record whose `seq` it saw even and unchanged.
//
// Everything here is async-signal-safe (atomics and plain stores into the
// mapped region): open, close, dup2, pipe, socket and accept are
// async-signal-safe in POSIX, so their bookkeeping must be too.
#pragma once

#include <cstdint>

#include "runtime/kernel/kernel_state.h"

namespace respct::kernel {

class FdTable {
 public:
  explicit FdTable(uintptr_t base) : header_(HeaderAt(base)), records_(RecordsAt(base)) {}

  // Formats an empty table (a fresh run; a recovery keeps the image's).
  void Format();
  bool Valid() const { return header_->magic == kKernelMagic && header_->version == kKernelVersion; }

  KernelStateHeader* header() { return header_; }
  const KernelStateHeader* header() const { return header_; }
  static bool InRange(int fd) { return fd >= 0 && fd < kMaxFds; }
  FdRecord* at(int fd) { return InRange(fd) ? &records_[fd] : nullptr; }
  const FdRecord* at(int fd) const { return InRange(fd) ? &records_[fd] : nullptr; }
  int highest() const { return __atomic_load_n(&header_->highest_fd, __ATOMIC_RELAXED); }

  // Starts a change of `fd`'s record (cleared to kNone), or null when `fd`
  // is beyond the table. Commit publishes it.
  FdRecord* Begin(int fd);
  void Commit(FdRecord* r);
  // The descriptor is gone.
  void Clear(int fd);
  // `to` now refers to `from`'s open file description (dup, dup2, F_DUPFD);
  // `fd_flags` are its own.
  void Dup(int from, int to, uint32_t fd_flags);

  // A fresh id for a description or an object.
  uint64_t NewId() { return __atomic_add_fetch(&header_->next_id, 1, __ATOMIC_RELAXED); }
  // The epoll sets (KernelStateHeader::epoll_sets); more than kMaxEpollSets
  // are still recorded, but a descriptor closed while in one of the extra
  // sets is left in its list (recovery then skips it as closed).
  void AddEpollSet(int fd);
  void RemoveEpollSet(int fd);
  // Whether another descriptor than `except` refers to `description`.
  bool DescriptionShared(uint64_t description, int except) const;

 private:
  KernelStateHeader* header_;
  FdRecord* records_;
};

}  // namespace respct::kernel
