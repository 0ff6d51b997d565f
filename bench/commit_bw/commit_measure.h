// What bench_commit_bw measures through a Transport: sustained commit
// bandwidth (epochs of many records of one size) and commit latency
// (one-record epochs, Append + Commit until CommitAck).
#pragma once

#include <cstddef>
#include <memory>

#include "runtime/base/status.h"
#include "runtime/transport/transport.h"

namespace respct::bench {

struct CommitResult {
  double bytes_per_second = 0;  // payload bytes committed
  double records_per_second = 0;
  double latency_p50_us = 0;
  double latency_p99_us = 0;
  uint64_t ring_full_waits = 0;
};

// `t` is a fresh writer of an app with region 1 of at least `region_bytes`.
Status MeasureCommits(Transport& t, size_t record, uint64_t region_bytes, double seconds, CommitResult* out);

}  // namespace respct::bench
