#include "runtime/transport/verbs_listener.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/transport/tcp_listen.h"

namespace respct {

Result<std::unique_ptr<VerbsListener>> VerbsListener::Listen(const std::string& host, uint16_t port) {
  RESPCT_RETURN_IF_ERROR(CheckRdmaDevicePresent());
  auto sock = ListenTcp(host, port, SOCK_NONBLOCK);
  if (!sock.ok()) return sock.status();
  std::unique_ptr<VerbsListener> l(new VerbsListener());
  l->fd_ = sock->fd;
  l->port_ = sock->port;
  return l;
}

VerbsListener::~VerbsListener() {
  if (fd_ >= 0) close(fd_);
}

Result<int> VerbsListener::AcceptBootstrap() {
  const int fd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return -1;
    return Status::FromErrno("accept", errno);
  }
  TuneAcceptedTcp(fd);
  return fd;
}

Result<std::unique_ptr<VerbsChannel>> VerbsListener::Establish(int fd) {
  auto ch = VerbsChannel::Accept(fd, kSetupTimeoutMs);
  if (!ch.ok()) return ch.status().Annotate("setting up an rdma:// connection");
  return std::move(*ch);
}

}  // namespace respct
