#include "runtime/kernel/eventfd.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "runtime/kernel/fdinfo.h"
#include "runtime/kernel/kind_ops.h"

namespace respct::kernel {
namespace {

void Capture(CaptureContext&, int fd, FdRecord* r) {
  EventFdRecord* e = r->As<EventFdRecord>();
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 0) != 1 || (p.revents & POLLIN) == 0) {
    e->count = 0;
    return;
  }
  if ((e->flags & EFD_SEMAPHORE) != 0) {
    uint64_t v = 0;
    if (ReadFdInfoHex(fd, "eventfd-count:", &v)) e->count = v;
    return;
  }
  uint64_t v = 0;
  if (read(fd, &v, sizeof v) != sizeof v) return;
  e->count = v;
  (void)!write(fd, &v, sizeof v);
}

Status Recreate(RecreateContext&, const FdRecord* const* members, int count, int* new_fds) {
  const EventFdRecord* e = members[0]->As<EventFdRecord>();
  // eventfd's initial value is an unsigned int; a larger counter is written.
  const int fd = eventfd(0, static_cast<int>(e->flags | EFD_CLOEXEC) & ~EFD_NONBLOCK);
  if (fd < 0) return Status::FromErrno("eventfd", errno);
  if (e->count != 0 && write(fd, &e->count, sizeof e->count) != sizeof e->count) {
    const int err = errno;
    close(fd);
    return Status::FromErrno("eventfd: restore the counter", err);
  }
  for (int i = 0; i < count; ++i) new_fds[i] = fd;
  return Status::OK();
}

std::string Describe(const FdRecord& r) {
  const EventFdRecord* e = r.As<EventFdRecord>();
  std::string s = "eventfd count " + std::to_string(e->count);
  if ((e->flags & EFD_SEMAPHORE) != 0) s += " (semaphore)";
  return s;
}

}  // namespace

void RecordEventFd(FdTable* table, int fd, unsigned initval, int flags) {
  struct stat st {};
  FdRecord* r = table->Begin(fd);
  if (r == nullptr) return;
  EventFdRecord* e = r->As<EventFdRecord>();
  e->count = initval;
  e->flags = static_cast<uint32_t>(flags) & (EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
  r->status_flags = O_RDWR | ((flags & EFD_NONBLOCK) != 0 ? O_NONBLOCK : 0);
  r->fd_flags = (flags & EFD_CLOEXEC) != 0 ? FD_CLOEXEC : 0;
  r->description = table->NewId();
  r->object = r->description;
  r->inode = fstat(fd, &st) == 0 ? st.st_ino : 0;
  r->kind = FdKind::kEventFd;
  table->Commit(r);
}

extern const KindOps kEventFdOps = {FdKind::kEventFd, 0, Capture, Recreate, Describe};

}  // namespace respct::kernel
