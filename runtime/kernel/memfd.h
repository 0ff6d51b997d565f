// memfd files (memfd_create(2)).
//
// Record: at memfd_create: the name and flags. Capture: the contents, up to
//   kMaxMemFdBytes, copied under the pause each epoch (pread, no /proc), and
//   the seals. A larger memfd is recorded as too large and a recovery refuses
//   it by name: its contents are memory the image would not hold.
// Recreate: memfd_create with the same name and flags, the contents written
//   back, the seals applied again. A mapping of it the program had is not
//   recreated (it would be a shared mapping: DESIGN §9 lists the limits).
#pragma once

#include <cstdint>

#include "runtime/kernel/fd_table.h"
#include "runtime/kernel/kind_ops.h"

namespace respct::kernel {

inline constexpr uint64_t kMaxMemFdBytes = 1 << 20;

struct MemFdRecord {
  char name[250];
  uint16_t reserved;
  uint32_t flags;      // memfd_create flags
  uint32_t seals;      // F_GET_SEALS at the epoch
  uint32_t too_large;  // size beyond kMaxMemFdBytes at the epoch
  uint64_t size;
  HeldBytes contents;
};

void RecordMemFd(FdTable* table, int fd, const char* name, unsigned flags);

}  // namespace respct::kernel
