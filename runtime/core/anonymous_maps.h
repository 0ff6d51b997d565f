// AnonymousMaps: the program's anonymous private mappings, served from the
// persisted heap so that memory a program or its libraries map for
// themselves (Python's object arenas, a custom allocator's chunks, an mmap'ed
// hash table) is in every checkpoint and comes back at the same address.
//
// Why from the heap rather than a region of its own: the heap region is
// already tracked, diffed, shipped and restored at a fixed address, and the
// heap already knows how to carve and give back page-aligned runs. A mapping
// is a large heap block (AllocatePages) plus an entry in a table that says
// which parts of it are still mapped; the table itself is a heap block whose
// address the meta header keeps (MetaHeader::anonymous_maps), so a recovery
// finds it with the rest of the image and nothing is re-created.
//
// What is served here: mmap(MAP_PRIVATE | MAP_ANONYMOUS, PROT_READ |
// PROT_WRITE) without an address the caller insists on, and MAP_FIXED over a
// part of such a mapping; their munmap, mremap, madvise and mprotect; and a
// program break of its own for brk/sbrk (glibc's malloc is replaced, so only a
// program that manages the break itself calls them). Everything else goes to
// the kernel and is not persisted (see README, "What respct does to your
// program"): shared and file mappings, PROT_NONE reservations and
// executable mappings, fixed addresses outside the heap, calls the runtime
// makes itself, and raw syscall(SYS_mmap).
//
// Semantics kept: the memory reads as zero when mapped; munmap makes a range
// unreachable (its pages are released); MADV_DONTNEED makes a range read as
// zero (by writing zeros: dropping the pages would leave their old bytes in
// the image, which a recovery would bring back); mremap grows in place when
// the block has room and moves otherwise (MREMAP_MAYMOVE). Not kept:
// mprotect to anything but read-write is not applied (a checkpoint must be
// able to read every persisted page; one warning says so), so a program that
// relies on faults in its own memory should not run under respct.
//
// Thread safety: every entry point takes one process-local lock and runs in a
// RuntimeScope, so a checkpoint never sees the table half-updated. Not for
// signal handlers (nor is mmap in POSIX's list). Before init (no heap) and
// for the runtime's own calls, the preload layer does not call in here.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "runtime/heap/heap.h"

namespace respct::core {

// The kernel calls a mapping falls back to, injected so that this module
// never reaches the preload layer's interposed symbols (and tests can count).
struct KernelMemoryCalls {
  void* (*mmap)(void* addr, size_t len, int prot, int flags, int fd, off_t off);
  int (*munmap)(void* addr, size_t len);
  int (*madvise)(void* addr, size_t len, int advice);
  int (*mprotect)(void* addr, size_t len, int prot);
};

// The real system calls (syscall(2): never an interposed libc symbol).
KernelMemoryCalls SystemMemoryCalls();

struct AnonymousMapsStats {
  uint64_t mappings;      // entries (a partly unmapped mapping may be two)
  uint64_t mapped_bytes;  // bytes the program can reach through them
};

class AnonymousMaps {
 public:
  // Serves the program's mappings from `heap` from now on; *root is where the
  // table's address is kept (zero on a fresh start, the image's after a
  // recovery, whose heap has been attached). Called once, before any thread
  // of the program runs.
  static void Install(heap::Heap* heap, uint64_t* root, const KernelMemoryCalls& kernel);
  static bool Installed();

  // Each returns the call's result with errno set as the kernel would.
  static void* Map(void* addr, size_t len, int prot, int flags, int fd, off_t off);
  static int Unmap(void* addr, size_t len);
  static void* Remap(void* old_addr, size_t old_len, size_t new_len, int flags, void* new_addr);
  static int Advise(void* addr, size_t len, int advice);
  static int Protect(void* addr, size_t len, int prot);
  // The program break: a persisted area of kBreakBytes, claimed at the first
  // call. brk(0)/sbrk(0) report its current end.
  static int Brk(void* addr);
  static void* Sbrk(intptr_t increment);

  static AnonymousMapsStats Stats();

  // fork(): the lock is taken across it and re-armed in the child.
  static void PrepareFork();
  static void ParentAfterFork();
  static void ChildAfterFork();

  static constexpr size_t kBreakBytes = size_t{64} << 20;
};

}  // namespace respct::core
