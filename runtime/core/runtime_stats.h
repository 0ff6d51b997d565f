// RuntimeStats: what the shim measured, reported at exit, on SIGUSR2 and as
// JSON (RESPCT_STATS=json) for the benchmarks: epochs committed/abandoned,
// pause percentiles, bytes dirtied by pages vs bytes shipped by lines, commit
// latency, and a per-epoch timeline.
//
// Written by the coordinator and replication threads only (single writer per
// field); Report reads them while they may still move, which is fine for
// statistics. Memory is reserved once at start-up (internal, not persisted).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace respct::core {

struct EpochSample {
  uint64_t epoch = 0;
  uint64_t start_unix_ns = 0;
  uint64_t pause_ns = 0;        // threads stopped: request to release
  uint64_t quiesce_ns = 0;      // request to every thread parked
  uint64_t capture_ns = 0;      // collect + diff + stage
  uint64_t ship_ns = 0;         // records appended to the transport
  uint64_t commit_ns = 0;       // commit request to durable acknowledgement
  uint64_t pages_dirty = 0;
  uint64_t bytes_by_pages = 0;
  uint64_t bytes_shipped = 0;
  uint64_t records = 0;
};

class RuntimeStats {
 public:
  explicit RuntimeStats(size_t max_samples = 1 << 16)
      : samples_(new EpochSample[max_samples]), capacity_(max_samples) {}

  void RecordAbandoned(uint64_t quiesce_ns) {
    abandoned_.fetch_add(1, std::memory_order_relaxed);
    abandoned_quiesce_ns_.fetch_add(quiesce_ns, std::memory_order_relaxed);
  }
  // A captured epoch (pause and capture filled in); returns its index.
  size_t RecordCaptured(const EpochSample& s);
  // Shipping results of the sample at `index`.
  void RecordCommitted(size_t index, uint64_t ship_ns, uint64_t commit_ns);
  void RecordShipFailure() { ship_failures_.fetch_add(1, std::memory_order_relaxed); }

  uint64_t committed() const { return committed_.load(std::memory_order_relaxed); }
  uint64_t abandoned() const { return abandoned_.load(std::memory_order_relaxed); }

  // Human-readable block or one JSON object (with the timeline when `timeline`).
  std::string Report(bool json, bool timeline, const std::string& header_fields) const;

 private:
  // The first `capacity_` epochs keep their sample (timeline, percentiles);
  // totals count every epoch.
  std::unique_ptr<EpochSample[]> samples_;
  const size_t capacity_;
  std::atomic<size_t> sample_count_{0};
  std::atomic<uint64_t> captured_{0};
  std::atomic<uint64_t> committed_{0};
  std::atomic<uint64_t> abandoned_{0};
  std::atomic<uint64_t> abandoned_quiesce_ns_{0};
  std::atomic<uint64_t> ship_failures_{0};
  std::atomic<uint64_t> total_pages_dirty_{0};
  std::atomic<uint64_t> total_bytes_by_pages_{0};
  std::atomic<uint64_t> total_bytes_shipped_{0};
};

struct HeldOutputStats;

// One memnode of a replica set as the writer sees it (Replicator::replicas).
struct ReplicaSummary {
  std::string url;
  const char* state;         // "in quorum", "down" (retried, caught up when back), "out" (for good)
  uint64_t committed_epoch;  // the last epoch the writer knows it holds
  uint64_t catch_ups;
  uint64_t catch_up_bytes;
};

// What a report says about the run besides its epochs: the first lines of
// the text block, the leading fields of the JSON object.
struct RunSummary {
  std::string app;
  std::string tracker;
  std::string granularity;
  int epoch_ms = 0;
  uint64_t last_committed_epoch = 0;
  std::string stalls_json;                  // StallReport::Json()
  const HeldOutputStats* output = nullptr;  // with output commit on, else null
  // With several memnodes: each, and the write quorum; else empty.
  std::vector<ReplicaSummary> replicas;
  size_t write_quorum = 0;
};
// `header_fields` for RuntimeStats::Report.
std::string RunSummaryHeader(const RunSummary& run, bool json);

}  // namespace respct::core
