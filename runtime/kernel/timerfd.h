// timerfd timers.
//
// Record: at timerfd_create(2): the clock and flags. Capture: the time to the
//   next expiry and the interval (timerfd_gettime, relative), and — only when
//   poll(2) says it is readable — the expirations not read yet
//   (/proc/self/fdinfo "ticks").
// Recreate: a timer on the same clock armed with the remaining time, so it
//   fires when it would have relative to the epoch (not to the wall clock: an
//   absolute CLOCK_REALTIME setting comes back relative). Expirations pending
//   at the epoch are not recounted exactly: the timer is made to expire at
//   once, so a reader sees at least one.
#pragma once

#include <time.h>

#include <cstdint>

#include "runtime/kernel/fd_table.h"

namespace respct::kernel {

struct TimerFdRecord {
  int32_t clock;
  uint32_t flags;          // TFD_NONBLOCK | TFD_CLOEXEC
  int64_t value_ns;        // to the next expiry, 0: disarmed
  int64_t interval_ns;
  uint64_t ticks;          // expirations pending at the epoch
};

void RecordTimerFd(FdTable* table, int fd, int clock, int flags);

}  // namespace respct::kernel
