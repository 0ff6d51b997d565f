#include "runtime/transport/tcp_listen.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace respct {
namespace {

constexpr int kListenBacklog = 128;
constexpr int kKeepIdleSec = 30;
constexpr int kKeepIntervalSec = 10;
constexpr int kKeepCount = 3;

uint16_t BoundPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

}  // namespace

Result<TcpListenSocket> ListenTcp(const std::string& host, uint16_t port, int socket_flags) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const int gai = getaddrinfo(host == "*" ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (gai != 0) return Status::InvalidArgument("resolve " + host + ": " + gai_strerror(gai));
  Status last = Status::InvalidArgument("resolve " + host + ": no address");
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | socket_flags, ai->ai_protocol);
    if (fd < 0) {
      last = Status::FromErrno("socket", errno);
      continue;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, kListenBacklog) != 0) {
      last = Status::FromErrno("bind", errno);
      close(fd);
      continue;
    }
    freeaddrinfo(res);
    const uint16_t bound = BoundPort(fd);
    if (bound == 0) {
      const int err = errno;
      close(fd);
      return Status::FromErrno("getsockname", err);
    }
    return TcpListenSocket{fd, bound};
  }
  freeaddrinfo(res);
  return last;
}

void TuneAcceptedTcp(int fd) {
  const int one = 1;
  const int idle = kKeepIdleSec, interval = kKeepIntervalSec, count = kKeepCount;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

}  // namespace respct
