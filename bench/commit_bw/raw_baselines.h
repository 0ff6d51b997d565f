// Raw baselines of the commit benchmark, measured in the same run as the
// transports so a ratio compares like with like on this machine:
//   shm bandwidth  memcpy of record-sized chunks into a ring-sized buffer
//   tcp bandwidth  a plain 127.0.0.1 TCP stream, sender thread → receiver thread
//   latency        a request/reply round trip on the same kind of socket
#pragma once

#include <cstddef>
#include <cstdint>

namespace respct::bench {

// Bytes per second.
double MemcpyBandwidth(size_t chunk, double seconds);
double LoopbackTcpBandwidth(double seconds);

// Median microseconds of `request` bytes → 16-byte reply round trips.
double UnixRoundTripMicros(size_t request, double seconds);
double TcpRoundTripMicros(size_t request, double seconds);

}  // namespace respct::bench
