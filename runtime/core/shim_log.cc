#include "runtime/core/shim_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>

#include "runtime/base/runtime_fds.h"
#include <cstdarg>
#include <cstdio>

namespace respct::core {
namespace {
std::atomic<int> g_level{kLogWarn};
std::atomic<int> g_fd{2};
}  // namespace

void KeepShimLogFd() {
  const int fd = fcntl(2, F_DUPFD_CLOEXEC, runtime_fds::Floor());
  if (fd < 0) return;
  runtime_fds::Mark(fd);
  g_fd.store(fd, std::memory_order_relaxed);
}

int ShimLogFd() { return g_fd.load(std::memory_order_relaxed); }

void SetShimLogLevel(int level) { g_level.store(level, std::memory_order_relaxed); }
bool ShimLogEnabled(int level) { return level <= g_level.load(std::memory_order_relaxed); }

void ShimLog(int level, const char* fmt, ...) {
  if (!ShimLogEnabled(level)) return;
  char buf[1024];
  int n = std::snprintf(buf, sizeof buf, "respct: ");
  va_list ap;
  va_start(ap, fmt);
  const int m = std::vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
  va_end(ap);
  n += m < 0 ? 0 : (m > int(sizeof buf) - n - 2 ? int(sizeof buf) - n - 2 : m);
  buf[n++] = '\n';
  (void)!write(ShimLogFd(), buf, static_cast<size_t>(n));
}

}  // namespace respct::core
