// Socket calls the kernel-object layer records (runtime/core/fd_recording.h):
// making, binding and listening sockets, their options, socket pairs. accept
// and connect, which may block, are in blocking_calls.cc and record there.
// shutdown waits behind held output (runtime/core/output_calls.h).
//
// May run before init and in a signal handler (socket, bind, listen, accept,
// connect, socketpair, setsockopt are async-signal-safe): so is the recording.
#include <sys/socket.h>

#include "preload/export.h"
#include "preload/libc_next.h"
#include "runtime/core/fd_recording.h"
#include "runtime/core/output_calls.h"
#include "runtime/kernel/socket_pair.h"
#include "runtime/kernel/socket_record.h"

using respct::core::FdChanged;
using respct::core::FdCreated;
using respct::core::ProgramMayUse;
using respct::kernel::KernelObjects;
using respct::preload::Next;
namespace kernel = respct::kernel;

namespace {

Next<int (*)(int, int, int)> next_socket("socket");
Next<int (*)(int, int, int, int*)> next_socketpair("socketpair");
Next<int (*)(int, const sockaddr*, socklen_t)> next_bind("bind");
Next<int (*)(int, int)> next_listen("listen");
Next<int (*)(int, int, int, const void*, socklen_t)> next_setsockopt("setsockopt");
Next<int (*)(int, int)> next_shutdown("shutdown");

}  // namespace

RESPCT_EXPORT int socket(int domain, int type, int protocol) {
  const int fd = next_socket.get()(domain, type, protocol);
  return FdCreated(fd, [&](KernelObjects& k) { kernel::RecordSocket(&k.table(), fd, domain, type, protocol); });
}

RESPCT_EXPORT int socketpair(int domain, int type, int protocol, int fds[2]) {
  const int r = next_socketpair.get()(domain, type, protocol, fds);
  if (r != 0) return r;
  if (respct::core::CallerIsRuntime()) {
    fds[0] = respct::runtime_fds::Adopt(fds[0]);
    fds[1] = respct::runtime_fds::Adopt(fds[1]);
    return 0;
  }
  FdChanged([&](KernelObjects& k) { kernel::RecordSocketPair(&k.table(), fds, domain, type, protocol); });
  return 0;
}

RESPCT_EXPORT int bind(int fd, const sockaddr* addr, socklen_t len) {
  const int r = next_bind.get()(fd, addr, len);
  if (r == 0) FdChanged([&](KernelObjects& k) { kernel::RecordBind(&k.table(), fd, addr, len); });
  return r;
}

RESPCT_EXPORT int listen(int fd, int backlog) {
  const int r = next_listen.get()(fd, backlog);
  if (r == 0) FdChanged([&](KernelObjects& k) { kernel::RecordListen(&k.table(), fd, backlog); });
  return r;
}

RESPCT_EXPORT int setsockopt(int fd, int level, int name, const void* value, socklen_t len) {
  const int r = next_setsockopt.get()(fd, level, name, value, len);
  if (r == 0) FdChanged([&](KernelObjects& k) { kernel::RecordSetsockopt(&k.table(), fd, level, name, value, len); });
  return r;
}

RESPCT_EXPORT int shutdown(int fd, int how) {
  if (respct::core::ShutdownHeld(fd, how)) return 0;
  return next_shutdown.get()(fd, how);
}
