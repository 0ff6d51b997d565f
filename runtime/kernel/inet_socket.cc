#include "runtime/kernel/inet_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/kernel/kind_ops.h"

namespace respct::kernel {
namespace {

// A TCP socket of `family` whose peer has reset the connection: connected
// to a throw-away listener on the loopback whose accepted end is closed with
// a zero linger (an RST).
Status DeadTcpSocket(int family, int* fd_out) {
  sockaddr_storage a{};
  socklen_t alen;
  if (family == AF_INET6) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&a);
    a6->sin6_family = AF_INET6;
    a6->sin6_addr = in6addr_loopback;
    alen = sizeof *a6;
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&a);
    a4->sin_family = AF_INET;
    a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    alen = sizeof *a4;
  }
  const int listener = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return Status::FromErrno("socket", errno);
  auto fail = [&](const char* what, int client) {
    const int err = errno;
    close(listener);
    if (client >= 0) close(client);
    return Status::FromErrno(std::string("make a reset TCP socket: ") + what, err);
  };
  if (bind(listener, reinterpret_cast<sockaddr*>(&a), alen) != 0) return fail("bind the loopback", -1);
  if (listen(listener, 1) != 0) return fail("listen", -1);
  if (getsockname(listener, reinterpret_cast<sockaddr*>(&a), &alen) != 0) return fail("getsockname", -1);
  const int client = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (client < 0) return fail("socket", -1);
  if (connect(client, reinterpret_cast<sockaddr*>(&a), alen) != 0) return fail("connect", client);
  const int accepted = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (accepted < 0) return fail("accept", client);
  linger l{1, 0};
  setsockopt(accepted, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(accepted);
  close(listener);
  *fd_out = client;
  return Status::OK();
}

Status Recreate(RecreateContext&, const FdRecord* const* members, int count, int* new_fds) {
  const FdRecord& r = *members[0];
  const SocketRecord* s = r.As<SocketRecord>();
  int fd = -1;
  if (s->state == kSocketConnected && s->type == SOCK_STREAM) {
    RESPCT_RETURN_IF_ERROR(DeadTcpSocket(s->domain, &fd));
  } else if (s->state == kSocketConnected) {
    fd = socket(s->domain, s->type | SOCK_CLOEXEC, s->protocol);
    if (fd < 0) return Status::FromErrno("socket", errno);
    for (uint32_t i = 0; i < s->option_count; ++i)
      setsockopt(fd, s->options[i].level, s->options[i].name, s->options[i].value, s->options[i].length);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&s->peer), s->peer_len) != 0) {
      const int err = errno;
      close(fd);
      return Status::FromErrno("connect a UDP socket to " + DescribeSockaddr(&s->peer, s->peer_len), err);
    }
  } else {
    RESPCT_RETURN_IF_ERROR(RecreateBoundSocket(r, &fd));
  }
  for (int i = 0; i < count; ++i) new_fds[i] = fd;
  return Status::OK();
}

std::string Describe(const FdRecord& r) {
  const SocketRecord* s = r.As<SocketRecord>();
  const char* proto = s->type == SOCK_STREAM ? "tcp" : s->type == SOCK_DGRAM ? "udp" : "inet";
  const std::string local = DescribeSockaddr(&s->local, s->local_len);
  switch (s->state) {
    case kSocketListening: return std::string(proto) + " listener " + local + " (backlog " + std::to_string(s->backlog) + ")";
    case kSocketBound: return std::string(proto) + " bound " + local;
    case kSocketConnected:
      return std::string(proto) + (s->accepted ? " accepted " : " connected ") + local + " <-> " +
             DescribeSockaddr(&s->peer, s->peer_len);
    default: return std::string(proto) + " socket (unbound)";
  }
}

}  // namespace

extern const KindOps kInetSocketOps = {FdKind::kInetSocket, 0, nullptr, Recreate, Describe};

}  // namespace respct::kernel
