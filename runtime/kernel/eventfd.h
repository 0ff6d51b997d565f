// eventfd counters.
//
// Record: at eventfd(2): the flags (EFD_SEMAPHORE, EFD_NONBLOCK, ...).
// Capture: the counter at the epoch. poll(2) tells whether it is non-zero
//   (most epochs: one call); if it is, a semaphore counter is read from
//   /proc/self/fdinfo, any other by read(2) and written straight back. The
//   read-and-restore is safe under the pause: a thread blocked reading the
//   counter that takes the value back is frozen on its fiber until the
//   release, and in the image it is blocked in read(2) with the counter
//   non-zero, which is the same future.
// Recreate: eventfd(counter, flags).
#pragma once

#include <cstdint>

#include "runtime/kernel/fd_table.h"

namespace respct::kernel {

struct EventFdRecord {
  uint64_t count;   // as of the epoch
  uint32_t flags;   // eventfd(2) flags
  uint32_t reserved;
};

void RecordEventFd(FdTable* table, int fd, unsigned initval, int flags);

}  // namespace respct::kernel
