// The statistics librespct.so writes with RESPCT_STATS=json (see
// runtime/core/runtime_stats.cc), read back by the benchmark drivers.
//
// The report is one flat JSON object with two nested objects and the
// "timeline" array; a small parser of general JSON keeps the drivers free of
// a JSON dependency the project does not otherwise have. Malformed input
// throws std::runtime_error naming the offset: a bench must fail loudly, not
// report zeros.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace respct::bench {

struct EpochTiming {
  uint64_t epoch = 0;
  uint64_t t_ns = 0;  // capture time, Unix ns
  uint64_t pause_ns = 0;
  uint64_t quiesce_ns = 0;
  uint64_t capture_ns = 0;
  uint64_t ship_ns = 0;
  uint64_t commit_ns = 0;  // 0: not (yet) committed
  uint64_t bytes_by_pages = 0;
  uint64_t bytes_shipped = 0;
};

struct RunStats {
  std::string tracker;
  uint64_t epochs_committed = 0;
  uint64_t epochs_captured = 0;
  uint64_t epochs_abandoned = 0;
  uint64_t ship_failures = 0;
  double pause_p50_us = 0, pause_p99_us = 0, pause_max_us = 0;
  double commit_p50_us = 0, commit_p99_us = 0;
  uint64_t bytes_by_pages = 0;
  uint64_t bytes_shipped = 0;
  std::vector<EpochTiming> timeline;
};

// Parses the text of a stats file; throws std::runtime_error when it is not
// the expected object.
RunStats ParseRunStats(const std::string& text);

// Reads and parses `path`; throws std::runtime_error (missing, empty, bad).
RunStats ReadRunStats(const std::string& path);

}  // namespace respct::bench
