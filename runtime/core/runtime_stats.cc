#include "runtime/core/runtime_stats.h"

#include "runtime/base/json_string.h"
#include "runtime/core/held_output.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace respct::core {
namespace {

std::string Fmt(const char* fmt, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, a);
  return buf;
}

double Percentile(std::vector<uint64_t>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = static_cast<size_t>(p * double(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + long(k), v.end());
  return double(v[k]);
}

}  // namespace

size_t RuntimeStats::RecordCaptured(const EpochSample& s) {
  captured_.fetch_add(1, std::memory_order_relaxed);
  total_pages_dirty_.fetch_add(s.pages_dirty, std::memory_order_relaxed);
  total_bytes_by_pages_.fetch_add(s.bytes_by_pages, std::memory_order_relaxed);
  total_bytes_shipped_.fetch_add(s.bytes_shipped, std::memory_order_relaxed);
  const size_t i = sample_count_.load(std::memory_order_relaxed);
  if (i >= capacity_) return SIZE_MAX;
  samples_[i] = s;
  sample_count_.store(i + 1, std::memory_order_release);
  return i;
}

void RuntimeStats::RecordCommitted(size_t index, uint64_t ship_ns, uint64_t commit_ns) {
  committed_.fetch_add(1, std::memory_order_relaxed);
  if (index == SIZE_MAX) return;
  samples_[index].ship_ns = ship_ns;
  samples_[index].commit_ns = commit_ns;
}

std::string RuntimeStats::Report(bool json, bool timeline, const std::string& header_fields) const {
  const size_t n = sample_count_.load(std::memory_order_acquire);
  std::vector<uint64_t> pauses, commits;
  for (size_t i = 0; i < n; ++i) {
    pauses.push_back(samples_[i].pause_ns);
    if (samples_[i].commit_ns != 0) commits.push_back(samples_[i].commit_ns);
  }
  const double p50 = Percentile(pauses, 0.5) / 1e3, p99 = Percentile(pauses, 0.99) / 1e3;
  const double pmax = pauses.empty() ? 0 : double(*std::max_element(pauses.begin(), pauses.end())) / 1e3;
  const double c50 = Percentile(commits, 0.5) / 1e3, c99 = Percentile(commits, 0.99) / 1e3;
  const uint64_t by_pages = total_bytes_by_pages_.load(), shipped = total_bytes_shipped_.load();
  const double ratio = shipped == 0 ? 0 : double(by_pages) / double(shipped);
  std::string out;
  if (!json) {
    out += "respct: stats " + header_fields + "\n";
    out += "  epochs committed " + std::to_string(committed_.load()) + ", captured " + std::to_string(captured_.load()) +
           ", abandoned " + std::to_string(abandoned_.load()) + ", ship failures " +
           std::to_string(ship_failures_.load()) + "\n";
    out += "  pause us: p50 " + Fmt("%.1f", p50) + "  p99 " + Fmt("%.1f", p99) + "  max " + Fmt("%.1f", pmax) + "\n";
    out += "  commit latency us: p50 " + Fmt("%.1f", c50) + "  p99 " + Fmt("%.1f", c99) + "\n";
    out += "  bytes dirtied (pages) " + std::to_string(by_pages) + ", shipped (lines) " + std::to_string(shipped) +
           " (" + Fmt("%.1f", ratio) + "x less)\n";
    return out;
  }
  out += "{" + header_fields;
  if (!header_fields.empty()) out += ",";
  out += "\"epochs_committed\":" + std::to_string(committed_.load());
  out += ",\"epochs_captured\":" + std::to_string(captured_.load());
  out += ",\"epochs_abandoned\":" + std::to_string(abandoned_.load());
  out += ",\"ship_failures\":" + std::to_string(ship_failures_.load());
  out += ",\"pause_us\":{\"p50\":" + Fmt("%.1f", p50) + ",\"p99\":" + Fmt("%.1f", p99) + ",\"max\":" + Fmt("%.1f", pmax) + "}";
  out += ",\"commit_us\":{\"p50\":" + Fmt("%.1f", c50) + ",\"p99\":" + Fmt("%.1f", c99) + "}";
  out += ",\"pages_dirty\":" + std::to_string(total_pages_dirty_.load());
  out += ",\"bytes_by_pages\":" + std::to_string(by_pages);
  out += ",\"bytes_shipped\":" + std::to_string(shipped);
  if (timeline) {
    out += ",\"timeline\":[";
    for (size_t i = 0; i < n; ++i) {
      const EpochSample& s = samples_[i];
      if (i != 0) out += ",";
      out += "{\"epoch\":" + std::to_string(s.epoch) + ",\"t_ns\":" + std::to_string(s.start_unix_ns) +
             ",\"pause_ns\":" + std::to_string(s.pause_ns) + ",\"quiesce_ns\":" + std::to_string(s.quiesce_ns) +
             ",\"capture_ns\":" + std::to_string(s.capture_ns) + ",\"ship_ns\":" + std::to_string(s.ship_ns) +
             ",\"commit_ns\":" + std::to_string(s.commit_ns) + ",\"bytes_by_pages\":" +
             std::to_string(s.bytes_by_pages) + ",\"bytes_shipped\":" + std::to_string(s.bytes_shipped) + "}";
    }
    out += "]";
  }
  out += "}\n";
  return out;
}

std::string RunSummaryHeader(const RunSummary& run, bool json) {
  std::string header;
  const HeldOutputStats* o = run.output;
  if (json) {
    header = "\"app\":" + JsonString(run.app) + ",\"tracker\":" + JsonString(run.tracker) + ",\"epoch_ms\":" +
             std::to_string(run.epoch_ms) + ",\"granularity\":" + JsonString(run.granularity) +
             ",\"last_committed_epoch\":" + std::to_string(run.last_committed_epoch) + ",\"stalls\":" +
             run.stalls_json;
    if (o != nullptr) {
      header += ",\"output_commit\":{\"bytes_held\":" + std::to_string(o->bytes_held) +
                ",\"calls_held\":" + std::to_string(o->calls_held) + ",\"early_epochs\":" +
                std::to_string(o->early_epochs) + ",\"held_p50_us\":" + std::to_string(o->held_p50_ns / 1000) +
                ",\"held_p99_us\":" + std::to_string(o->held_p99_ns / 1000) + ",\"held_max_us\":" +
                std::to_string(o->held_max_ns / 1000) + ",\"waits\":" + std::to_string(o->waits) +
                ",\"resets\":" + std::to_string(o->reset) + "}";
    }
    if (!run.replicas.empty()) {
      header += ",\"write_quorum\":" + std::to_string(run.write_quorum) + ",\"replicas\":[";
      for (size_t i = 0; i < run.replicas.size(); ++i) {
        const ReplicaSummary& r = run.replicas[i];
        header += std::string(i == 0 ? "" : ",") + "{\"url\":" + JsonString(r.url) + ",\"state\":" +
                  JsonString(r.state) + ",\"committed_epoch\":" + std::to_string(r.committed_epoch) +
                  ",\"catch_ups\":" + std::to_string(r.catch_ups) + ",\"catch_up_bytes\":" +
                  std::to_string(r.catch_up_bytes) + "}";
      }
      header += "]";
    }
    return header;
  }
  header = "app " + run.app + ", tracker " + run.tracker + ", epoch " + std::to_string(run.epoch_ms) +
           " ms, last committed epoch " + std::to_string(run.last_committed_epoch);
  if (o != nullptr) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "\n  output commit: %llu bytes in %llu calls held, p50 %.2f ms, p99 %.2f ms, max %.2f ms; "
                  "%llu early epochs",
                  static_cast<unsigned long long>(o->bytes_held), static_cast<unsigned long long>(o->calls_held),
                  o->held_p50_ns / 1e6, o->held_p99_ns / 1e6, o->held_max_ns / 1e6,
                  static_cast<unsigned long long>(o->early_epochs));
    header += line;
  }
  if (!run.replicas.empty()) {
    header += "\n  replicas (an epoch commits on " + std::to_string(run.write_quorum) + " of " +
              std::to_string(run.replicas.size()) + "):";
    for (const ReplicaSummary& r : run.replicas)
      header += "\n    " + r.url + ": " + r.state + ", epoch " + std::to_string(r.committed_epoch) + ", caught up " +
                std::to_string(r.catch_ups) + " time(s), " + std::to_string(r.catch_up_bytes >> 10) + " KiB";
  }
  return header;
}

}  // namespace respct::core
