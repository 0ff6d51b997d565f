#include "runtime/transport/frame_socket.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace respct {
namespace {

// Connects `fd` to `addr`, bounded by `timeout_ms`, then returns it to blocking mode.
Status ConnectWithTimeout(int fd, const sockaddr* addr, socklen_t len, int timeout_ms, const std::string& what) {
  const int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = connect(fd, addr, len);
  if (rc != 0 && errno != EINPROGRESS) return Status::FromErrno("connect " + what, errno);
  if (rc != 0) {
    pollfd p{fd, POLLOUT, 0};
    do {
      rc = poll(&p, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) return Status::FromErrno("connect " + what, ETIMEDOUT);
    int err = 0;
    socklen_t elen = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
    if (err != 0) return Status::FromErrno("connect " + what, err);
  }
  fcntl(fd, F_SETFL, flags);
  return Status::OK();
}

}  // namespace

Result<FrameSocket> FrameSocket::ConnectTcp(const std::string& host, uint16_t port, int timeout_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string what = host + ":" + std::to_string(port);
  const int gai = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (gai != 0) return Status::InvalidArgument("resolve " + host + ": " + gai_strerror(gai));
  Status last = Status::Unavailable("connect " + what + ": no address");
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = Status::FromErrno("socket", errno);
      continue;
    }
    last = ConnectWithTimeout(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms, what);
    if (last.ok()) {
      freeaddrinfo(res);
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return FrameSocket(fd);
    }
    close(fd);
  }
  freeaddrinfo(res);
  return last;
}

Result<FrameSocket> FrameSocket::ConnectUnix(const std::string& path, int timeout_ms) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Status::InvalidArgument("unix socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno("socket", errno);
  Status st = ConnectWithTimeout(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr, timeout_ms, path);
  if (!st.ok()) {
    close(fd);
    return st;
  }
  return FrameSocket(fd);
}

void FrameSocket::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void FrameSocket::Shutdown() {
  if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
}

void FrameSocket::ShutdownWrite() {
  if (fd_ >= 0) shutdown(fd_, SHUT_WR);
}

Status FrameSocket::SendRaw(const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (len > 0) {
    const ssize_t n = send(fd_, p, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("send", errno);
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return Status::OK();
}

Status FrameSocket::SendParts(wire::MsgType type, const void* a, size_t alen, const void* b, size_t blen,
                              int pass_fd) {
  if (fd_ < 0) return Status::Unavailable("send on a closed connection");
  const wire::FrameHeader h = wire::MakeFrameHeader(type, static_cast<uint32_t>(alen + blen));
  iovec iov[3] = {{const_cast<wire::FrameHeader*>(&h), sizeof h},
                  {const_cast<void*>(a), alen},
                  {const_cast<void*>(b), blen}};
  size_t total = sizeof h + alen + blen;
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 3;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (pass_fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  while (total > 0) {
    const ssize_t n = sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("send", errno);
    }
    total -= static_cast<size_t>(n);
    msg.msg_control = nullptr;  // the descriptor went with the first bytes
    msg.msg_controllen = 0;
    size_t left = static_cast<size_t>(n);
    while (left > 0 && msg.msg_iovlen > 0) {
      iovec& v = msg.msg_iov[0];
      const size_t take = left < v.iov_len ? left : v.iov_len;
      v.iov_base = static_cast<uint8_t*>(v.iov_base) + take;
      v.iov_len -= take;
      left -= take;
      if (v.iov_len == 0) {
        ++msg.msg_iov;
        --msg.msg_iovlen;
      }
    }
  }
  return Status::OK();
}

Status FrameSocket::WaitReadable(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  int rc;
  do {
    rc = poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return Status::FromErrno("poll", errno);
  if (rc == 0) return Status::FromErrno("no reply from peer within " + std::to_string(timeout_ms) + " ms", ETIMEDOUT);
  return Status::OK();
}

Status FrameSocket::ReadExact(void* dst, size_t len, int timeout_ms, int* passed_fd) {
  auto* p = static_cast<uint8_t*>(dst);
  while (len > 0) {
    RESPCT_RETURN_IF_ERROR(WaitReadable(timeout_ms));
    iovec iov{p, len};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    if (passed_fd != nullptr) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
    }
    const ssize_t n = recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("receive", errno);
    }
    if (n == 0) return Status::Unavailable("connection closed by peer");
    if (passed_fd != nullptr) {
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) std::memcpy(passed_fd, CMSG_DATA(c), sizeof(int));
      }
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return Status::OK();
}

Status FrameSocket::Receive(Frame* out, int timeout_ms) {
  if (fd_ < 0) return Status::Unavailable("receive on a closed connection");
  if (out->fd >= 0) close(out->fd);
  out->fd = -1;
  RESPCT_RETURN_IF_ERROR(ReadExact(&out->header, sizeof out->header, timeout_ms, &out->fd));
  RESPCT_RETURN_IF_ERROR(wire::CheckFrameHeader(out->header));
  out->payload.resize(out->header.length);
  return ReadExact(out->payload.data(), out->payload.size(), timeout_ms, &out->fd);
}

}  // namespace respct
