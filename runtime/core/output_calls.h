// How the preload layer's interposed output calls reach output commit
// (runtime/core/held_output.h), in one place so that preload/ stays a
// forwarding layer. A call on a descriptor that is held is taken by the hold
// as runtime code (no round can capture the thread meanwhile, so the epoch it
// reads is the one whose capture holds the state behind the bytes); a call
// that must wait for room waits on the park fiber, where rounds and commits go
// on. Everything else — output commit off, a runtime thread, a program signal
// handler, a thread respct does not manage, a descriptor not held — is the
// call itself: a blocking restart point, or for a regular file a plain call
// (fd_recording.h says why).
//
// Not async-signal-safe: in a program signal handler the call passes through.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "runtime/core/current_thread.h"
#include "runtime/core/fd_recording.h"
#include "runtime/core/restart_point.h"
#include "runtime/core/held_output.h"

namespace respct::core {

inline HeldOutput* HoldingThread() {
  HeldOutput* h = ActiveHeldOutput();
  if (h == nullptr || t_current.in_runtime != 0 || t_current.program_handler_depth != 0 || t_current.slot == nullptr)
    return nullptr;
  return h;
}

// write/writev/send/sendto/sendmsg: `call` is the real one.
template <typename Call>
inline ssize_t SendOrHold(int fd, const iovec* iov, int iovcnt, const sockaddr* to, socklen_t tolen, Call&& call) {
  if (HeldOutput* h = HoldingThread()) [[unlikely]] {
    for (;;) {
      ssize_t r;
      {
        RuntimeScope scope;
        if (!h->Holds(fd)) break;
        r = h->Hold(fd, iov, iovcnt, to, tolen);
      }
      if (r != HeldOutput::kMustWait) return r;
      RestartPoint::Blocking([&] {
        h->WaitForRoom(fd);
        return 0;
      });
    }
  }
  return BlockingUnlessRegularFile(fd, static_cast<Call&&>(call));
}

// Whether a call onto `fd` is to be held (sendfile, splice: they decide
// before reading their source).
inline bool HeldDestination(int fd) {
  HeldOutput* h = HoldingThread();
  if (h == nullptr) return false;
  RuntimeScope scope;
  return h->Holds(fd);
}

// sendfile or splice onto a held descriptor: the kernel would move the bytes
// itself, out of reach of the hold, so they are read from the source here
// (`read_source(buf, n)`, through the interposed read or pread: reading a
// pipe stays a restart point) and held as a write of them. At most 1 MiB per
// call, as the kernel's calls may also move less than asked.
template <typename Read>
inline ssize_t CopyAndHold(int out_fd, size_t count, Read&& read_source) {
  constexpr size_t kChunk = size_t{1} << 20;
  const size_t n = count < kChunk ? count : kChunk;
  char* buf;
  {
    RuntimeScope scope;  // the runtime's memory, not the persisted heap
    buf = static_cast<char*>(std::malloc(n == 0 ? 1 : n));
  }
  if (buf == nullptr) {
    errno = ENOMEM;
    return -1;
  }
  ssize_t r = read_source(buf, n);
  if (r > 0) {
    const iovec v{buf, static_cast<size_t>(r)};
    const ssize_t held = SendOrHold(out_fd, &v, 1, nullptr, 0, [&] { return ::write(out_fd, buf, v.iov_len); });
    if (held < 0) r = held;
  }
  {
    RuntimeScope scope;
    std::free(buf);
  }
  return r;
}

// A call on `fd` that cannot be held (sendmsg carrying descriptors) first
// lets what is held go, to keep the order.
inline void DrainBeforeUnheldCall(int fd) {
  HeldOutput* h = HoldingThread();
  if (h == nullptr || !h->Pending(fd)) return;
  RestartPoint::Blocking([&] {
    h->WaitForEmpty(fd);
    return 0;
  });
}

// close(fd), or dup2/dup3 onto it, with bytes held: they still go out, in
// order, and the descriptor is closed after them (a duplicate of the
// runtime's keeps it meanwhile). The caller then closes `fd` as usual.
inline void CloseHeld(int fd) {
  HeldOutput* h = ActiveHeldOutput();
  if (h == nullptr || t_current.in_runtime != 0 || !h->Pending(fd)) return;
  RuntimeScope scope;
  (void)h->HoldClose(fd);
}

// shutdown(fd, how) with bytes held: queued behind them. True: done (returns 0).
inline bool ShutdownHeld(int fd, int how) {
  HeldOutput* h = ActiveHeldOutput();
  if (h == nullptr || t_current.in_runtime != 0 || !h->Pending(fd)) return false;
  RuntimeScope scope;
  return h->HoldShutdown(fd, how);
}

// Before an exec: the new program runs without respct and nothing would ever
// send what this one holds, so everything goes now (committed or not: the
// image ends here anyway), and output commit is off from here on, exec
// failing or not.
inline void ReleaseHeldOutputBeforeExec() {
  HeldOutput* h = ActiveHeldOutput();
  if (h == nullptr || t_current.in_runtime != 0 || t_current.program_handler_depth != 0) return;
  RuntimeScope scope;
  SetActiveHeldOutput(nullptr);
  h->ReleaseEverything();
  h->Stop(2000);
}

}  // namespace respct::core
