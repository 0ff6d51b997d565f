// What each kind of kernel object provides, in its own file (regular_file.cc,
// pipe.cc, socket_pair.cc, unix_socket.cc, inet_socket.cc, eventfd.cc,
// timerfd.cc, signalfd.cc, epoll.cc, memfd.cc): the same verbs for all, as
// CRIU splits its restorers — record (the interposed calls, in each kind's
// own header), capture (under the pause), recreate (recovery, before any
// thread runs) and describe (messages and respct-inspect).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/kernel/fd_table.h"

namespace respct::heap {
class Heap;
}

namespace respct::kernel {

// Bytes the kernel held for the program at the epoch (a pipe's buffered
// data): a block of the persisted heap, so it is in the image with the
// record that points to it.
struct HeldBytes {
  uint64_t data;      // heap address, 0: none
  uint32_t length;    // bytes held at the epoch
  uint32_t capacity;  // bytes the block can take
};

// Under the pause: the coordinator thread, every application thread stopped.
struct CaptureContext {
  FdTable* table;
  heap::Heap* heap;
  int scratch_read = -1, scratch_write = -1;  // a pipe of the runtime's, for tee(2)
  // Makes `h` able to hold `n` bytes (heap block grown under the pause);
  // false when the heap is exhausted.
  bool Reserve(HeldBytes* h, size_t n);
};

// Recovery, on the original thread before any program thread exists.
struct RecreateContext {
  FdTable* table;
  std::vector<std::string>* warnings;  // one line each, said by the recovery
};

struct KindOps {
  FdKind kind;
  // Recreated in increasing phase: epoll sets refer to descriptors by number,
  // so they come after everything else.
  int phase;
  // Brings `r` up to the kernel's state now. Null: nothing only the kernel knows.
  void (*capture)(CaptureContext& ctx, int fd, FdRecord* r);
  // Creates the object of `members` (the records of one object id, one per
  // open file description; both ends of a pipe are two members) and fills
  // new_fds[i] with a descriptor, at any number, for members[i].
  Status (*recreate)(RecreateContext& ctx, const FdRecord* const* members, int count, int* new_fds);
  // "tcp listener 127.0.0.1:11211 (backlog 1024)"
  std::string (*describe)(const FdRecord& r);
};

// Null for kNone and kinds without ops.
const KindOps* OpsFor(FdKind kind);

// Shared by the kinds' describe functions.
std::string DescribeSockaddr(const void* addr, uint32_t len);
std::string FormatBytes(uint64_t n);

}  // namespace respct::kernel

namespace respct::kernel {

// What a recovery says it recreated, one category per kind of use:
// "23 fds: 4 tcp listeners, 5 epoll, 6 eventfd, 1 timerfd, 2 pipe ends
// (3.1 KiB buffered), 5 files". Every count is of descriptors (a dup counts
// as one more); the buffered bytes are those the pipes and socketpairs held.
class RestoreTally {
 public:
  void Add(const FdRecord& r);
  int total() const { return total_; }
  // "0 fds", "1 fd: 1 file", "3 fds: 1 tcp listener, 2 pipe ends (14 B buffered)".
  std::string Text() const;

 private:
  static constexpr int kCategories = 14;
  int total_ = 0;
  int counts_[kCategories] = {};
  uint64_t pipe_bytes_ = 0, socketpair_bytes_ = 0;
};

}  // namespace respct::kernel
