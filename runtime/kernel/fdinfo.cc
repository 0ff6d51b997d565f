#include "runtime/kernel/fdinfo.h"

#include <fcntl.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace respct::kernel {

bool ReadFdInfo(int fd, char* buf, unsigned long cap) {
  char path[40];
  std::snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  const int f = open(path, O_RDONLY | O_CLOEXEC);
  if (f < 0) return false;
  size_t n = 0;
  for (;;) {
    const ssize_t r = read(f, buf + n, cap - 1 - n);
    if (r <= 0) break;
    n += static_cast<size_t>(r);
    if (n == cap - 1) break;
  }
  close(f);
  buf[n] = '\0';
  return n > 0;
}

namespace {

bool Find(int fd, const char* key, int base, uint64_t* value) {
  char buf[4096];
  if (!ReadFdInfo(fd, buf, sizeof buf)) return false;
  const char* at = std::strstr(buf, key);
  if (at == nullptr) return false;
  at += std::strlen(key);
  char* end = nullptr;
  const unsigned long long v = std::strtoull(at, &end, base);
  if (end == at) return false;
  *value = v;
  return true;
}

}  // namespace

bool ReadFdInfoHex(int fd, const char* key, uint64_t* value) { return Find(fd, key, 16, value); }
bool ReadFdInfoDec(int fd, const char* key, uint64_t* value) { return Find(fd, key, 10, value); }

bool ParseEpollLine(const char* line, int* tfd, uint32_t* events, uint64_t* data) {
  // "tfd:        5 events:       19 data: 7f0000000005  pos:0 ino:... sdev:..."
  unsigned ev = 0;
  unsigned long long d = 0;
  if (std::sscanf(line, "tfd: %d events: %x data: %llx", tfd, &ev, &d) != 3) return false;
  *events = ev;
  *data = d;
  return true;
}

}  // namespace respct::kernel
