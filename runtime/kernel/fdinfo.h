// /proc/self/fdinfo/N, for the few values only it shows (a semaphore
// eventfd's counter, a timerfd's pending expirations, an epoll set's disarmed
// one-shot entries). Read under the pause only when a cheaper check said the
// value matters. No allocation: a stack buffer.
#pragma once

#include <cstdint>

namespace respct::kernel {

// The value after `key` (e.g. "eventfd-count:") in hexadecimal / decimal.
bool ReadFdInfoHex(int fd, const char* key, uint64_t* value);
bool ReadFdInfoDec(int fd, const char* key, uint64_t* value);

// Calls fn(target_fd, events, data) for each "tfd:" line of an epoll set.
template <typename Fn>
bool ForEachEpollEntry(int epfd, Fn&& fn);

// ---- implementation ----
// Reads the whole fdinfo text into buf (NUL-terminated); false on failure.
bool ReadFdInfo(int fd, char* buf, unsigned long cap);
bool ParseEpollLine(const char* line, int* tfd, uint32_t* events, uint64_t* data);

template <typename Fn>
bool ForEachEpollEntry(int epfd, Fn&& fn) {
  static char buf[1 << 16];  // coordinator thread only, under the pause
  if (!ReadFdInfo(epfd, buf, sizeof buf)) return false;
  for (char* line = buf; line != nullptr && *line != '\0';) {
    char* next = __builtin_strchr(line, '\n');
    if (next != nullptr) *next++ = '\0';
    int tfd;
    uint32_t events;
    uint64_t data;
    if (ParseEpollLine(line, &tfd, &events, &data)) fn(tfd, events, data);
    line = next;
  }
  return true;
}

}  // namespace respct::kernel
