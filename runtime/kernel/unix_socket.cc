#include "runtime/kernel/unix_socket.h"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/kernel/kind_ops.h"

namespace respct::kernel {
namespace {

// A socket file at the path of `addr` that nothing listens on any more.
void RemoveStaleSocketFile(const sockaddr_un* addr, uint32_t len) {
  if (len <= offsetof(sockaddr_un, sun_path) || addr->sun_path[0] == '\0') return;  // unnamed or abstract
  struct stat st {};
  if (lstat(addr->sun_path, &st) != 0 || !S_ISSOCK(st.st_mode)) return;
  const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return;
  const bool answered = connect(probe, reinterpret_cast<const sockaddr*>(addr), len) == 0;
  const int err = errno;
  close(probe);
  if (!answered && (err == ECONNREFUSED || err == ENOENT)) unlink(addr->sun_path);
}

Status Recreate(RecreateContext&, const FdRecord* const* members, int count, int* new_fds) {
  const FdRecord& r = *members[0];
  const SocketRecord* s = r.As<SocketRecord>();
  int fd = -1;
  if (s->state == kSocketConnected) {
    int pair[2];
    if (socketpair(AF_UNIX, s->type | SOCK_CLOEXEC, 0, pair) != 0) return Status::FromErrno("socketpair", errno);
    close(pair[1]);
    fd = pair[0];
  } else {
    if (s->state >= kSocketBound) RemoveStaleSocketFile(reinterpret_cast<const sockaddr_un*>(&s->local), s->local_len);
    RESPCT_RETURN_IF_ERROR(RecreateBoundSocket(r, &fd));
  }
  for (int i = 0; i < count; ++i) new_fds[i] = fd;
  return Status::OK();
}

std::string Describe(const FdRecord& r) {
  const SocketRecord* s = r.As<SocketRecord>();
  const std::string local = DescribeSockaddr(&s->local, s->local_len);
  switch (s->state) {
    case kSocketListening: return "unix listener " + local + " (backlog " + std::to_string(s->backlog) + ")";
    case kSocketBound: return "unix bound " + local;
    case kSocketConnected:
      return std::string(s->accepted ? "unix accepted on " : "unix connected to ") +
             (s->accepted ? local : DescribeSockaddr(&s->peer, s->peer_len));
    default: return "unix socket (unbound)";
  }
}

}  // namespace

extern const KindOps kUnixSocketOps = {FdKind::kUnixSocket, 0, nullptr, Recreate, Describe};

}  // namespace respct::kernel
