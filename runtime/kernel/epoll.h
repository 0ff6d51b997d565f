// epoll sets.
//
// Record: at epoll_create/epoll_create1, and every epoll_ctl ADD/MOD/DEL: the
//   interest list exactly — each descriptor with its events (EPOLLIN, EPOLLET,
//   EPOLLONESHOT, EPOLLEXCLUSIVE, ...) and its data word — in a block of the
//   persisted heap the record points to. A descriptor closed while in a set
//   leaves it when no other descriptor shares its open file description, as
//   in the kernel (RemoveClosed).
// Capture: only for sets with one-shot entries: /proc/self/fdinfo says which
//   of them have fired (the kernel keeps them, disarmed, until EPOLL_CTL_MOD).
// Recreate: a new set; every entry added again once every other descriptor
//   exists (phase 1), a fired one-shot entry with its events cleared so that it
//   stays disarmed. Readiness is the kernel's to recompute: a level-triggered
//   entry that was ready is reported again, an edge-triggered one once.
#pragma once

#include <sys/epoll.h>

#include <cstdint>

#include "runtime/kernel/fd_table.h"

namespace respct::heap {
class Heap;
}

namespace respct::kernel {

struct EpollEntry {
  int32_t fd;
  uint32_t events;
  uint64_t data;
  uint64_t description;  // of `fd` when added
  uint32_t disarmed;     // a fired EPOLLONESHOT entry, as of the epoch
  uint32_t reserved;
};

struct EpollRecord {
  uint32_t flags;          // epoll_create1 flags
  uint32_t lock;           // futex word guarding the list (application threads, not signal-safe)
  uint64_t entries;        // heap address of EpollEntry[capacity]
  uint32_t count;
  uint32_t capacity;
  uint32_t oneshot;        // entries with EPOLLONESHOT
  uint32_t reserved;
};

void RecordEpollCreate(FdTable* table, int fd, int flags);
// After a successful epoll_ctl. Not async-signal-safe (heap).
void RecordEpollCtl(FdTable* table, heap::Heap* heap, int epfd, int op, int fd, const epoll_event* event);
// `fd` (of `description`) is being closed and nothing else refers to its
// description: it leaves every set.
void RemoveClosedFromEpolls(FdTable* table, int fd, uint64_t description);

}  // namespace respct::kernel
