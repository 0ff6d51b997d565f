#include "runtime/kernel/socket_pair.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace respct::kernel {
namespace {

// The other end of `r`'s pair in the table, or -1.
int PeerFd(const FdTable& table, const FdRecord& r, int self) {
  const uint32_t end = r.As<SocketPairRecord>()->end;
  for (int fd = 0; fd <= table.highest(); ++fd) {
    const FdRecord* o = table.at(fd);
    if (fd != self && o->kind == FdKind::kSocketPair && o->object == r.object &&
        o->As<SocketPairRecord>()->end != end)
      return fd;
  }
  return -1;
}

void Capture(CaptureContext& ctx, int fd, FdRecord* r) {
  SocketPairRecord* p = r->As<SocketPairRecord>();
  p->queued.length = 0;
  int n = 0;
  if (ioctl(fd, FIONREAD, &n) != 0 || n <= 0) return;
  if (p->type == SOCK_STREAM) {
    if (!ctx.Reserve(&p->queued, static_cast<size_t>(n))) return;
    const ssize_t got = recv(fd, reinterpret_cast<void*>(p->queued.data), static_cast<size_t>(n), MSG_PEEK | MSG_DONTWAIT);
    if (got > 0) p->queued.length = static_cast<uint32_t>(got);
    return;
  }
  // Datagrams: FIONREAD gives the size of the first; take them all and send
  // them back through the other end, which the program must still hold.
  const int peer = PeerFd(*ctx.table, *r, fd);
  if (peer < 0) return;
  size_t used = 0;
  for (;;) {
    if (ioctl(fd, FIONREAD, &n) != 0 || n < 0) break;
    if (!ctx.Reserve(&p->queued, used + sizeof(uint32_t) + static_cast<size_t>(n))) break;
    auto* base = reinterpret_cast<std::byte*>(p->queued.data);
    const ssize_t got = recv(fd, base + used + sizeof(uint32_t), static_cast<size_t>(n), MSG_DONTWAIT);
    if (got < 0) break;
    const uint32_t len = static_cast<uint32_t>(got);
    std::memcpy(base + used, &len, sizeof len);
    used += sizeof len + len;
  }
  p->queued.length = static_cast<uint32_t>(used);
  for (size_t at = 0; at < used;) {
    uint32_t len;
    const auto* base = reinterpret_cast<const std::byte*>(p->queued.data);
    std::memcpy(&len, base + at, sizeof len);
    (void)!send(peer, base + at + sizeof len, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    at += sizeof len + len;
  }
}

Status Fill(int fd, const SocketPairRecord* p) {
  const auto* base = reinterpret_cast<const std::byte*>(p->queued.data);
  if (p->type == SOCK_STREAM) {
    size_t done = 0;
    while (done < p->queued.length) {
      const ssize_t w = send(fd, base + done, p->queued.length - done, MSG_NOSIGNAL);
      if (w <= 0) return Status::FromErrno("refill a socket pair", errno);
      done += static_cast<size_t>(w);
    }
    return Status::OK();
  }
  for (size_t at = 0; at < p->queued.length;) {
    uint32_t len;
    std::memcpy(&len, base + at, sizeof len);
    if (send(fd, base + at + sizeof len, len, MSG_NOSIGNAL) < 0) return Status::FromErrno("refill a socket pair", errno);
    at += sizeof len + len;
  }
  return Status::OK();
}

Status Recreate(RecreateContext&, const FdRecord* const* members, int count, int* new_fds) {
  const SocketPairRecord* any = members[0]->As<SocketPairRecord>();
  int ends[2];
  if (socketpair(any->domain, any->type | SOCK_CLOEXEC, any->protocol, ends) != 0)
    return Status::FromErrno("socketpair", errno);
  bool have[2] = {false, false};
  for (int i = 0; i < count; ++i) {
    const SocketPairRecord* p = members[i]->As<SocketPairRecord>();
    have[p->end] = true;
    new_fds[i] = ends[p->end];
    // Bytes queued at this end were sent by the other one.
    if (p->queued.length != 0) {
      const Status st = Fill(ends[1 - p->end], p);
      if (!st.ok()) {
        close(ends[0]);
        close(ends[1]);
        return st;
      }
    }
  }
  for (int e = 0; e < 2; ++e)
    if (!have[e]) close(ends[e]);
  return Status::OK();
}

std::string Describe(const FdRecord& r) {
  const SocketPairRecord* p = r.As<SocketPairRecord>();
  std::string s = std::string("socketpair end ") + (p->end == 0 ? "0" : "1") + " #" + std::to_string(r.object);
  if (p->queued.length != 0) s += " (" + FormatBytes(p->queued.length) + " queued)";
  return s;
}

void FillEnd(FdTable* table, int fd, uint32_t end, uint64_t object, int domain, int type, int protocol) {
  struct stat st {};
  FdRecord* r = table->Begin(fd);
  if (r == nullptr) return;
  SocketPairRecord* p = r->As<SocketPairRecord>();
  p->domain = domain;
  p->type = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  p->protocol = protocol;
  p->end = end;
  r->status_flags = O_RDWR | ((type & SOCK_NONBLOCK) != 0 ? O_NONBLOCK : 0);
  r->fd_flags = (type & SOCK_CLOEXEC) != 0 ? FD_CLOEXEC : 0;
  r->description = table->NewId();
  r->object = object;
  r->inode = fstat(fd, &st) == 0 ? st.st_ino : 0;
  r->kind = FdKind::kSocketPair;
  table->Commit(r);
}

}  // namespace

void RecordSocketPair(FdTable* table, const int fds[2], int domain, int type, int protocol) {
  const uint64_t object = table->NewId();
  FillEnd(table, fds[0], 0, object, domain, type, protocol);
  FillEnd(table, fds[1], 1, object, domain, type, protocol);
}

extern const KindOps kSocketPairOps = {FdKind::kSocketPair, 0, Capture, Recreate, Describe};

}  // namespace respct::kernel
