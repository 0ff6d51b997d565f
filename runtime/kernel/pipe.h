// Anonymous pipes.
//
// Record: at pipe/pipe2, both ends as one object (the census adopts pipes
//   libc made on its own, matching ends by inode). Capture: the bytes buffered
//   in the pipe at the epoch, copied without consuming them (tee(2) into the
//   capture's scratch pipe, then read) — a producer's bytes the consumer has
//   not read yet are part of the consistent state.
// Recreate: a new pipe of the same capacity holding those bytes. An end the
//   program no longer holds (the other process of a pipe to a child, or an end
//   it closed) is closed again at once, so the reader sees the bytes then end
//   of file, and a writer whose reader is gone gets EPIPE, as it would have.
#pragma once

#include <cstdint>

#include "runtime/kernel/fd_table.h"
#include "runtime/kernel/kind_ops.h"

namespace respct::kernel {

struct PipeRecord {
  uint32_t end;        // 0: read end, 1: write end
  uint32_t capacity;   // F_GETPIPE_SZ
  HeldBytes buffered;  // on the read end: bytes in the pipe at the epoch
};

void RecordPipe(FdTable* table, const int fds[2], int flags);
// A pipe end found by the census (libc's popen, ...): `object` pairs it with
// the other end by inode.
void RecordAdoptedPipeEnd(FdTable* table, int fd, uint32_t end, uint64_t object, uint64_t inode, int status_flags);

}  // namespace respct::kernel
