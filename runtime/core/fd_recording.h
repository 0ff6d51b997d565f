// How the preload layer's interposed descriptor calls reach the kernel-object
// layer (runtime/kernel/kernel_objects.h), in one place so that preload/
// stays a forwarding layer:
//
//   - a descriptor the runtime itself creates (the caller is runtime code: a
//     runtime thread, or a RuntimeScope on an application thread) is moved
//     into the runtime's reserved range (runtime_fds.h) and never recorded;
//   - one the program creates is recorded, inside a RuntimeScope (the
//     recording's own calls to fcntl, fstat, getsockname go straight to libc);
//   - before the runtime is up, in a forked child and with respct disabled,
//     nothing is recorded.
//
// Async-signal-safe: the recording of every call that is (open, close, dup,
// pipe, socket, accept) only stores into the mapped kernel region.
#pragma once

#include <sys/stat.h>

#include "runtime/base/runtime_fds.h"
#include "runtime/core/current_thread.h"
#include "runtime/core/restart_point.h"
#include "runtime/kernel/kernel_objects.h"
#include "runtime/kernel/regular_file.h"

namespace respct::core {

inline bool CallerIsRuntime() { return t_current.in_runtime != 0; }

// A program signal handler is running on this thread (what it records must
// not touch the heap).
inline bool InProgramSignalHandler() { return t_current.program_handler_depth != 0; }

// After a call that made descriptor `fd` (< 0: it failed): the runtime's
// own is moved and returned moved; the program's is recorded by
// `record(KernelObjects&)`.
template <typename Record>
inline int FdCreated(int fd, Record&& record) {
  if (fd < 0) return fd;
  if (CallerIsRuntime()) return runtime_fds::Adopt(fd);
  if (kernel::KernelObjects* k = kernel::ActiveKernel()) {
    RuntimeScope scope;
    record(*k);
  }
  return fd;
}

// After a libc call that made a descriptor it keeps inside a structure
// (fopen's FILE, opendir's DIR): the runtime's own cannot be moved — libc
// would lose it — and is short-lived; the program's is recorded.
template <typename Record>
inline void FdCreatedInLibc(int fd, Record&& record) {
  if (fd < 0 || CallerIsRuntime()) return;
  if (kernel::KernelObjects* k = kernel::ActiveKernel()) {
    RuntimeScope scope;
    record(*k);
  }
}

// After a call that changed what the program holds, without making a
// descriptor (bind, listen, epoll_ctl, setsockopt, fcntl F_SETFL, ...).
template <typename Record>
inline void FdChanged(Record&& record) {
  if (CallerIsRuntime()) return;
  if (kernel::KernelObjects* k = kernel::ActiveKernel()) {
    RuntimeScope scope;
    record(*k);
  }
}

// Whether the program may act on `fd`: the runtime's descriptors are not
// the program's to close, dup over or use.
inline bool ProgramMayUse(int fd) { return CallerIsRuntime() || !runtime_fds::Owned(fd); }

// Whether `fd` is a regular file the program opened (its record says so).
inline bool RegularFileFd(int fd) {
  kernel::KernelObjects* k = kernel::ActiveKernel();
  if (k == nullptr) return false;
  const kernel::FdRecord* r = k->table().at(fd);
  return r != nullptr && r->kind == kernel::FdKind::kFile &&
         r->As<kernel::FileRecord>()->file_type == S_IFREG;
}

// Reads and writes of a regular file are not restart points: they never wait
// indefinitely, and run on the park fiber while a capture is under way one
// could complete between the capture's look at the file (size, offset) and
// the image's "blocked in this call, issue it again": a recovery would then
// append the same bytes twice, or read past data the offset says was read.
// Run where the thread stands, a capture waits for the call to return.
// Every other descriptor's call is a blocking restart point.
template <typename Call>
inline auto BlockingUnlessRegularFile(int fd, Call&& call) -> decltype(call()) {
  if (RegularFileFd(fd)) return call();
  return RestartPoint::Blocking(static_cast<Call&&>(call));
}

}  // namespace respct::core
