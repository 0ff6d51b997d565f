// respct-inspect --fds: what a recovery of an app's image will recreate, read
// from the image's kernel region (runtime/kernel/kernel_state.h): every
// descriptor with its kind, what it is (path and offset, address, buffered
// bytes, counter, timer), its flags and the open file description it shares
// with its dups; the epoll sets' interest lists (read from the image's heap,
// where the records keep them); the signal dispositions the program set; and
// the process attributes (cwd, umask, resource limits).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "tools/inspect/image_source.h"

namespace respct::inspect {

struct EpollInterest {
  int fd = 0;
  uint32_t events = 0;
  uint64_t data = 0;
  bool disarmed = false;  // a fired EPOLLONESHOT entry
};

struct FdInfo {
  int fd = 0;
  std::string kind;         // FdKindName: file, pipe, inet, epoll, ...
  std::string what;         // the kind's description
  std::string path;         // files: the path; sockets: the local address
  int64_t offset = -1;      // files: the offset at the epoch, else -1
  uint64_t buffered = 0;    // pipes, socketpairs: bytes held at the epoch
  uint32_t status_flags = 0;
  bool cloexec = false;
  uint64_t description = 0;
  std::vector<int> shares_with;  // other descriptors of the same open file description
  std::vector<EpollInterest> interest;  // epoll sets
  bool restorable = true;   // false: kUnsupported (a recovery refuses or drops it)
};

struct SignalInfo {
  int signal = 0;
  std::string name;         // "SIGUSR1"
  std::string disposition;  // "handler", "ignored", "default"
  uint64_t handler = 0;
  uint64_t flags = 0;
};

struct FdReport {
  std::string app;
  std::string source;
  uint64_t epoch = 0;
  std::vector<FdInfo> fds;
  std::vector<SignalInfo> signals;
  std::string cwd;           // empty: never changed
  int umask = -1;            // -1: never set
  std::vector<std::string> rlimits;  // "NOFILE 4000/1048576"
  std::vector<std::string> children;  // "1234 (sleep)": a recovery cannot bring them back
};

Result<FdReport> BuildFdReport(ImageSource* source);
std::string FormatFdsText(const FdReport& r);
std::string FormatFdsJson(const FdReport& r);
// "O_RDWR|O_APPEND|O_NONBLOCK"
std::string StatusFlagsText(uint32_t flags);
// "EPOLLIN|EPOLLET"
std::string EpollEventsText(uint32_t events);

}  // namespace respct::inspect
