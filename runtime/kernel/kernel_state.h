// The kernel region: what respct records of the kernel objects a program
// holds — its file descriptors, signal dispositions, interval timers, working
// directory, umask and resource limits — persisted like the program's memory
// so that an image says, at its epoch, which objects a recovery must create
// again and in what state (DESIGN §9, "kernel objects get a layer of their
// own").
//
// Who writes what:
//   - the interposed calls that create, change and close objects
//     (preload/*_calls.cc → Recorder) update the records as the program makes
//     them, so an epoch copies this region like any other: no /proc walk in the
//     pause;
//   - under the pause, KernelObjects::CaptureUnderPause writes what only the
//     kernel knows at that instant (a file's offset, the bytes buffered in an
//     internal pipe, an eventfd's counter, a timer's remaining time);
//   - between epochs the census reconciles the table with /proc/self/fd
//     (descriptors libc opened or closed on its own, such as fopen's).
//
// Layout (little-endian, at Layout::kernel_base(); every struct trivially
// copyable, no pointers except into the persisted heap):
//   KernelStateHeader   kKernelHeaderBytes: magic, version, process attributes,
//                       signal dispositions, interval timers, stdio streams
//   FdRecord            [kMaxFds] indexed by descriptor number, from
//                       kKernelHeaderBytes
//
// FdRecord: a common header and the body of its kind, one struct per kind in
// that kind's own file (regular_file.h, pipe.h, ...), as CRIU keeps one image
// schema per kind.
#pragma once

#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "runtime/kernel/stdio_streams.h"

namespace respct::kernel {

inline constexpr uint64_t kKernelMagic = 0x4c4e524b54435052;  // "RPCTKRNL"
inline constexpr uint32_t kKernelVersion = 1;
inline constexpr size_t kKernelHeaderBytes = 64 * 1024;
inline constexpr int kMaxFds = 65536;
inline constexpr size_t kFdRecordBytes = 1024;
inline constexpr size_t kFdBodyBytes = kFdRecordBytes - 40;
inline constexpr int kMaxSignals = 65;  // 1..64
inline constexpr size_t kMaxPathBytes = 900;  // longest path a record holds, NUL included
inline constexpr int kMaxEpollSets = 256;

enum class FdKind : uint32_t {
  kNone = 0,
  kInherited,     // open when the program started (stdin/out/err, a supervisor's socket)
  kFile,          // regular file, directory, character device, FIFO by path
  kPipe,          // one end of an anonymous pipe
  kSocketPair,    // one end of a socketpair / connected unix stream between own fds
  kUnixSocket,    // AF_UNIX socket: bound, listening, or connected outside
  kInetSocket,    // AF_INET/AF_INET6 TCP or UDP socket
  kEventFd,
  kTimerFd,
  kSignalFd,
  kEpoll,
  kMemFd,
  kUnsupported,   // something respct cannot recreate (inotify, io_uring, netlink, ...)
};
const char* FdKindName(FdKind kind);

// One descriptor. `seq` is odd while a writer fills the record (the census
// uses it to stay off a record an application thread is changing).
struct FdRecord {
  std::atomic<uint32_t> seq;
  FdKind kind;
  uint32_t fd_flags;      // FD_CLOEXEC
  uint32_t status_flags;  // F_GETFL: access mode, O_APPEND, O_NONBLOCK, ...
  uint64_t description;   // open file description: descriptors made by dup share it
  uint64_t object;        // kernel object: both ends of a pipe or socketpair share it
  uint64_t inode;         // st_ino when recorded (the census checks it)
  alignas(8) uint8_t body[kFdBodyBytes];

  template <typename T>
  T* As() {
    static_assert(sizeof(T) <= kFdBodyBytes);
    return reinterpret_cast<T*>(body);
  }
  template <typename T>
  const T* As() const {
    static_assert(sizeof(T) <= kFdBodyBytes);
    return reinterpret_cast<const T*>(body);
  }
};
static_assert(sizeof(FdRecord) == kFdRecordBytes);

struct SignalDisposition {
  uint64_t handler;       // the program's handler, or SIG_DFL / SIG_IGN
  uint64_t flags;         // sa_flags as the program gave them
  uint64_t mask[2];       // sa_mask, signals 1..128
  uint32_t recorded;      // 1: the program set this disposition
  uint32_t reserved;
};

struct TimerValue {
  int64_t value_ns;       // time to the next expiry, 0: disarmed
  int64_t interval_ns;
};

struct ProcessAttributes {
  char cwd[kMaxPathBytes];  // working directory when last changed; empty: never changed
  uint32_t umask_set;       // 1: the program called umask
  uint32_t umask;
  uint32_t rlimit_set;      // bit r: setrlimit(r) was called
  uint32_t reserved;
  rlimit64 rlimits[16];
};

struct KernelStateHeader {
  uint64_t magic;
  uint32_t version;
  uint32_t max_fds;
  uint64_t next_id;           // descriptions and objects
  int32_t highest_fd;         // highest descriptor ever recorded (capture and tools stop there)
  uint32_t itimers_armed;     // bit w: setitimer(w) / alarm armed it
  // Descriptors of the epoll sets (a closed descriptor leaves every set;
  // this spares a walk of the whole table per close). -1: free entry.
  int32_t epoll_sets[kMaxEpollSets];
  // The program's child processes when last counted (the census): a
  // recovery cannot bring them back.
  uint32_t children;
  int32_t child_pids[8];
  char child_names[8][16];
  ProcessAttributes process;
  SignalDisposition signals[kMaxSignals];
  TimerValue itimers[3];      // ITIMER_REAL, _VIRTUAL, _PROF as of the epoch
  StdioState stdio;           // glibc's standard streams as of the epoch (stdio_streams.h)
};
static_assert(sizeof(KernelStateHeader) <= kKernelHeaderBytes);

inline size_t KernelRegionBytes() { return kKernelHeaderBytes + size_t{kMaxFds} * kFdRecordBytes; }

inline KernelStateHeader* HeaderAt(uintptr_t base) { return reinterpret_cast<KernelStateHeader*>(base); }
inline FdRecord* RecordsAt(uintptr_t base) { return reinterpret_cast<FdRecord*>(base + kKernelHeaderBytes); }

}  // namespace respct::kernel
