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
//   A regular file open for writing is also cut back to its size at the
//   epoch when it has grown since (bytes the lost epoch wrote, which the
//   resumed program writes again from its offset or never meant to write:
//   after a recovery the file holds no more than the program believes it
//   wrote); each cut is named in a warning. Bytes the lost epoch overwrote
//   inside the old size stay as they are now, and a file shared with other
//   writers loses what they appended after the epoch too.
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
  // Regular files open for writing: st_size as of the epoch (size_known 0:
  // not captured yet, or an image from before this field).
  uint32_t size_known;
  uint32_t reserved;
  uint64_t size;
};

// `path` as the program gave it, relative to `dirfd` (AT_FDCWD or a
// directory); `fd` the descriptor the kernel returned.
void RecordFileOpen(FdTable* table, int fd, int dirfd, const char* path, int flags);

}  // namespace respct::kernel
