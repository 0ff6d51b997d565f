// Descriptor calls the kernel-object layer records (runtime/core/
// fd_recording.h says how): opening and closing files, duplicating and
// changing descriptors, pipes, eventfd, timerfd, signalfd, epoll, memfd, and
// the libc functions that open or close descriptors inside libc (fopen,
// fclose, opendir, closedir), whose inner calls no interposition sees.
// Sockets are in socket_calls.cc.
//
// May run before init and in a signal handler (open, close, dup, pipe are
// async-signal-safe): the recording is too. fopen/fclose/opendir/closedir
// and epoll_ctl are not async-signal-safe, as in libc.
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>

#include "preload/export.h"
#include "preload/libc_next.h"
#include "runtime/core/fd_recording.h"
#include "runtime/core/output_calls.h"
#include "runtime/core/restart_point.h"
#include "runtime/kernel/epoll.h"
#include "runtime/kernel/eventfd.h"
#include "runtime/kernel/memfd.h"
#include "runtime/kernel/pipe.h"
#include "runtime/kernel/regular_file.h"
#include "runtime/kernel/signalfd.h"
#include "runtime/kernel/timerfd.h"

using respct::core::FdChanged;
using respct::core::FdCreated;
using respct::core::InProgramSignalHandler;
using respct::core::ProgramMayUse;
using respct::kernel::KernelObjects;
using respct::preload::Next;
namespace kernel = respct::kernel;

namespace {

Next<int (*)(const char*, int, ...)> next_open("open");
Next<int (*)(int, const char*, int, ...)> next_openat("openat");
Next<int (*)(int)> next_close("close");
Next<int (*)(unsigned, unsigned, int)> next_close_range("close_range");
Next<int (*)(int)> next_dup("dup");
Next<int (*)(int, int)> next_dup2("dup2");
Next<int (*)(int, int, int)> next_dup3("dup3");
Next<int (*)(int, int, ...)> next_fcntl("fcntl");
Next<int (*)(int, unsigned long, ...)> next_ioctl("ioctl");
Next<int (*)(int*, int)> next_pipe2("pipe2");
Next<int (*)(unsigned, int)> next_eventfd("eventfd");
Next<int (*)(int, int)> next_timerfd_create("timerfd_create");
Next<int (*)(int, const sigset_t*, int)> next_signalfd("signalfd");
Next<int (*)(int)> next_epoll_create("epoll_create");
Next<int (*)(int)> next_epoll_create1("epoll_create1");
Next<int (*)(int, int, int, epoll_event*)> next_epoll_ctl("epoll_ctl");
Next<int (*)(const char*, unsigned)> next_memfd_create("memfd_create");
Next<FILE* (*)(const char*, const char*)> next_fopen("fopen");
Next<FILE* (*)(const char*, const char*, FILE*)> next_freopen("freopen");
Next<int (*)(FILE*)> next_fclose("fclose");
Next<DIR* (*)(const char*)> next_opendir("opendir");
Next<int (*)(DIR*)> next_closedir("closedir");

bool TakesMode(int flags) { return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE; }

int Opened(int fd, int dirfd, const char* path, int flags) {
  return FdCreated(fd, [&](KernelObjects& k) { kernel::RecordFileOpen(&k.table(), fd, dirfd, path, flags); });
}

// fopen's mode string as open(2) flags.
int ModeFlags(const char* mode) {
  int flags = 0;
  switch (mode[0]) {
    case 'r': flags = O_RDONLY; break;
    case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; break;
    case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; break;
  }
  for (const char* m = mode + 1; *m != '\0' && *m != ','; ++m) {
    if (*m == '+') flags = (flags & ~O_ACCMODE) | O_RDWR;
    if (*m == 'e') flags |= O_CLOEXEC;
  }
  return flags;
}

void OpenedInLibc(int fd, const char* path, int flags) {
  respct::core::FdCreatedInLibc(fd, [&](KernelObjects& k) { kernel::RecordFileOpen(&k.table(), fd, AT_FDCWD, path, flags); });
}

FILE* FileOpened(FILE* f, const char* path, const char* mode) {
  if (f != nullptr) OpenedInLibc(fileno(f), path, ModeFlags(mode));
  return f;
}

void Closing(int fd) {
  respct::core::CloseHeld(fd);  // output commit: held bytes still go out, then the close
  FdChanged([&](KernelObjects& k) { k.RecordClose(fd, InProgramSignalHandler()); });
}

int NotTheProgramsFd() {
  errno = EBADF;
  return -1;
}

}  // namespace

// ---- open ----

RESPCT_EXPORT int open(const char* path, int flags, ...) {
  mode_t mode = 0;
  if (TakesMode(flags)) {
    va_list ap;
    va_start(ap, flags);
    mode = static_cast<mode_t>(va_arg(ap, int));
    va_end(ap);
  }
  return Opened(next_open.get()(path, flags, mode), AT_FDCWD, path, flags);
}
// On LP64 glibc the *64 entry points are the same calls (O_LARGEFILE is implied).
RESPCT_EXPORT int open64(const char* path, int flags, ...) __attribute__((alias("open")));
RESPCT_EXPORT int __open_2(const char* path, int flags) { return open(path, flags); }
RESPCT_EXPORT int __open64_2(const char* path, int flags) { return open(path, flags); }
RESPCT_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
  mode_t mode = 0;
  if (TakesMode(flags)) {
    va_list ap;
    va_start(ap, flags);
    mode = static_cast<mode_t>(va_arg(ap, int));
    va_end(ap);
  }
  return Opened(next_openat.get()(dirfd, path, flags, mode), dirfd, path, flags);
}
RESPCT_EXPORT int openat64(int dirfd, const char* path, int flags, ...) __attribute__((alias("openat")));
RESPCT_EXPORT int __openat_2(int dirfd, const char* path, int flags) { return openat(dirfd, path, flags); }
RESPCT_EXPORT int __openat64_2(int dirfd, const char* path, int flags) { return openat(dirfd, path, flags); }
RESPCT_EXPORT int creat(const char* path, mode_t mode) { return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode); }
RESPCT_EXPORT int creat64(const char* path, mode_t mode) { return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode); }

RESPCT_EXPORT FILE* fopen(const char* path, const char* mode) { return FileOpened(next_fopen.get()(path, mode), path, mode); }
RESPCT_EXPORT FILE* fopen64(const char* path, const char* mode) { return fopen(path, mode); }
RESPCT_EXPORT FILE* freopen(const char* path, const char* mode, FILE* f) {
  if (f != nullptr) Closing(fileno(f));
  return FileOpened(next_freopen.get()(path, mode, f), path, mode);
}
RESPCT_EXPORT FILE* freopen64(const char* path, const char* mode, FILE* f) { return freopen(path, mode, f); }
RESPCT_EXPORT int fclose(FILE* f) {
  if (f != nullptr) Closing(fileno(f));
  return next_fclose.get()(f);
}
RESPCT_EXPORT DIR* opendir(const char* path) {
  DIR* d = next_opendir.get()(path);
  if (d != nullptr) OpenedInLibc(dirfd(d), path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return d;
}
RESPCT_EXPORT int closedir(DIR* d) {
  Closing(dirfd(d));
  return next_closedir.get()(d);
}

// ---- close, dup ----

RESPCT_EXPORT int close(int fd) {
  if (respct::core::CallerIsRuntime()) {
    respct::runtime_fds::Forget(fd);
    return next_close.get()(fd);
  }
  if (!ProgramMayUse(fd)) return NotTheProgramsFd();
  Closing(fd);
  return next_close.get()(fd);
}

RESPCT_EXPORT int close_range(unsigned first, unsigned last, int flags) {
  if (respct::core::CallerIsRuntime()) return next_close_range.get()(first, last, flags);
  // The range is closed around the runtime's descriptors, which stay open.
  const bool closes = (flags & CLOSE_RANGE_CLOEXEC) == 0;
  unsigned from = first;
  int rc = 0;
  auto close_up_to = [&](unsigned to) {  // [from, to]
    if (from > to) return;
    if (closes) {
      const unsigned recorded_top = static_cast<unsigned>(respct::kernel::kMaxFds) - 1;
      for (unsigned fd = from; fd <= to && fd <= recorded_top; ++fd) Closing(static_cast<int>(fd));
    }
    if (next_close_range.get()(from, to, flags) != 0) rc = -1;
  };
  respct::runtime_fds::ForEachOwned(first, last, [&](int owned) {
    if (owned > 0) close_up_to(static_cast<unsigned>(owned) - 1);
    from = static_cast<unsigned>(owned) + 1;
  });
  close_up_to(last);
  return rc;
}

RESPCT_EXPORT int dup(int fd) {
  if (!ProgramMayUse(fd)) return NotTheProgramsFd();
  const int r = next_dup.get()(fd);
  return FdCreated(r, [&](KernelObjects& k) { k.RecordDup(fd, r, 0, InProgramSignalHandler()); });
}

RESPCT_EXPORT int dup2(int fd, int to) {
  if (!ProgramMayUse(fd)) return NotTheProgramsFd();
  if (!ProgramMayUse(to)) {
    errno = EBUSY;
    return -1;
  }
  if (fd != to) respct::core::CloseHeld(to);
  const int r = next_dup2.get()(fd, to);
  if (r >= 0) FdChanged([&](KernelObjects& k) { k.RecordDup(fd, r, 0, InProgramSignalHandler()); });
  return r;
}

RESPCT_EXPORT int dup3(int fd, int to, int flags) {
  if (!ProgramMayUse(fd)) return NotTheProgramsFd();
  if (!ProgramMayUse(to)) {
    errno = EBUSY;
    return -1;
  }
  respct::core::CloseHeld(to);
  const int r = next_dup3.get()(fd, to, flags);
  if (r >= 0)
    FdChanged([&](KernelObjects& k) {
      k.RecordDup(fd, r, (flags & O_CLOEXEC) != 0 ? FD_CLOEXEC : 0, InProgramSignalHandler());
    });
  return r;
}

// ---- fcntl, ioctl ----

RESPCT_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  const unsigned long arg = va_arg(ap, unsigned long);
  va_end(ap);
  if (!ProgramMayUse(fd)) return NotTheProgramsFd();
  if (cmd == F_SETLKW || cmd == F_OFD_SETLKW)  // waits for a lock: a blocking call
    return respct::core::RestartPoint::Blocking([&] { return next_fcntl.get()(fd, cmd, arg); });
  const int r = next_fcntl.get()(fd, cmd, arg);
  if (r < 0) return r;
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
      return FdCreated(r, [&](KernelObjects& k) {
        k.RecordDup(fd, r, cmd == F_DUPFD_CLOEXEC ? FD_CLOEXEC : 0, InProgramSignalHandler());
      });
    case F_SETFD:
      FdChanged([&](KernelObjects& k) {
        if (kernel::FdRecord* rec = k.table().at(fd)) rec->fd_flags = static_cast<uint32_t>(arg);
      });
      break;
    case F_SETFL:
      FdChanged([&](KernelObjects& k) {
        if (kernel::FdRecord* rec = k.table().at(fd)) {
          const uint32_t settable = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
          rec->status_flags = (rec->status_flags & ~settable) | (static_cast<uint32_t>(arg) & settable);
        }
      });
      break;
  }
  return r;
}
// On LP64 glibc fcntl64 is fcntl.
RESPCT_EXPORT int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));

RESPCT_EXPORT int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (!ProgramMayUse(fd)) return NotTheProgramsFd();
  const int r = next_ioctl.get()(fd, request, arg);
  if (r < 0) return r;
  if (request == FIONBIO || request == FIOCLEX || request == FIONCLEX)
    FdChanged([&](KernelObjects& k) {
      kernel::FdRecord* rec = k.table().at(fd);
      if (rec == nullptr) return;
      if (request == FIOCLEX) rec->fd_flags |= FD_CLOEXEC;
      if (request == FIONCLEX) rec->fd_flags &= ~static_cast<uint32_t>(FD_CLOEXEC);
      if (request == FIONBIO && arg != nullptr)
        rec->status_flags = *static_cast<int*>(arg) != 0 ? rec->status_flags | O_NONBLOCK
                                                         : rec->status_flags & ~static_cast<uint32_t>(O_NONBLOCK);
    });
  return r;
}

// ---- pipes and anonymous inodes ----

RESPCT_EXPORT int pipe2(int fds[2], int flags) {
  const int r = next_pipe2.get()(fds, flags);
  if (r != 0) return r;
  if (respct::core::CallerIsRuntime()) {
    fds[0] = respct::runtime_fds::Adopt(fds[0]);
    fds[1] = respct::runtime_fds::Adopt(fds[1]);
    return 0;
  }
  FdChanged([&](KernelObjects& k) { kernel::RecordPipe(&k.table(), fds, flags); });
  return 0;
}
RESPCT_EXPORT int pipe(int fds[2]) { return pipe2(fds, 0); }

RESPCT_EXPORT int eventfd(unsigned initval, int flags) {
  const int fd = next_eventfd.get()(initval, flags);
  return FdCreated(fd, [&](KernelObjects& k) { kernel::RecordEventFd(&k.table(), fd, initval, flags); });
}

RESPCT_EXPORT int timerfd_create(int clock, int flags) {
  const int fd = next_timerfd_create.get()(clock, flags);
  return FdCreated(fd, [&](KernelObjects& k) { kernel::RecordTimerFd(&k.table(), fd, clock, flags); });
}

RESPCT_EXPORT int signalfd(int fd, const sigset_t* mask, int flags) {
  // The runtime's stop signal is never the program's to read.
  sigset_t program = *mask;
  if (!respct::core::CallerIsRuntime()) sigdelset(&program, respct::core::RestartPoint::StopSignal());
  const int r = next_signalfd.get()(fd, &program, flags);
  if (r < 0) return r;
  if (fd >= 0) {
    FdChanged([&](KernelObjects& k) { kernel::RecordSignalFd(&k.table(), r, &program, flags, true); });
    return r;
  }
  return FdCreated(r, [&](KernelObjects& k) { kernel::RecordSignalFd(&k.table(), r, &program, flags, false); });
}

RESPCT_EXPORT int epoll_create1(int flags) {
  const int fd = next_epoll_create1.get()(flags);
  return FdCreated(fd, [&](KernelObjects& k) { kernel::RecordEpollCreate(&k.table(), fd, flags); });
}
RESPCT_EXPORT int epoll_create(int size) {
  const int fd = next_epoll_create.get()(size);
  return FdCreated(fd, [&](KernelObjects& k) { kernel::RecordEpollCreate(&k.table(), fd, 0); });
}
RESPCT_EXPORT int epoll_ctl(int epfd, int op, int fd, epoll_event* event) {
  if (!ProgramMayUse(epfd) || !ProgramMayUse(fd)) return NotTheProgramsFd();
  const int r = next_epoll_ctl.get()(epfd, op, fd, event);
  if (r == 0) FdChanged([&](KernelObjects& k) { kernel::RecordEpollCtl(&k.table(), k.heap(), epfd, op, fd, event); });
  return r;
}

RESPCT_EXPORT int memfd_create(const char* name, unsigned flags) {
  const int fd = next_memfd_create.get()(name, flags);
  return FdCreated(fd, [&](KernelObjects& k) { kernel::RecordMemFd(&k.table(), fd, name, flags); });
}
