#include "runtime/kernel/fd_table.h"

#include <cstring>

namespace respct::kernel {

void FdTable::Format() {
  std::memset(static_cast<void*>(header_), 0, sizeof *header_);
  header_->magic = kKernelMagic;
  header_->version = kKernelVersion;
  header_->max_fds = kMaxFds;
  header_->highest_fd = -1;
  for (int32_t& e : header_->epoll_sets) e = -1;
}

void FdTable::AddEpollSet(int fd) {
  for (int32_t& e : header_->epoll_sets) {
    int32_t expected = -1;
    if (__atomic_compare_exchange_n(&e, &expected, fd, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return;
  }
}

void FdTable::RemoveEpollSet(int fd) {
  for (int32_t& e : header_->epoll_sets) {
    int32_t expected = fd;
    __atomic_compare_exchange_n(&e, &expected, -1, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  }
}

FdRecord* FdTable::Begin(int fd) {
  FdRecord* r = at(fd);
  if (r == nullptr) return nullptr;
  r->seq.fetch_add(1, std::memory_order_acq_rel);  // odd: being written
  r->kind = FdKind::kNone;
  r->fd_flags = r->status_flags = 0;
  r->description = r->object = r->inode = 0;
  std::memset(r->body, 0, sizeof r->body);
  int h = __atomic_load_n(&header_->highest_fd, __ATOMIC_RELAXED);
  while (fd > h && !__atomic_compare_exchange_n(&header_->highest_fd, &h, fd, true, __ATOMIC_RELAXED,
                                                __ATOMIC_RELAXED)) {
  }
  return r;
}

void FdTable::Commit(FdRecord* r) { r->seq.fetch_add(1, std::memory_order_acq_rel); }

void FdTable::Clear(int fd) {
  FdRecord* r = at(fd);
  if (r == nullptr || r->kind == FdKind::kNone) return;
  r->seq.fetch_add(1, std::memory_order_acq_rel);
  r->kind = FdKind::kNone;
  r->seq.fetch_add(1, std::memory_order_acq_rel);
}

void FdTable::Dup(int from, int to, uint32_t fd_flags) {
  const FdRecord* src = at(from);
  FdRecord* dst = at(to);
  if (src == nullptr || dst == nullptr || from == to) return;
  if (src->kind == FdKind::kNone) {
    Clear(to);
    return;
  }
  FdRecord* r = Begin(to);
  r->fd_flags = fd_flags;
  r->status_flags = src->status_flags;
  r->description = src->description;
  r->object = src->object;
  r->inode = src->inode;
  std::memcpy(r->body, src->body, sizeof r->body);
  r->kind = src->kind;
  Commit(r);
}

bool FdTable::DescriptionShared(uint64_t description, int except) const {
  const int h = highest();
  for (int fd = 0; fd <= h; ++fd)
    if (fd != except && records_[fd].kind != FdKind::kNone && records_[fd].description == description) return true;
  return false;
}

const char* FdKindName(FdKind kind) {
  switch (kind) {
    case FdKind::kNone: return "none";
    case FdKind::kInherited: return "inherited";
    case FdKind::kFile: return "file";
    case FdKind::kPipe: return "pipe";
    case FdKind::kSocketPair: return "socketpair";
    case FdKind::kUnixSocket: return "unix";
    case FdKind::kInetSocket: return "inet";
    case FdKind::kEventFd: return "eventfd";
    case FdKind::kTimerFd: return "timerfd";
    case FdKind::kSignalFd: return "signalfd";
    case FdKind::kEpoll: return "epoll";
    case FdKind::kMemFd: return "memfd";
    case FdKind::kUnsupported: return "unsupported";
  }
  return "unknown";
}

}  // namespace respct::kernel
