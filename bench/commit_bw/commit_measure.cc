#include "bench/commit_bw/commit_measure.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

namespace respct::bench {
namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Payload per bandwidth epoch: a few ms of a checkpoint's worth of dirty lines.
constexpr size_t kEpochPayload = 1 << 20;

}  // namespace

Status MeasureCommits(Transport& t, size_t record, uint64_t region_bytes, double seconds, CommitResult* out) {
  std::vector<uint8_t> src(16 << 20);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 2654435761u >> 13);
  uint64_t epoch = t.info().committed_epoch;
  uint64_t cursor = 0;  // walks the region and the source buffer
  auto next = [&](uint64_t* off, const uint8_t** data) {
    if (cursor + record > region_bytes || cursor + record > src.size()) cursor = 0;
    *off = cursor;
    *data = src.data() + cursor;
    cursor += record;
  };

  // Bandwidth: many records per epoch, back to back.
  const size_t per_epoch = std::max<size_t>(1, kEpochPayload / record);
  uint64_t bytes = 0, records = 0;
  const auto t0 = Clock::now();
  double elapsed = 0;
  do {
    ++epoch;
    for (size_t i = 0; i < per_epoch; ++i) {
      uint64_t off;
      const uint8_t* data;
      next(&off, &data);
      RESPCT_RETURN_IF_ERROR(t.Append(epoch, 1, off, data, record));
    }
    RESPCT_RETURN_IF_ERROR(t.Commit(epoch));
    bytes += per_epoch * record;
    records += per_epoch;
    elapsed = Since(t0);
  } while (elapsed < seconds);
  out->bytes_per_second = static_cast<double>(bytes) / elapsed;
  out->records_per_second = static_cast<double>(records) / elapsed;

  // Latency: one record per epoch, each Commit waits for its CommitAck.
  std::vector<double> us;
  const auto t1 = Clock::now();
  while (Since(t1) < seconds / 2) {
    uint64_t off;
    const uint8_t* data;
    next(&off, &data);
    const auto s = Clock::now();
    ++epoch;
    RESPCT_RETURN_IF_ERROR(t.Append(epoch, 1, off, data, record));
    RESPCT_RETURN_IF_ERROR(t.Commit(epoch));
    us.push_back(Since(s) * 1e6);
  }
  std::sort(us.begin(), us.end());
  out->latency_p50_us = us[us.size() / 2];
  out->latency_p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  out->ring_full_waits = t.stats().ring_full_waits;
  return Status::OK();
}

}  // namespace respct::bench
