// bench_granularity: what 64-byte line diffing saves over shipping whole pages,
// and what tracking + diffing costs under the pause, per tracker kind.
//
// Per epoch: the "app" writes (timed: includes the tracking faults), then the
// pause work is timed as the runtime will do it: tracker->Collect(&runs), then
// LineDiffer::Diff of every run into a StagingBuffer. The baseline, in the same
// run, is a plain memcpy of the same dirty pages.
//
// Workloads over one region (default 256 MiB, populated and committed first):
//   sparse: each 64 B line gets an 8-byte write with probability `density`;
//   dense:  a fraction `density` of the pages is rewritten whole.
//
// --staging shadow replaces the StagingBuffer (a copy of every changed byte)
// with ShadowRefs (pointers into the differ's shadow: zero-copy staging).
//
//   bench_granularity [--mib 256] [--reps 3] [--trackers uffd,mprotect,scan]
//                     [--staging copy|shadow] [--json FILE]
#include <sys/mman.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/dirty/dirty_tracker.h"
#include "runtime/dirty/line_differ.h"
#include "runtime/dirty/shadow_refs.h"
#include "runtime/dirty/staging_buffer.h"

namespace respct::dirty {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::byte* MapAnon(size_t len) {
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) {
    std::perror("mmap");
    std::exit(1);
  }
  return static_cast<std::byte*>(p);
}

struct Workload {
  const char* name;
  double density;
  bool dense;
};

struct Row {
  double write_ms = 0, collect_ms = 0, diff_ms = 0, memcpy_ms = 0;
  uint64_t dirty_pages = 0, page_bytes = 0, line_bytes = 0, records = 0;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Line indices (sparse) or page indices (dense) written in one epoch.
std::vector<uint32_t> Targets(const Workload& w, size_t lines, size_t pages, std::mt19937_64& rng) {
  std::vector<uint32_t> t;
  std::bernoulli_distribution pick(w.density);
  const size_t n = w.dense ? pages : lines;
  for (size_t i = 0; i < n; ++i) {
    if (pick(rng)) t.push_back(static_cast<uint32_t>(i));
  }
  return t;
}

void Write(std::byte* region, const Workload& w, const std::vector<uint32_t>& targets,
           std::mt19937_64& rng) {
  if (w.dense) {
    const auto v = static_cast<unsigned char>(rng());
    for (uint32_t p : targets) std::memset(region + size_t{p} * kPageSize, v, kPageSize);
  } else {
    for (uint32_t l : targets) {
      auto* q = reinterpret_cast<uint64_t*>(region + size_t{l} * kLineSize + (rng() % 8) * 8);
      *q += 1;
    }
  }
}

// One tracker kind over all workloads; prints one table row per workload.
// One JSON object per printed row, for --json.
std::string JsonRow(std::string_view tracker, const Workload& w, const Row& row) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"tracker\":\"%s\",\"load\":\"%s\",\"density\":%g,\"dirty_pages\":%llu,"
                "\"page_bytes\":%llu,\"line_bytes\":%llu,\"records\":%llu,\"write_ms\":%.4f,"
                "\"collect_ms\":%.4f,\"diff_ms\":%.4f,\"memcpy_ms\":%.4f}",
                std::string(tracker).c_str(), w.name, w.density, static_cast<unsigned long long>(row.dirty_pages),
                static_cast<unsigned long long>(row.page_bytes), static_cast<unsigned long long>(row.line_bytes),
                static_cast<unsigned long long>(row.records), row.write_ms, row.collect_ms, row.diff_ms,
                row.memcpy_ms);
  return buf;
}

bool RunKind(DirtyTracker::Kind kind, size_t mib, int reps, bool zero_copy,
             const std::vector<Workload>& workloads, std::vector<std::string>* json_rows) {
  auto t = DirtyTracker::Create(kind);
  if (!t.ok()) {
    std::printf("%-8s skipped: %s\n", std::string(TrackerKindName(kind)).c_str(),
                t.status().ToString().c_str());
    return true;
  }
  auto& tracker = t.value();
  auto d = LineDiffer::Create({});
  if (!d.ok()) return false;
  auto& differ = d.value();

  const size_t len = mib << 20;
  const size_t pages = len / kPageSize;
  const size_t lines = len / kLineSize;
  std::byte* region = MapAnon(len);
  madvise(region, len, MADV_NOHUGEPAGE);
  std::byte* copy_dst = MapAnon(len);
  std::memset(copy_dst, 1, len);  // pre-fault: the baseline copies, it does not fault
  auto sb = StagingBuffer::Create(len + len / 4 + 4096);
  auto refs = ShadowRefs::Create(len / 128 + 1);
  if (!sb.ok() || !refs.ok()) return false;
  StagingBuffer& copy_staging = *sb.value();
  ShadowRefs& ref_staging = *refs.value();
  DiffSink& staging = zero_copy ? static_cast<DiffSink&>(ref_staging) : copy_staging;
  auto clear_staging = [&] {
    copy_staging.Clear();
    ref_staging.Clear();
  };

  std::mt19937_64 rng(12345);
  for (size_t i = 0; i < len; i += 8) *reinterpret_cast<uint64_t*>(region + i) = rng();
  Status st = tracker->Track(region, len);
  if (st.ok()) st = differ->AddRange(region, len);
  std::vector<PageRun> runs;
  runs.reserve(pages);
  // Warm-up epoch: ships the initial contents, touches shadow and staging.
  if (st.ok()) st = tracker->Collect(&runs);
  for (size_t i = 0; st.ok() && i < runs.size(); ++i) st = differ->Diff(runs[i], &staging);
  if (!st.ok()) {
    std::fprintf(stderr, "%s: %s\n", std::string(tracker->name()).c_str(), st.ToString().c_str());
    return false;
  }

  for (const Workload& w : workloads) {
    std::vector<double> write_ms, collect_ms, diff_ms, memcpy_ms;
    Row row;
    for (int rep = 0; rep < reps; ++rep) {
      const std::vector<uint32_t> targets = Targets(w, lines, pages, rng);
      const auto t0 = Clock::now();
      Write(region, w, targets, rng);
      const auto t1 = Clock::now();
      st = tracker->Collect(&runs);
      const auto t2 = Clock::now();
      clear_staging();
      differ->ResetStats();
      for (size_t i = 0; st.ok() && i < runs.size(); ++i) st = differ->Diff(runs[i], &staging);
      const auto t3 = Clock::now();
      if (!st.ok()) {
        std::fprintf(stderr, "%s: %s\n", std::string(tracker->name()).c_str(), st.ToString().c_str());
        return false;
      }
      // Baseline: copy the same dirty pages, no tracking, no compare.
      const auto t4 = Clock::now();
      for (const PageRun& r : runs) {
        std::memcpy(copy_dst + (r.addr - reinterpret_cast<uintptr_t>(region)),
                    reinterpret_cast<const void*>(r.addr), r.pages * kPageSize);
      }
      const auto t5 = Clock::now();
      write_ms.push_back(Ms(t1 - t0));
      collect_ms.push_back(Ms(t2 - t1));
      diff_ms.push_back(Ms(t3 - t2));
      memcpy_ms.push_back(Ms(t5 - t4));
      const DiffStats& s = differ->stats();
      row.dirty_pages = s.pages_dirty;
      row.page_bytes = s.bytes_by_pages;
      row.line_bytes = s.bytes_shipped;
      row.records = s.records;
    }
    row.write_ms = Median(write_ms);
    row.collect_ms = Median(collect_ms);
    row.diff_ms = Median(diff_ms);
    row.memcpy_ms = Median(memcpy_ms);
    const double ratio = row.line_bytes ? double(row.page_bytes) / double(row.line_bytes) : 0.0;
    const double pause = row.collect_ms + row.diff_ms;
    std::printf("%-8s %-6s %7.1f%% %8llu %10.1f %10.2f %7.1fx %8.2f %8.2f %8.2f %8.2f %6.1fx\n",
                std::string(tracker->name()).c_str(), w.name, w.density * 100,
                static_cast<unsigned long long>(row.dirty_pages), row.page_bytes / 1048576.0,
                row.line_bytes / 1048576.0, ratio, row.write_ms, row.collect_ms, row.diff_ms,
                row.memcpy_ms, row.memcpy_ms > 0 ? pause / row.memcpy_ms : 0.0);
    json_rows->push_back(JsonRow(tracker->name(), w, row));
  }
  tracker.reset();
  munmap(region, len);
  munmap(copy_dst, len);
  return true;
}

// Line-compare kernels on their own: pages that differ in one line each (so
// every byte is read), shadow in cache-cold memory as in a real epoch.
void CompareKernels(size_t mib) {
  const size_t len = std::min<size_t>(mib, 64) << 20;
  std::byte* a = MapAnon(len);
  std::byte* b = MapAnon(len);
  std::memset(a, 3, len);
  std::memset(b, 3, len);
  for (size_t p = 0; p < len; p += kPageSize) b[p + 100] = std::byte{4};
  std::printf("\nline compare over %zu MiB (one changed line per page):\n", len >> 20);
  for (CompareImpl impl : {CompareImpl::kAvx2, CompareImpl::kSse2, CompareImpl::kMemcmp}) {
    const ChangedLinesFn fn = ChangedLinesFor(impl);
    if (fn == nullptr) continue;
    std::vector<double> ms;
    uint64_t sink = 0;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = Clock::now();
      for (size_t p = 0; p < len; p += kPageSize) sink += fn(a + p, b + p);
      ms.push_back(Ms(Clock::now() - t0));
    }
    const double m = Median(ms);
    std::printf("  %-7s %7.2f ms  %6.2f GB/s of page compared%s\n", CompareImplName(impl), m,
                double(len) / (m * 1e6), sink == 0 ? " (no change found?)" : "");
  }
  const auto t0 = Clock::now();
  std::memcpy(b, a, len);
  std::printf("  memcpy  %7.2f ms  (same bytes, for scale)\n", Ms(Clock::now() - t0));
  munmap(a, len);
  munmap(b, len);
}

}  // namespace
}  // namespace respct::dirty

int main(int argc, char** argv) {
  using namespace respct::dirty;
  CLI::App app{"bytes shipped page vs line, and pause cost per tracker"};
  size_t mib = 256;
  int reps = 3;
  std::string trackers = "uffd,mprotect,scan";
  std::string staging = "copy";
  app.add_option("--mib", mib, "region size in MiB")->check(CLI::Range(1, 4096));
  app.add_option("--reps", reps, "epochs per cell; the median is printed")->check(CLI::Range(1, 100));
  app.add_option("--trackers", trackers, "comma-separated tracker kinds");
  app.add_option("--staging", staging, "copy: StagingBuffer; shadow: ShadowRefs (zero-copy)")
      ->check(CLI::IsMember({"copy", "shadow"}));
  std::string json_file;
  bool skip_kernels = false;
  app.add_option("--json", json_file, "also write every row (bytes exact, times in ms) as JSON to this file");
  app.add_flag("--no-kernels", skip_kernels, "skip the line-compare kernel comparison at the end");
  CLI11_PARSE(app, argc, argv);

  const std::vector<Workload> workloads = {
      {"sparse", 0.001, false}, {"sparse", 0.01, false}, {"sparse", 0.1, false},
      {"sparse", 0.5, false},   {"sparse", 1.0, false},  {"dense", 0.01, true},
      {"dense", 0.1, true},     {"dense", 1.0, true},
  };
  std::printf("region %zu MiB, %s staging, median of %d epochs; times in ms per epoch\n", mib,
              staging.c_str(), reps);
  std::printf("%-8s %-6s %8s %8s %10s %10s %8s %8s %8s %8s %8s %7s\n", "tracker", "load",
              "density", "pages", "page MiB", "line MiB", "pg/line", "write", "collect", "diff",
              "memcpy", "c+d/cp");
  std::vector<std::string> json_rows;
  size_t pos = 0;
  while (pos <= trackers.size()) {
    const size_t comma = std::min(trackers.find(',', pos), trackers.size());
    auto kind = ParseTrackerKind(trackers.substr(pos, comma - pos));
    if (!kind.ok()) {
      std::fprintf(stderr, "%s\n", kind.status().ToString().c_str());
      return 2;
    }
    if (!RunKind(kind.value(), mib, reps, staging == "shadow", workloads, &json_rows)) return 1;
    pos = comma + 1;
  }
  if (!skip_kernels) CompareKernels(mib);
  if (!json_file.empty()) {
    FILE* f = std::fopen(json_file.c_str(), "w");
    if (f == nullptr) {
      std::fprintf(stderr, "bench_granularity: cannot write %s: %s\n", json_file.c_str(), std::strerror(errno));
      return 1;
    }
    std::fprintf(f, "{\"region_mib\":%zu,\"reps\":%d,\"staging\":\"%s\",\"rows\":[", mib, reps, staging.c_str());
    for (size_t i = 0; i < json_rows.size(); ++i) std::fprintf(f, "%s%s", i ? "," : "", json_rows[i].c_str());
    std::fprintf(f, "]}\n");
    if (std::fclose(f) != 0) {
      std::fprintf(stderr, "bench_granularity: cannot write %s\n", json_file.c_str());
      return 1;
    }
  }
  return 0;
}
