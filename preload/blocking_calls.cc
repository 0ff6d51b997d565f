// System calls that may block, interposed as restart points
// (RestartPoint::Blocking: the call runs on the park fiber, so the thread is
// quiescent while it blocks, at any lock depth; resumed by a recovery, the
// call is issued again). Each one forwards to libc's own function; calls
// through which the kernel writes into application memory first tell the
// dirty tracker (KernelWrites), since a write-protected page would otherwise
// fail the call with EFAULT under the mprotect tracker. Reads and writes of
// regular files are plain calls instead (BlockingUnlessRegularFile), and
// writes towards other processes may be held (output_calls.h).
//
// May run in a signal handler (read and write are async-signal-safe) and
// before init: RestartPoint::Blocking calls straight through for a thread the
// runtime does not manage, on the fiber, in runtime code, and in a handler
// that interrupted code where the thread may not park.
#include <poll.h>
#include <semaphore.h>
#include <sys/epoll.h>
#include <fcntl.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "preload/export.h"
#include "preload/libc_next.h"
#include "runtime/core/fd_recording.h"
#include "runtime/core/output_calls.h"
#include "runtime/core/program_signals.h"
#include "runtime/core/restart_point.h"
#include "runtime/kernel/socket_record.h"
#include "runtime/sync/semaphore.h"

using respct::preload::Next;

namespace {

template <typename Call>
inline auto Blocking(Call&& call) {
  return respct::core::RestartPoint::Blocking(static_cast<Call&&>(call));
}

// A call a signal handler interrupts, reporting it the libc way.
template <typename Call>
inline auto Interruptible(Call&& call) {
  return respct::core::RestartPoint::InterruptibleBlocking(static_cast<Call&&>(call), [] {
    errno = EINTR;
    return decltype(call())(-1);
  });
}

using respct::core::BlockingUnlessRegularFile;
using respct::core::DrainBeforeUnheldCall;
using respct::core::SendOrHold;

inline void KernelWrites(void* addr, size_t len) { respct::core::RestartPoint::KernelWrites(addr, len); }

// A mask a call installs while it waits, without the runtime's stop signal.
const sigset_t* ProgramMask(const sigset_t* mask, sigset_t* copy) {
  if (mask == nullptr) return mask;
  *copy = *mask;
  respct::core::StripRuntimeSignals(copy);
  return copy;
}

void KernelWritesIov(const iovec* iov, int n) {
  for (int i = 0; i < n; ++i) KernelWrites(iov[i].iov_base, iov[i].iov_len);
}

template <typename T>
void KernelWritesObject(T* p) {
  if (p != nullptr) KernelWrites(p, sizeof(T));
}

void KernelWritesAddr(sockaddr* addr, socklen_t* alen) {
  if (alen == nullptr) return;
  KernelWritesObject(alen);
  if (addr != nullptr) KernelWrites(addr, *alen);
}

void KernelWritesFdSets(fd_set* r, fd_set* w, fd_set* e) {
  KernelWritesObject(r);
  KernelWritesObject(w);
  KernelWritesObject(e);
}

Next<ssize_t (*)(int, void*, size_t)> next_read("read");
Next<ssize_t (*)(int, const void*, size_t)> next_write("write");
Next<ssize_t (*)(int, void*, size_t, off_t)> next_pread("pread");
Next<ssize_t (*)(int, const void*, size_t, off_t)> next_pwrite("pwrite");
Next<ssize_t (*)(int, const iovec*, int)> next_readv("readv");
Next<ssize_t (*)(int, const iovec*, int)> next_writev("writev");
Next<ssize_t (*)(int, void*, size_t, int)> next_recv("recv");
Next<ssize_t (*)(int, void*, size_t, int, sockaddr*, socklen_t*)> next_recvfrom("recvfrom");
Next<ssize_t (*)(int, msghdr*, int)> next_recvmsg("recvmsg");
Next<ssize_t (*)(int, const void*, size_t, int)> next_send("send");
Next<ssize_t (*)(int, const void*, size_t, int, const sockaddr*, socklen_t)> next_sendto("sendto");
Next<ssize_t (*)(int, const msghdr*, int)> next_sendmsg("sendmsg");
Next<int (*)(int, sockaddr*, socklen_t*)> next_accept("accept");
Next<int (*)(int, sockaddr*, socklen_t*, int)> next_accept4("accept4");
Next<int (*)(int, const sockaddr*, socklen_t)> next_connect("connect");
Next<int (*)(pollfd*, nfds_t, int)> next_poll("poll");
Next<int (*)(pollfd*, nfds_t, const timespec*, const sigset_t*)> next_ppoll("ppoll");
Next<int (*)(int, fd_set*, fd_set*, fd_set*, timeval*)> next_select("select");
Next<int (*)(int, fd_set*, fd_set*, fd_set*, const timespec*, const sigset_t*)> next_pselect("pselect");
Next<int (*)(int, epoll_event*, int, int)> next_epoll_wait("epoll_wait");
Next<int (*)(int, epoll_event*, int, int, const sigset_t*)> next_epoll_pwait("epoll_pwait");
Next<int (*)(int, epoll_event*, int, const timespec*, const sigset_t*)> next_epoll_pwait2("epoll_pwait2");
Next<int (*)(const timespec*, timespec*)> next_nanosleep("nanosleep");
Next<pid_t (*)(pid_t, int*, int, struct rusage*)> next_wait4("wait4");
Next<int (*)(idtype_t, id_t, siginfo_t*, int)> next_waitid("waitid");
Next<int (*)(int, mmsghdr*, unsigned, int, timespec*)> next_recvmmsg("recvmmsg");
Next<int (*)(int, mmsghdr*, unsigned, int)> next_sendmmsg("sendmmsg");
Next<ssize_t (*)(int, int, off_t*, size_t)> next_sendfile("sendfile");
Next<ssize_t (*)(int, loff_t*, int, loff_t*, size_t, unsigned)> next_splice("splice");
Next<int (*)(int, int)> next_flock("flock");
Next<int (*)(clockid_t, int, const timespec*, timespec*)> next_clock_nanosleep("clock_nanosleep");
Next<unsigned (*)(unsigned)> next_sleep("sleep");
Next<int (*)(useconds_t)> next_usleep("usleep");
Next<pid_t (*)(pid_t, int*, int)> next_waitpid("waitpid");
Next<pid_t (*)(int*)> next_wait("wait");

}  // namespace

RESPCT_EXPORT ssize_t read(int fd, void* buf, size_t n) {
  KernelWrites(buf, n);
  return BlockingUnlessRegularFile(fd, [&] { return next_read.get()(fd, buf, n); });
}
RESPCT_EXPORT ssize_t write(int fd, const void* buf, size_t n) {
  const iovec v{const_cast<void*>(buf), n};
  return SendOrHold(fd, &v, 1, nullptr, 0, [&] { return next_write.get()(fd, buf, n); });
}
RESPCT_EXPORT ssize_t pread(int fd, void* buf, size_t n, off_t off) {
  KernelWrites(buf, n);
  return BlockingUnlessRegularFile(fd, [&] { return next_pread.get()(fd, buf, n, off); });
}
RESPCT_EXPORT ssize_t pread64(int fd, void* buf, size_t n, off_t off) { return pread(fd, buf, n, off); }
RESPCT_EXPORT ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  return BlockingUnlessRegularFile(fd, [&] { return next_pwrite.get()(fd, buf, n, off); });
}
RESPCT_EXPORT ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) { return pwrite(fd, buf, n, off); }
RESPCT_EXPORT ssize_t readv(int fd, const iovec* iov, int n) {
  KernelWritesIov(iov, n);
  return BlockingUnlessRegularFile(fd, [&] { return next_readv.get()(fd, iov, n); });
}
RESPCT_EXPORT ssize_t writev(int fd, const iovec* iov, int n) {
  return SendOrHold(fd, iov, n, nullptr, 0, [&] { return next_writev.get()(fd, iov, n); });
}
RESPCT_EXPORT ssize_t recv(int fd, void* buf, size_t n, int flags) {
  KernelWrites(buf, n);
  return Blocking([&] { return next_recv.get()(fd, buf, n, flags); });
}
RESPCT_EXPORT ssize_t recvfrom(int fd, void* buf, size_t n, int flags, sockaddr* addr, socklen_t* alen) {
  KernelWrites(buf, n);
  KernelWritesAddr(addr, alen);
  return Blocking([&] { return next_recvfrom.get()(fd, buf, n, flags, addr, alen); });
}
RESPCT_EXPORT ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  KernelWritesIov(msg->msg_iov, static_cast<int>(msg->msg_iovlen));
  return Blocking([&] { return next_recvmsg.get()(fd, msg, flags); });
}
RESPCT_EXPORT ssize_t send(int fd, const void* buf, size_t n, int flags) {
  const iovec v{const_cast<void*>(buf), n};
  return SendOrHold(fd, &v, 1, nullptr, 0, [&] { return next_send.get()(fd, buf, n, flags); });
}
RESPCT_EXPORT ssize_t sendto(int fd, const void* buf, size_t n, int flags, const sockaddr* addr, socklen_t alen) {
  const iovec v{const_cast<void*>(buf), n};
  return SendOrHold(fd, &v, 1, addr, alen, [&] { return next_sendto.get()(fd, buf, n, flags, addr, alen); });
}
RESPCT_EXPORT ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  // Descriptors and other ancillary data cannot wait for a commit (they are
  // valid now): what is held goes first, then the message, unheld.
  if (msg->msg_controllen != 0) {
    DrainBeforeUnheldCall(fd);
    return Blocking([&] { return next_sendmsg.get()(fd, msg, flags); });
  }
  return SendOrHold(fd, msg->msg_iov, static_cast<int>(msg->msg_iovlen), static_cast<const sockaddr*>(msg->msg_name),
                    msg->msg_namelen, [&] { return next_sendmsg.get()(fd, msg, flags); });
}
RESPCT_EXPORT int accept(int fd, sockaddr* addr, socklen_t* alen) {
  KernelWritesAddr(addr, alen);
  const int r = Blocking([&] { return next_accept.get()(fd, addr, alen); });
  return respct::core::FdCreated(
      r, [&](respct::kernel::KernelObjects& k) { respct::kernel::RecordAccept(&k.table(), fd, r, 0); });
}
RESPCT_EXPORT int accept4(int fd, sockaddr* addr, socklen_t* alen, int flags) {
  KernelWritesAddr(addr, alen);
  const int r = Blocking([&] { return next_accept4.get()(fd, addr, alen, flags); });
  return respct::core::FdCreated(
      r, [&](respct::kernel::KernelObjects& k) { respct::kernel::RecordAccept(&k.table(), fd, r, flags); });
}
RESPCT_EXPORT int connect(int fd, const sockaddr* addr, socklen_t alen) {
  const int r = Blocking([&] { return next_connect.get()(fd, addr, alen); });
  // A non-blocking connect in progress is connected as far as a recovery
  // can tell: its peer is gone either way.
  if (r == 0 || errno == EINPROGRESS)
    respct::core::FdChanged(
        [&](respct::kernel::KernelObjects& k) { respct::kernel::RecordConnect(&k.table(), fd, addr, alen); });
  return r;
}
RESPCT_EXPORT int poll(pollfd* fds, nfds_t n, int timeout) {
  KernelWrites(fds, sizeof(pollfd) * n);
  return Interruptible([&] { return next_poll.get()(fds, n, timeout); });
}
RESPCT_EXPORT int ppoll(pollfd* fds, nfds_t n, const timespec* timeout, const sigset_t* mask) {
  KernelWrites(fds, sizeof(pollfd) * n);
  sigset_t copy;
  const sigset_t* m = ProgramMask(mask, &copy);
  return Interruptible([&] { return next_ppoll.get()(fds, n, timeout, m); });
}
RESPCT_EXPORT int select(int n, fd_set* r, fd_set* w, fd_set* e, timeval* timeout) {
  KernelWritesFdSets(r, w, e);
  KernelWritesObject(timeout);
  return Interruptible([&] { return next_select.get()(n, r, w, e, timeout); });
}
RESPCT_EXPORT int pselect(int n, fd_set* r, fd_set* w, fd_set* e, const timespec* timeout, const sigset_t* mask) {
  KernelWritesFdSets(r, w, e);
  sigset_t copy;
  const sigset_t* m = ProgramMask(mask, &copy);
  return Interruptible([&] { return next_pselect.get()(n, r, w, e, timeout, m); });
}
RESPCT_EXPORT int epoll_wait(int fd, epoll_event* ev, int max, int timeout) {
  KernelWrites(ev, sizeof(epoll_event) * static_cast<size_t>(max > 0 ? max : 0));
  return Interruptible([&] { return next_epoll_wait.get()(fd, ev, max, timeout); });
}
RESPCT_EXPORT int epoll_pwait(int fd, epoll_event* ev, int max, int timeout, const sigset_t* mask) {
  KernelWrites(ev, sizeof(epoll_event) * static_cast<size_t>(max > 0 ? max : 0));
  sigset_t copy;
  const sigset_t* m = ProgramMask(mask, &copy);
  return Interruptible([&] { return next_epoll_pwait.get()(fd, ev, max, timeout, m); });
}
RESPCT_EXPORT int epoll_pwait2(int fd, epoll_event* ev, int max, const timespec* timeout, const sigset_t* mask) {
  KernelWrites(ev, sizeof(epoll_event) * static_cast<size_t>(max > 0 ? max : 0));
  sigset_t copy;
  const sigset_t* m = ProgramMask(mask, &copy);
  return Interruptible([&] { return next_epoll_pwait2.get()(fd, ev, max, timeout, m); });
}
RESPCT_EXPORT int nanosleep(const timespec* req, timespec* rem) {
  KernelWritesObject(rem);
  return respct::core::RestartPoint::InterruptibleBlocking([&] { return next_nanosleep.get()(req, rem); }, [&] {
    if (rem != nullptr) *rem = *req;
    errno = EINTR;
    return -1;
  });
}
RESPCT_EXPORT int clock_nanosleep(clockid_t clock, int flags, const timespec* req, timespec* rem) {
  KernelWritesObject(rem);
  return respct::core::RestartPoint::InterruptibleBlocking(
      [&] { return next_clock_nanosleep.get()(clock, flags, req, rem); }, [&] {
        if (rem != nullptr && (flags & TIMER_ABSTIME) == 0) *rem = *req;
        return EINTR;  // clock_nanosleep reports its error as the result
      });
}
RESPCT_EXPORT unsigned sleep(unsigned seconds) {
  return respct::core::RestartPoint::InterruptibleBlocking([&] { return next_sleep.get()(seconds); },
                                                           [&] { return seconds; });
}
RESPCT_EXPORT int usleep(useconds_t usec) {
  return Interruptible([&] { return next_usleep.get()(usec); });
}
// Semaphores take their unit on the thread's stack, not on the fiber
// (runtime/sync/semaphore.h says why).
RESPCT_EXPORT int sem_wait(sem_t* sem) { return respct::sync::SemWait(sem); }
RESPCT_EXPORT int sem_timedwait(sem_t* sem, const timespec* abstime) {
  return respct::sync::SemClockWait(sem, CLOCK_REALTIME, abstime);
}
RESPCT_EXPORT int sem_clockwait(sem_t* sem, clockid_t clock, const timespec* abstime) {
  return respct::sync::SemClockWait(sem, clock, abstime);
}
RESPCT_EXPORT pid_t waitpid(pid_t pid, int* status, int options) {
  KernelWritesObject(status);
  return Blocking([&] { return next_waitpid.get()(pid, status, options); });
}
RESPCT_EXPORT pid_t wait(int* status) {
  KernelWritesObject(status);
  return Blocking([&] { return next_wait.get()(status); });
}
RESPCT_EXPORT pid_t wait4(pid_t pid, int* status, int options, struct rusage* usage) {
  KernelWritesObject(status);
  KernelWritesObject(usage);
  return Blocking([&] { return next_wait4.get()(pid, status, options, usage); });
}
RESPCT_EXPORT pid_t wait3(int* status, int options, struct rusage* usage) { return wait4(-1, status, options, usage); }
RESPCT_EXPORT int waitid(idtype_t type, id_t id, siginfo_t* info, int options) {
  KernelWritesObject(info);
  return Blocking([&] { return next_waitid.get()(type, id, info, options); });
}
RESPCT_EXPORT int recvmmsg(int fd, mmsghdr* msgs, unsigned n, int flags, timespec* timeout) {
  for (unsigned i = 0; i < n; ++i) {
    KernelWritesIov(msgs[i].msg_hdr.msg_iov, static_cast<int>(msgs[i].msg_hdr.msg_iovlen));
    KernelWritesObject(&msgs[i].msg_len);
  }
  return Blocking([&] { return next_recvmmsg.get()(fd, msgs, n, flags, timeout); });
}
RESPCT_EXPORT int sendmmsg(int fd, mmsghdr* msgs, unsigned n, int flags) {
  for (unsigned i = 0; i < n; ++i) KernelWritesObject(&msgs[i].msg_len);
  if (respct::core::HoldingThread() == nullptr) return Blocking([&] { return next_sendmmsg.get()(fd, msgs, n, flags); });
  // Held or not, message by message, as sendmsg takes each.
  unsigned sent = 0;
  for (; sent < n; ++sent) {
    const ssize_t r = sendmsg(fd, &msgs[sent].msg_hdr, flags);
    if (r < 0) return sent == 0 ? -1 : static_cast<int>(sent);
    msgs[sent].msg_len = static_cast<unsigned>(r);
  }
  return static_cast<int>(sent);
}
RESPCT_EXPORT int flock(int fd, int op) {
  return Blocking([&] { return next_flock.get()(fd, op); });
}

// sendfile's and splice's source, read as the kernel would: at *offset
// (advanced) when given, else at the descriptor's own offset.
static ssize_t ReadSource(int fd, off_t* offset, char* buf, size_t n) {
  if (offset == nullptr) return read(fd, buf, n);
  const ssize_t r = pread(fd, buf, n, *offset);
  if (r > 0) *offset += r;
  return r;
}

// Onto a held descriptor the bytes are read and held as a write
// (CopyAndHold); elsewhere the kernel moves them.
RESPCT_EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t* offset, size_t count) {
  if (offset != nullptr) KernelWritesObject(offset);
  if (respct::core::HeldDestination(out_fd))
    return respct::core::CopyAndHold(out_fd, count,
                                     [&](char* buf, size_t n) { return ReadSource(in_fd, offset, buf, n); });
  return Blocking([&] { return next_sendfile.get()(out_fd, in_fd, offset, count); });
}
RESPCT_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off_t* offset, size_t count) {
  return sendfile(out_fd, in_fd, offset, count);
}
RESPCT_EXPORT ssize_t splice(int fd_in, loff_t* off_in, int fd_out, loff_t* off_out, size_t len, unsigned flags) {
  if (off_in != nullptr) KernelWritesObject(off_in);
  if (off_out != nullptr) KernelWritesObject(off_out);
  if (off_out == nullptr && respct::core::HeldDestination(fd_out))
    return respct::core::CopyAndHold(fd_out, len,
                                     [&](char* buf, size_t n) { return ReadSource(fd_in, off_in, buf, n); });
  return Blocking([&] { return next_splice.get()(fd_in, off_in, fd_out, off_out, len, flags); });
}
