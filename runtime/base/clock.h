// The two clocks of the runtime and the memnode. MonotonicNs times intervals
// (pauses, commits) and is what the coordinator's deadlines use; UnixNs stamps
// epochs for people. Both are vDSO calls: async-signal-safe, no allocation.
#pragma once

#include <cstdint>
#include <ctime>

namespace respct {

inline uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

inline uint64_t UnixNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

}  // namespace respct
