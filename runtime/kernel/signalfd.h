// signalfd descriptors.
//
// Record: at signalfd(2), creating or changing one: its mask (without the
//   runtime's stop signal, which the program never sees). Capture: nothing —
//   pending signals belong to the process, and a process that died took them.
// Recreate: signalfd(-1, mask, flags).
#pragma once

#include <signal.h>

#include <cstdint>

#include "runtime/kernel/fd_table.h"

namespace respct::kernel {

struct SignalFdRecord {
  uint64_t mask[2];   // signals 1..128
  uint32_t flags;     // SFD_NONBLOCK | SFD_CLOEXEC
  uint32_t reserved;
};

void RecordSignalFd(FdTable* table, int fd, const sigset_t* mask, int flags, bool update);

}  // namespace respct::kernel
