// Regular files, directories, character devices (/dev/null, /dev/urandom,
// a tty) and FIFOs opened by path.
//
// Record: at open/openat/creat/fopen/opendir: the path (absolute: a relative
//   one is resolved through /proc/self/fd), the flags it was opened with, and
//   the file type. Capture: the offset (lseek SEEK_CUR) of seekable ones.
// Recreate: open the same path with the same flags minus O_CREAT, O_EXCL and
//   O_TRUNC (the file is not the program's memory: it is reopened as it is
//   now), then seek to the recorded offset. A path that no longer opens is a
//   refusal naming it: a program resumed without a file it holds would fail
//   in ways it never expects. A FIFO opened for writing is opened without
//   waiting for a reader.
//   What the file contains is not rolled back to the epoch: bytes written
//   after it stay (DESIGN §9: output commit covers that).
#pragma once

#include <cstdint>

#include "runtime/kernel/fd_table.h"

namespace respct::kernel {

struct FileRecord {
  uint64_t offset;       // as of the epoch
  uint32_t open_flags;   // as given to open (O_ACCMODE, O_APPEND, O_DIRECTORY, ...)
  uint32_t file_type;    // st_mode & S_IFMT
  uint64_t dev;
  uint32_t path_too_long;
  uint32_t path_len;
  char path[kMaxPathBytes];
};

// `path` as the program gave it, relative to `dirfd` (AT_FDCWD or a
// directory); `fd` the descriptor the kernel returned.
void RecordFileOpen(FdTable* table, int fd, int dirfd, const char* path, int flags);

}  // namespace respct::kernel
