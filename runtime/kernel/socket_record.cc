#include "runtime/kernel/socket_record.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "runtime/kernel/kind_ops.h"

namespace respct::kernel {
namespace {

SocketRecord* SocketOf(FdTable* table, int fd) {
  FdRecord* r = table->at(fd);
  if (r == nullptr || (r->kind != FdKind::kInetSocket && r->kind != FdKind::kUnixSocket)) return nullptr;
  return r->As<SocketRecord>();
}

void CopyAddr(sockaddr_storage* dst, uint32_t* dst_len, const sockaddr* addr, socklen_t len) {
  if (addr == nullptr) return;
  const socklen_t n = len < sizeof *dst ? len : sizeof *dst;
  std::memcpy(dst, addr, n);
  *dst_len = n;
}

// Under the table's seq protocol: `fill` changes the socket's body in place.
template <typename Fill>
void Change(FdTable* table, int fd, Fill&& fill) {
  FdRecord* r = table->at(fd);
  SocketRecord* s = SocketOf(table, fd);
  if (s == nullptr) return;
  r->seq.fetch_add(1, std::memory_order_acq_rel);
  fill(s);
  r->seq.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace

void RecordSocket(FdTable* table, int fd, int domain, int type, int protocol) {
  struct stat st {};
  FdRecord* r = table->Begin(fd);
  if (r == nullptr) return;
  SocketRecord* s = r->As<SocketRecord>();
  s->domain = domain;
  s->type = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  s->protocol = protocol;
  s->state = kSocketCreated;
  r->status_flags = O_RDWR | ((type & SOCK_NONBLOCK) != 0 ? O_NONBLOCK : 0);
  r->fd_flags = (type & SOCK_CLOEXEC) != 0 ? FD_CLOEXEC : 0;
  r->description = table->NewId();
  r->object = r->description;
  r->inode = fstat(fd, &st) == 0 ? st.st_ino : 0;
  r->kind = domain == AF_UNIX ? FdKind::kUnixSocket
            : (domain == AF_INET || domain == AF_INET6) ? FdKind::kInetSocket
                                                        : FdKind::kUnsupported;
  if (r->kind == FdKind::kUnsupported)
    std::snprintf(reinterpret_cast<char*>(r->body), 128, "socket of address family %d", domain);
  table->Commit(r);
}

void RecordBind(FdTable* table, int fd, const sockaddr* addr, socklen_t len) {
  Change(table, fd, [&](SocketRecord* s) {
    CopyAddr(&s->local, &s->local_len, addr, len);
    // The kernel may have chosen the port (bind to port 0): record what it chose.
    socklen_t got = sizeof s->local;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&s->local), &got) == 0) s->local_len = got;
    if (s->state < kSocketBound) s->state = kSocketBound;
  });
}

void RecordListen(FdTable* table, int fd, int backlog) {
  Change(table, fd, [&](SocketRecord* s) {
    s->backlog = backlog;
    s->state = kSocketListening;
    // The connections this listener accepts inherit SO_REUSEADDR, and a
    // recovery can bind the port again while those of the killed process
    // linger in TIME_WAIT only if they have it (a TIME_WAIT socket without it
    // refuses even a binder that sets it). Servers set it for their own
    // restarts; one that did not is given it, which changes nothing else for
    // a listener (two listeners on one port still conflict).
    const int on = 1;
    if ((s->domain == AF_INET || s->domain == AF_INET6) && s->type == SOCK_STREAM)
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    socklen_t got = sizeof s->local;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&s->local), &got) == 0) s->local_len = got;
  });
}

void RecordConnect(FdTable* table, int fd, const sockaddr* addr, socklen_t len) {
  Change(table, fd, [&](SocketRecord* s) {
    CopyAddr(&s->peer, &s->peer_len, addr, len);
    socklen_t got = sizeof s->local;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&s->local), &got) == 0) s->local_len = got;
    s->state = kSocketConnected;
  });
}

void RecordAccept(FdTable* table, int listen_fd, int fd, int flags) {
  const FdRecord* l = table->at(listen_fd);
  struct stat st {};
  FdRecord* r = table->Begin(fd);
  if (r == nullptr) return;
  SocketRecord* s = r->As<SocketRecord>();
  if (l != nullptr && (l->kind == FdKind::kInetSocket || l->kind == FdKind::kUnixSocket)) {
    const SocketRecord* ls = l->As<SocketRecord>();
    s->domain = ls->domain;
    s->type = ls->type;
    s->protocol = ls->protocol;
    r->kind = l->kind;
  } else {
    sockaddr_storage a{};
    socklen_t alen = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &alen);
    s->domain = a.ss_family;
    s->type = SOCK_STREAM;
    r->kind = a.ss_family == AF_UNIX ? FdKind::kUnixSocket : FdKind::kInetSocket;
  }
  s->state = kSocketConnected;
  s->accepted = 1;
  socklen_t got = sizeof s->local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&s->local), &got) == 0) s->local_len = got;
  got = sizeof s->peer;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&s->peer), &got) == 0) s->peer_len = got;
  r->status_flags = O_RDWR | ((flags & SOCK_NONBLOCK) != 0 ? O_NONBLOCK : 0);
  r->fd_flags = (flags & SOCK_CLOEXEC) != 0 ? FD_CLOEXEC : 0;
  r->description = table->NewId();
  r->object = r->description;
  r->inode = fstat(fd, &st) == 0 ? st.st_ino : 0;
  table->Commit(r);
}

void RecordSetsockopt(FdTable* table, int fd, int level, int name, const void* value, socklen_t len) {
  if (value == nullptr || len > sizeof(SocketOption::value)) return;
  Change(table, fd, [&](SocketRecord* s) {
    uint32_t i = 0;
    while (i < s->option_count && !(s->options[i].level == level && s->options[i].name == name)) ++i;
    if (i == s->option_count) {
      if (s->option_count == kMaxSocketOptions) return;
      ++s->option_count;
    }
    s->options[i].level = level;
    s->options[i].name = name;
    s->options[i].length = len;
    std::memcpy(s->options[i].value, value, len);
  });
}

Status RecreateBoundSocket(const FdRecord& r, int* fd_out) {
  const SocketRecord* s = r.As<SocketRecord>();
  const int fd = socket(s->domain, s->type | SOCK_CLOEXEC, s->protocol);
  if (fd < 0) return Status::FromErrno("socket", errno);
  auto fail = [&](const std::string& what) {
    const int err = errno;
    close(fd);
    return Status::FromErrno(what, err);
  };
  for (uint32_t i = 0; i < s->option_count; ++i) {
    const SocketOption& o = s->options[i];
    if (setsockopt(fd, o.level, o.name, o.value, o.length) != 0)
      return fail("setsockopt(" + std::to_string(o.level) + ", " + std::to_string(o.name) + ")");
  }
  const int on = 1;
  if (s->state == kSocketListening && (s->domain == AF_INET || s->domain == AF_INET6) && s->type == SOCK_STREAM)
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);  // as RecordListen gave it
  if (s->state >= kSocketBound && s->local_len != 0) {
    const auto* addr = reinterpret_cast<const sockaddr*>(&s->local);
    if (bind(fd, addr, s->local_len) != 0) {
      // A TCP port whose old connections linger in TIME_WAIT: a bound socket
      // of a killed process may bind again (what SO_REUSEADDR allows), and
      // the program's own setting is put back afterwards.
      int was = 0;
      socklen_t wl = sizeof was;
      if (errno != EADDRINUSE || s->domain == AF_UNIX ||
          getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &was, &wl) != 0 ||
          setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 || bind(fd, addr, s->local_len) != 0)
        return fail("bind " + DescribeSockaddr(&s->local, s->local_len));
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &was, sizeof was);
    }
  }
  if (s->state == kSocketListening && listen(fd, s->backlog) != 0)
    return fail("listen on " + DescribeSockaddr(&s->local, s->local_len));
  *fd_out = fd;
  return Status::OK();
}

}  // namespace respct::kernel
