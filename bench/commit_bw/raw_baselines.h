// Raw baselines of the commit benchmark, measured in the same run as the
// transports so a ratio compares like with like on this machine:
//   shm bandwidth  memcpy of record-sized chunks into a ring-sized buffer
//   tcp bandwidth  a plain 127.0.0.1 TCP stream, sender thread → receiver thread
//   latency        a request/reply round trip on the same kind of socket
//   rdma           perftest's ib_write_bw / ib_write_lat on the same RDMA
//                  device and 127.0.0.1's RoCE GID, record-sized messages
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/base/status.h"

namespace respct::bench {

// Bytes per second.
double MemcpyBandwidth(size_t chunk, double seconds);
double LoopbackTcpBandwidth(double seconds);

// Median microseconds of `request` bytes → 16-byte reply round trips.
double UnixRoundTripMicros(size_t request, double seconds);
double TcpRoundTripMicros(size_t request, double seconds);

// ib_write_bw (server and client, both started here, on the RDMA device and
// GID of 127.0.0.1) with `size`-byte RDMA WRITEs, 64 MiB in all (1000..20000
// of them): bytes per second, from perftest's "BW average[MB/sec]" taken as MiB/s.
Result<double> PerftestWriteBandwidth(size_t size, uint16_t port);
// ib_write_lat likewise: its typical (median) one-way latency in microseconds.
Result<double> PerftestWriteLatency(size_t size, uint16_t port);

}  // namespace respct::bench
