// bench_pause: how long respct stops the application per epoch, against the
// time to memcpy the bytes that epoch shipped, measured in the same run.
//
// For each pattern x target size, pause_dirtier (an ordinary program) dirties
// about that many bytes per epoch interval under respct-run; the driver takes
// the exact bytes of every epoch from respct's JSON timeline, and relates each
// epoch's pause (and its capture part) to a memcpy of that many bytes done by
// the driver right after the run. The goal line is
//     pause <= 2 x memcpy(bytes shipped) + 50 us.
// See --help.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/overhead/harness.h"
#include "bench/overhead/stats_json.h"
#include "harness/bench_main.h"
#include "harness/memnode_process.h"

namespace {

using respct::bench::EpochTiming;
using respct::bench::Median;

constexpr uint64_t kPage = 4096, kLine = 64;
constexpr double kGoalSlackNs = 50'000;

std::string Fmt(const char* fmt, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, a);
  return buf;
}

uint64_t ParseSize(const std::string& s) {
  size_t used = 0;
  const unsigned long long n = std::stoull(s, &used);
  const std::string suffix = s.substr(used);
  if (suffix.empty()) return n;
  if (suffix == "K" || suffix == "k") return n << 10;
  if (suffix == "M" || suffix == "m") return n << 20;
  throw std::runtime_error("bad size '" + s + "' (use e.g. 64K, 4M)");
}

std::string SizeName(uint64_t n) {
  return n >= (1 << 20) ? std::to_string(n >> 20) + "M" : std::to_string(n >> 10) + "K";
}

// memcpy timings on buffers the size of the heap buffer the program dirties,
// touched once up front. Each copy starts at a different offset, so a small
// copy does not run from the cache the previous one warmed: the runtime's
// capture reads pages the application wrote up to an epoch earlier.
class MemcpyBaseline {
 public:
  explicit MemcpyBaseline(uint64_t bytes) : size_(bytes), src_(bytes), dst_(bytes) {
    std::memset(src_.data(), 1, size_);
    std::memset(dst_.data(), 2, size_);
  }

  // Median of `reps` copies of `bytes`, in ns.
  double Ns(uint64_t bytes, int reps = 7) {
    bytes = std::clamp<uint64_t>(bytes, kLine, size_);
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
      offset_ = (offset_ + bytes + 2 * kPage * 97) % (size_ - bytes + 1) / kLine * kLine;
      const auto t0 = std::chrono::steady_clock::now();
      std::memcpy(dst_.data() + offset_, src_.data() + offset_, bytes);
      asm volatile("" ::: "memory");  // the copy is the measurement: keep it
      t.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count());
    }
    return Median(t);
  }

 private:
  uint64_t size_;
  std::vector<char> src_, dst_;
  uint64_t offset_ = 0;
};

struct Row {
  std::string pattern;
  uint64_t target = 0;
  int epoch_ms = 0;
  std::vector<EpochTiming> epochs;  // steady-state epochs that shipped something
  std::vector<double> memcpy_ns;    // per epoch: memcpy of its shipped bytes
  std::vector<double> memcpy_pages_ns;  // per epoch: memcpy of its dirty pages
  uint64_t abandoned = 0;
  std::string tracker, writer;  // writer: the program's own last line
};

// Pages pause_dirtier touches per epoch: a dense epoch fills whole pages; a
// sparse one puts its lines `stride` lines apart over the whole buffer.
uint64_t PagesTouched(const std::string& pattern, uint64_t target, uint64_t buffer) {
  if (pattern == "dense") return (target + kPage - 1) / kPage;
  const uint64_t lines = target / kLine, stride_bytes = buffer / lines;
  return stride_bytes >= kPage ? lines : buffer / kPage;
}

struct Options {
  std::vector<uint64_t> sizes;
  std::vector<std::string> patterns = {"dense", "sparse"};
  uint64_t mib = 256;
  std::string transport = "shm";
  double seconds = 2;
  int min_epochs = 8;
  double page_us = 10;
  double ship_mbs = 80;
  int epoch_ms = 0;
  std::string json_file;
  std::string respct_run = RESPCT_RUN_BIN;
  std::string memnode_bin = RESPCT_MEMNODE_BIN;
};

int Run(const Options& opt) {
  const uint64_t buffer = opt.mib << 20;
  for (uint64_t s : opt.sizes)
    if (s < kLine || s > buffer) throw std::runtime_error("size " + SizeName(s) + " outside 64 B .. --mib");
  respct::bench::ScratchDir scratch("respct-pause");
  MemcpyBaseline baseline(buffer);
  std::printf("bench_pause: %s\n", respct::bench::MachineLine().c_str());
  std::printf("pause_dirtier on a %llu MiB heap buffer, %s transport, a fresh memnode per run; memcpy baselines "
              "measured after each run\n\n",
              static_cast<unsigned long long>(opt.mib), opt.transport.c_str());
  std::fflush(stdout);

  std::vector<Row> rows;
  for (const std::string& pattern : opt.patterns) {
    for (uint64_t size : opt.sizes) {
      Row row;
      row.pattern = pattern;
      row.target = size;
      // Long enough that the writer, which takes a write-protect fault on
      // each page it touches per epoch, keeps its rate (twice the fault time),
      // and that shipping keeps up (--ship-mbs): otherwise every epoch finds
      // the previous one still in flight, epochs grow and the pattern wraps.
      const double fault_ms = double(PagesTouched(pattern, size, buffer)) * opt.page_us / 1000;
      const double ship_ms = double(size) / (opt.ship_mbs * 1e3);
      row.epoch_ms = opt.epoch_ms != 0 ? opt.epoch_ms
                                       : std::max(10, int(std::ceil(std::max(2 * fault_ms, ship_ms) / 10)) * 10);
      const double seconds = std::max(opt.seconds, (opt.min_epochs + 2) * 1.5 * row.epoch_ms / 1000);
      // The set-up epoch ships the whole buffer (about 2 s for 256 MiB on
      // the development VM): the writer starts after it.
      const uint64_t settle_ms = 1000 + 8 * opt.mib;
      const std::string app = "pause" + std::to_string(getpid()) + "-" + pattern + "-" + SizeName(size);
      const std::string stats_file = scratch.path() + "/" + app + ".json";
      const std::vector<std::string> program = {PAUSE_DIRTIER_BIN,
                                                "--mib",
                                                std::to_string(opt.mib),
                                                "--epoch-bytes",
                                                std::to_string(size),
                                                "--epoch-ms",
                                                std::to_string(row.epoch_ms),
                                                "--seconds",
                                                std::to_string(int(std::ceil(seconds))),
                                                "--pattern",
                                                pattern,
                                                "--settle-ms",
                                                std::to_string(settle_ms)};
      // A memnode per run, its pool gone with it: each run's image and ring
      // hold a few hundred MiB of tmpfs. The ring must hold the set-up epoch
      // (the whole buffer): an epoch larger than the ring never commits.
      respct::test::MemnodeProcess memnode(respct::test::MemnodeProcess::Options{
          .binary = opt.memnode_bin,
          .ring_size = std::to_string(2 * opt.mib + 64) + "M",
          .pool_size = std::to_string(6 * opt.mib + 2048) + "M"});
      if (respct::Status st = memnode.Start(); !st.ok()) throw std::runtime_error("memnode: " + st.ToString());
      const respct::bench::RespctTarget target{opt.respct_run,
                                               opt.transport == "shm" ? memnode.shm_url() : memnode.tcp_url(),
                                               memnode.secret_path()};
      // The heap must hold the buffer with room for the allocator's own use.
      std::vector<std::string> cmd = respct::bench::RespctCommand(target, app, row.epoch_ms, stats_file, program);
      cmd.insert(cmd.begin() + 1, {"--heap-size", std::to_string(std::max<uint64_t>(1024, 2 * opt.mib)) + "M"});
      std::fprintf(stderr, "  %s %s: epoch %d ms, %.0f s\n", pattern.c_str(), SizeName(size).c_str(), row.epoch_ms,
                   std::ceil(seconds));
      const respct::bench::ChildRun run = respct::bench::RunChild(cmd, scratch.path());
      const std::string steady = respct::bench::FindToken(run.out, "steady_unix_ns");
      if (run.exit_code != 0 || steady.empty() || run.out.find(" ok") == std::string::npos)
        throw std::runtime_error("pause_dirtier " + pattern + " " + SizeName(size) + " failed (exit " +
                                 std::to_string(run.exit_code) + "):\n" + run.out + run.err);
      row.writer = run.out.substr(run.out.rfind("pause_dirtier: lines="));
      row.writer.erase(row.writer.find_last_not_of('\n') + 1);
      const respct::bench::RunStats stats = respct::bench::ReadRunStats(stats_file);
      row.abandoned = stats.epochs_abandoned;
      row.tracker = stats.tracker;
      // Steady state: after the set-up epoch (the one that shipped the whole
      // buffer) and the one after it, at least one interval after the program
      // said it started the pattern, and not the exit checkpoint (the last
      // one), which holds a partial interval.
      size_t first = 0;
      for (size_t i = 0; i < stats.timeline.size(); ++i)
        if (stats.timeline[i].bytes_shipped >= buffer) first = i + 2;
      const uint64_t from = std::stoull(steady) + uint64_t(row.epoch_ms) * 1'000'000;
      for (size_t i = first; i + 1 < stats.timeline.size(); ++i)
        if (stats.timeline[i].t_ns >= from && stats.timeline[i].bytes_shipped > 0)
          row.epochs.push_back(stats.timeline[i]);
      if (row.epochs.empty()) throw std::runtime_error(app + ": no steady-state epoch in the timeline");
      // One memcpy measurement at the row's median sizes; each epoch's
      // baseline scales it by that epoch's bytes (copy time is linear in
      // bytes within the spread of one row).
      std::vector<double> shipped, pages;
      for (const EpochTiming& e : row.epochs) {
        shipped.push_back(double(e.bytes_shipped));
        pages.push_back(double(e.bytes_by_pages));
      }
      const double ship_med = Median(shipped), pages_med = Median(pages);
      const double ship_ns = baseline.Ns(uint64_t(ship_med)), pages_ns = baseline.Ns(uint64_t(pages_med));
      for (const EpochTiming& e : row.epochs) {
        row.memcpy_ns.push_back(ship_ns * double(e.bytes_shipped) / ship_med);
        row.memcpy_pages_ns.push_back(pages_ns * double(e.bytes_by_pages) / pages_med);
      }
      unlink(stats_file.c_str());
      rows.push_back(std::move(row));
    }
  }

  std::printf("per epoch, median over the steady-state epochs of each run:\n");
  std::printf("  pause x = pause / memcpy(bytes shipped); capture x = capture / memcpy(bytes shipped)\n");
  std::printf("  cap/pg = capture / memcpy(bytes of the dirty pages), what the capture has to read at least\n");
  std::printf("  quies%% = share of the pause spent waiting for the thread to park\n");
  std::printf("  goal = epochs with pause <= 2 x memcpy + 50 us, of all; goal x = pause / (2 x memcpy + 50 us)\n\n");
  std::printf("%-7s %6s %6s %6s %10s %9s %9s %9s %9s %8s %7s %7s %10s %7s\n", "pattern", "target", "ep ms", "epochs",
              "shipped MB", "pages MB", "pause us", "memcpy us", "pause x", "capture x", "cap/pg", "quies%",
              "goal", "goal x");
  std::string json = "{\"bench\":\"pause\",\"machine\":" + respct::bench::MachineJson() +
                     ",\"buffer_mib\":" + std::to_string(opt.mib) + ",\"transport\":\"" + opt.transport +
                     "\",\"rows\":[";
  for (size_t ri = 0; ri < rows.size(); ++ri) {
    const Row& r = rows[ri];
    std::vector<double> shipped, pages, pause, memcpy_ns, pause_x, capture_x, cap_pg, quiesce_share, goal_x;
    size_t goal_ok = 0;
    for (size_t i = 0; i < r.epochs.size(); ++i) {
      const EpochTiming& e = r.epochs[i];
      const double m = r.memcpy_ns[i];
      shipped.push_back(double(e.bytes_shipped));
      pages.push_back(double(e.bytes_by_pages));
      pause.push_back(double(e.pause_ns));
      memcpy_ns.push_back(m);
      pause_x.push_back(double(e.pause_ns) / m);
      capture_x.push_back(double(e.capture_ns) / m);
      cap_pg.push_back(double(e.capture_ns) / r.memcpy_pages_ns[i]);
      quiesce_share.push_back(e.pause_ns ? double(e.quiesce_ns) / double(e.pause_ns) : 0);
      const double goal = 2 * m + kGoalSlackNs;
      goal_x.push_back(double(e.pause_ns) / goal);
      if (double(e.pause_ns) <= goal) ++goal_ok;
    }
    const std::string goal_col = std::to_string(goal_ok) + "/" + std::to_string(r.epochs.size());
    std::printf("%-7s %6s %6d %6zu %10.2f %9.2f %9.0f %9.0f %9.2f %9.2f %7.2f %6.0f%% %10s %7.2f\n",
                r.pattern.c_str(), SizeName(r.target).c_str(), r.epoch_ms, r.epochs.size(), Median(shipped) / 1e6,
                Median(pages) / 1e6, Median(pause) / 1e3, Median(memcpy_ns) / 1e3, Median(pause_x),
                Median(capture_x), Median(cap_pg), 100 * Median(quiesce_share), goal_col.c_str(), Median(goal_x));
    if (ri != 0) json += ",";
    json += "{\"pattern\":\"" + r.pattern + "\",\"target_bytes\":" + std::to_string(r.target) +
            ",\"epoch_ms\":" + std::to_string(r.epoch_ms) + ",\"tracker\":" + respct::bench::JsonString(r.tracker) +
            ",\"epochs_abandoned\":" + std::to_string(r.abandoned) + ",\"writer\":" +
            respct::bench::JsonString(r.writer) + ",\"median\":{\"pause_ratio\":" + Fmt("%.4f", Median(pause_x)) +
            ",\"capture_ratio\":" + Fmt("%.4f", Median(capture_x)) + ",\"capture_vs_pages_ratio\":" +
            Fmt("%.4f", Median(cap_pg)) + ",\"goal_ratio\":" + Fmt("%.4f", Median(goal_x)) +
            "},\"goal_met\":" + std::to_string(goal_ok) + ",\"epochs\":[";
    for (size_t i = 0; i < r.epochs.size(); ++i) {
      const EpochTiming& e = r.epochs[i];
      json += std::string(i ? "," : "") + "{\"bytes_shipped\":" + std::to_string(e.bytes_shipped) +
              ",\"bytes_by_pages\":" + std::to_string(e.bytes_by_pages) + ",\"pause_ns\":" +
              std::to_string(e.pause_ns) + ",\"quiesce_ns\":" + std::to_string(e.quiesce_ns) +
              ",\"capture_ns\":" + std::to_string(e.capture_ns) + ",\"ship_ns\":" + std::to_string(e.ship_ns) +
              ",\"commit_ns\":" + std::to_string(e.commit_ns) + ",\"memcpy_ns\":" + Fmt("%.0f", r.memcpy_ns[i]) +
              ",\"memcpy_pages_ns\":" + Fmt("%.0f", r.memcpy_pages_ns[i]) + "}";
    }
    json += "]}";
  }
  json += "]}\n";
  std::printf("\nwriter (pause_dirtier's last line per run; skipped > 0: it could not keep its rate):\n");
  for (const Row& r : rows)
    std::printf("  %-6s %4s  tracker %s, %llu abandoned, %s\n", r.pattern.c_str(), SizeName(r.target).c_str(),
                r.tracker.c_str(), static_cast<unsigned long long>(r.abandoned), r.writer.c_str());
  if (!opt.json_file.empty()) respct::bench::WriteResultsFile(opt.json_file, json);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  std::vector<std::string> sizes = {"64K", "256K", "1M", "4M", "16M", "64M"};
  bool quick = false;
  CLI::App cli(
      "bench_pause - respct's pause per epoch against memcpy of the bytes the epoch shipped\n\n"
      "For each pattern and target size, runs pause_dirtier under respct-run (own memnode on a temporary pool):\n"
      "it dirties about <size> bytes of 64-byte lines of a heap buffer per epoch interval, at a steady rate.\n"
      "dense writes consecutive whole lines; sparse writes one word per line, the lines spread over the whole\n"
      "buffer (few lines per dirty page). Each steady-state epoch of respct's JSON timeline is related to a\n"
      "memcpy of the bytes it shipped, measured by this driver right after the run: pause and capture as\n"
      "ratios, and the goal line pause <= 2 x memcpy + 50 us.\n"
      "The epoch interval grows with the pages a pattern touches per epoch (see --page-us), so the writer,\n"
      "which takes a write-protect fault per touched page per epoch, keeps its rate, and with the bytes per\n"
      "epoch (see --ship-mbs), so shipping keeps up and epochs stay the target size.",
      "bench_pause");
  cli.add_option("--sizes", sizes, "Comma-separated target bytes per epoch (K and M suffixes).")
      ->delimiter(',')
      ->capture_default_str();
  cli.add_option("--patterns", opt.patterns, "Comma-separated patterns: dense, sparse.")
      ->delimiter(',')
      ->check(CLI::IsMember({"dense", "sparse"}))
      ->capture_default_str();
  cli.add_option("--mib", opt.mib, "Size of the heap buffer the program dirties, MiB.")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cli.add_option("--transport", opt.transport, "Transport the epochs are shipped over.")
      ->check(CLI::IsMember({"shm", "tcp"}))
      ->capture_default_str();
  cli.add_option("--seconds", opt.seconds, "Minimum seconds of each run's pattern phase (after the set-up epoch).")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cli.add_option("--min-epochs", opt.min_epochs, "Runs last long enough for about this many steady-state epochs.")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  cli.add_option("--page-us", opt.page_us,
                 "Assumed cost of a write-protect fault per touched page, us, for the automatic epoch interval.")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cli.add_option("--ship-mbs", opt.ship_mbs,
                 "Assumed sustainable ship + commit rate, MB/s, for the automatic epoch interval.")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cli.add_option("--epoch-ms", opt.epoch_ms, "Fixed epoch interval for every run instead of the automatic one.")
      ->check(CLI::Range(1, 60000));
  cli.add_flag("--quick", quick, "CI smoke test: dense 64K and 1M, short runs.");
  respct::bench::AddJsonOption(cli, &opt.json_file, "the results, every epoch and the machine");
  respct::bench::AddBinaryOptions(cli, &opt.respct_run, "respct-run to use.", &opt.memnode_bin);
  return respct::bench::ParseAndRun(cli, argc, argv, "bench_pause", [&] {
    if (quick) {
      sizes = {"64K", "1M"};
      opt.patterns = {"dense"};
      opt.seconds = 1;
      opt.min_epochs = 4;
    }
    for (const std::string& s : sizes) opt.sizes.push_back(ParseSize(s));
    if (opt.sizes.empty() || opt.patterns.empty()) throw std::runtime_error("nothing to run");
    return Run(opt);
  });
}
