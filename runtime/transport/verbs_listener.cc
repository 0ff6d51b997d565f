#include "runtime/transport/verbs_listener.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace respct {
namespace {

constexpr int kListenBacklog = 128;
// A client host that vanishes without a FIN would otherwise keep its session
// (and its app's writer slot) forever: as for tcp://, keepalive ends it.
constexpr int kKeepIdleSec = 30;
constexpr int kKeepIntervalSec = 10;
constexpr int kKeepCount = 3;

}  // namespace

Result<std::unique_ptr<VerbsListener>> VerbsListener::Listen(const std::string& host, uint16_t port) {
  RESPCT_RETURN_IF_ERROR(CheckRdmaDevicePresent());
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const int gai = getaddrinfo(host == "*" ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (gai != 0) return Status::InvalidArgument(std::string("resolve ") + host + ": " + gai_strerror(gai));
  Status last = Status::InvalidArgument("no address");
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
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
    std::unique_ptr<VerbsListener> l(new VerbsListener());
    l->fd_ = fd;
    return l;
  }
  freeaddrinfo(res);
  return last;
}

VerbsListener::~VerbsListener() {
  if (fd_ >= 0) close(fd_);
}

Result<std::unique_ptr<VerbsChannel>> VerbsListener::Accept() {
  const int fd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return std::unique_ptr<VerbsChannel>();
    return Status::FromErrno("accept", errno);
  }
  const int one = 1;
  const int idle = kKeepIdleSec, interval = kKeepIntervalSec, count = kKeepCount;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  auto ch = VerbsChannel::Accept(fd, kSetupTimeoutMs);
  if (!ch.ok()) return ch.status().Annotate("setting up an rdma:// connection");
  return std::move(*ch);
}

}  // namespace respct
