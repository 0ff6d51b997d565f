#include "runtime/base/runtime_fds.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

namespace respct::runtime_fds {
namespace {

constexpr int kBitmapFds = 1 << 20;
constexpr int kReservedCount = 128;  // the runtime uses about ten
std::atomic<uint64_t> g_owned[kBitmapFds / 64];
std::atomic<int> g_floor{0};

int ComputeFloor() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return 1024 - kReservedCount;
  const long top = static_cast<long>(r.rlim_cur);
  return top - kReservedCount > 64 ? static_cast<int>(top - kReservedCount) : 64;
}

}  // namespace

int BitmapLimit() { return kBitmapFds; }

int Floor() {
  int f = g_floor.load(std::memory_order_relaxed);
  if (f == 0) {
    f = ComputeFloor();
    int expected = 0;
    if (!g_floor.compare_exchange_strong(expected, f)) f = expected;
  }
  return f;
}

void PlaceAbove(int highest) {
  // The limit may have changed since (a recovery sets the program's first).
  int floor = ComputeFloor();
  if (highest >= floor) floor = highest + 1;
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur != RLIM_INFINITY &&
      r.rlim_cur < static_cast<rlim_t>(floor + kReservedCount)) {
    r.rlim_cur = static_cast<rlim_t>(floor + kReservedCount);
    if (r.rlim_max != RLIM_INFINITY && r.rlim_cur > r.rlim_max) r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
  g_floor.store(floor, std::memory_order_relaxed);
}

void Mark(int fd) {
  if (fd < 0 || fd >= kBitmapFds) return;
  g_owned[fd / 64].fetch_or(uint64_t{1} << (fd % 64), std::memory_order_relaxed);
}

bool Owned(int fd) {
  if (fd < 0 || fd >= kBitmapFds) return false;
  return (g_owned[fd / 64].load(std::memory_order_relaxed) >> (fd % 64)) & 1;
}

void Forget(int fd) {
  if (fd < 0 || fd >= kBitmapFds) return;
  g_owned[fd / 64].fetch_and(~(uint64_t{1} << (fd % 64)), std::memory_order_relaxed);
}

int Adopt(int fd) {
  if (fd < 0) return fd;
  if (fd >= Floor()) {
    Mark(fd);
    return fd;
  }
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, Floor());
  if (moved < 0 && errno == EINVAL) {
    // The program lowered RLIMIT_NOFILE below the range (memcached sets it
    // to its connection limit): the range moves under the new limit.
    g_floor.store(ComputeFloor(), std::memory_order_relaxed);
    moved = fcntl(fd, F_DUPFD_CLOEXEC, Floor());
  }
  if (moved < 0) {
    Mark(fd);
    return fd;
  }
  syscall(SYS_close, fd);  // not the interposed close: this is the runtime's own
  Mark(moved);
  return moved;
}

}  // namespace respct::runtime_fds
