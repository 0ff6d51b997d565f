// bench_commit_bw: commit bandwidth and latency of the client transports for
// record sizes 64 B .. 64 KiB, each as a ratio against a raw baseline
// measured in the same run (raw_baselines.h). Starts its own respct-memnode
// on a temporary pool, like the protocol tests. See --help.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/commit_bw/commit_measure.h"
#include "bench/commit_bw/raw_baselines.h"
#include "runtime/transport/transport.h"
#include "harness/memnode_process.h"

namespace {

constexpr uint64_t kRegionBytes = 32 << 20;

int Fail(const std::string& what) {
  std::fprintf(stderr, "bench_commit_bw: %s\n", what.c_str());
  return 1;
}

std::string SizeName(size_t n) { return n >= 1024 ? std::to_string(n / 1024) + " KiB" : std::to_string(n) + " B"; }

}  // namespace

int main(int argc, char** argv) {
  std::string transport = "all";
  double seconds = 1.0;
  std::string pool_dir;
  std::string memnode_bin = RESPCT_MEMNODE_BIN;
  CLI::App cli(
      "bench_commit_bw - commit bandwidth and latency of respct's client transports\n\n"
      "For each transport and record size (64 B, 1 KiB, 4 KiB, 64 KiB): bandwidth = payload bytes committed per\n"
      "second with 1 MiB epochs; latency = Append + Commit of a one-record epoch until its CommitAck (p50, p99).\n"
      "Ratios are against raw baselines measured in the same run: for shm, memcpy of record-sized chunks; for tcp,\n"
      "a plain 127.0.0.1 TCP stream (256 KiB writes, sender thread to receiver thread); latency against a raw\n"
      "request/reply round trip on the same kind of socket. For rdma, perftest on the same RDMA device over\n"
      "127.0.0.1: ib_write_bw with record-sized WRITEs, and ib_write_lat's typical latency (one-way, half its\n"
      "ping-pong) - a commit is a round trip (WRITEs, SEND, reply), so its latency ratio is at least 2.\n"
      "The memnode persists with msync on its pool file: on /dev/shm (default) that costs little, so the numbers\n"
      "are the transport's, not a disk's; --pool-dir on a DAX mount measures real PMem persistence.",
      "bench_commit_bw");
  cli.add_option("--transport", transport,
                 "shm, tcp, rdma, or all (rdma included when an RDMA device exists, e.g. in the guest tier).")
      ->check(CLI::IsMember({"shm", "tcp", "rdma", "all"}))
      ->capture_default_str();
  cli.add_option("--seconds", seconds, "Seconds per bandwidth measurement (latency: half).")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cli.add_option("--pool-dir", pool_dir, "Directory for the temporary pool (default /dev/shm, else /tmp).");
  cli.add_option("--memnode-bin", memnode_bin, "respct-memnode to start.")->capture_default_str();
  std::string json_file;
  cli.add_option("--json", json_file, "Also write every row (and its baselines) as JSON to this file.");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "bench_commit_bw: %s (see --help)\n", e.what());
    return 2;
  }
  if (!pool_dir.empty()) setenv("RESPCT_TEST_TMPDIR", pool_dir.c_str(), 1);

  respct::test::MemnodeProcess memnode(
      respct::test::MemnodeProcess::Options{.binary = memnode_bin, .ring_size = "64M", .pool_size = "4G"});
  if (respct::Status st = memnode.Start(); !st.ok()) return Fail(st.ToString());

  std::vector<std::string> transports;
  if (transport == "all" || transport == "shm") transports.push_back("shm");
  if (transport == "all" || transport == "tcp") transports.push_back("tcp");
  if (transport == "rdma" || (transport == "all" && respct::test::HaveRdmaDevice())) {
    if (!respct::test::HaveRdmaDevice()) return Fail("--transport rdma: no RDMA device on this host (use the guest tier)");
    transports.push_back("rdma");
  }
  const std::vector<size_t> sizes = {64, 1024, 4096, 64 << 10};

  std::printf("bench_commit_bw: memnode pool in %s, %.1f s per bandwidth run, 1 MiB epochs, 64 MiB rings\n",
              memnode.dir().c_str(), seconds);
  std::printf("\n%-9s %-7s %12s %13s %8s %9s %9s %11s %9s %10s\n", "transport", "record", "commit MB/s",
              "baseline MB/s", "bw ratio", "p50 us", "p99 us", "raw rtt us", "lat ratio", "ring waits");
  std::string json_rows;
  for (const std::string& tr : transports) {
    for (size_t size : sizes) {
      // Each row measures its own baseline right before it: on a shared machine
      // the load changes within a run, and a ratio should compare like moments.
      double base_bw = 0;
      double base_rtt = 0;
      if (tr == "rdma") {
        // A failed baseline leaves its ratio n/a (nan) rather than the row unmeasured.
        auto bw = respct::bench::PerftestWriteBandwidth(size, 18515);
        auto lat = respct::bench::PerftestWriteLatency(size, 18515);
        if (!bw.ok()) std::fprintf(stderr, "bench_commit_bw: %s\n", bw.status().ToString().c_str());
        if (!lat.ok()) std::fprintf(stderr, "bench_commit_bw: %s\n", lat.status().ToString().c_str());
        base_bw = bw.ok() && *bw > 0 ? *bw : std::nan("");
        base_rtt = lat.ok() ? *lat : std::nan("");
      } else {
        base_bw = tr == "shm" ? respct::bench::MemcpyBandwidth(size, seconds / 2)
                              : respct::bench::LoopbackTcpBandwidth(seconds / 2);
        base_rtt = tr == "shm" ? respct::bench::UnixRoundTripMicros(size, seconds / 4)
                               : respct::bench::TcpRoundTripMicros(size, seconds / 4);
      }
      respct::ConnectOptions o;
      o.app = "bench-" + tr + "-" + std::to_string(size);
      o.regions = {respct::RegionSpec{1, kRegionBytes, 0}};
      o.writer = true;
      o.create = true;
      const std::string url = tr == "shm" ? memnode.shm_url() : tr == "tcp" ? memnode.tcp_url() : memnode.rdma_url();
      auto t = respct::Transport::Connect(url, memnode.secret(), o);
      if (!t.ok()) return Fail(t.status().ToString());
      respct::bench::CommitResult r;
      if (respct::Status st = respct::bench::MeasureCommits(**t, size, kRegionBytes, seconds, &r); !st.ok())
        return Fail(st.ToString());
      std::printf("%-9s %-7s %12.0f %13.0f %8.3f %9.1f %9.1f %11.1f %9.2f %10llu\n", tr.c_str(),
                  SizeName(size).c_str(), r.bytes_per_second / 1e6, base_bw / 1e6, r.bytes_per_second / base_bw,
                  r.latency_p50_us, r.latency_p99_us, base_rtt, r.latency_p50_us / base_rtt,
                  static_cast<unsigned long long>(r.ring_full_waits));
      std::fflush(stdout);
      char row[512];
      std::snprintf(row, sizeof row,
                    "%s{\"transport\":\"%s\",\"record_bytes\":%zu,\"commit_bytes_per_s\":%.0f,"
                    "\"baseline_bytes_per_s\":%.0f,\"latency_p50_us\":%.2f,\"latency_p99_us\":%.2f,"
                    "\"raw_rtt_us\":%.2f,\"ring_full_waits\":%llu}",
                    json_rows.empty() ? "" : ",", tr.c_str(), size, r.bytes_per_second, base_bw, r.latency_p50_us,
                    r.latency_p99_us, base_rtt, static_cast<unsigned long long>(r.ring_full_waits));
      json_rows += row;
    }
  }
  if (!json_file.empty()) {
    FILE* f = std::fopen(json_file.c_str(), "w");
    if (f == nullptr) return Fail("cannot write " + json_file + ": " + std::strerror(errno));
    std::fprintf(f, "{\"seconds\":%g,\"epoch_bytes\":1048576,\"rows\":[%s]}\n", seconds, json_rows.c_str());
    if (std::fclose(f) != 0) return Fail("cannot write " + json_file);
  }
  std::printf("\nbw ratio = commit MB/s / baseline MB/s (shm: memcpy of record-sized chunks; tcp: raw stream;\n"
              "rdma: ib_write_bw with record-sized WRITEs).\n"
              "lat ratio = commit p50 / raw request-reply round trip of the record size on the same socket kind\n"
              "(rdma: ib_write_lat's typical one-way latency).\n");
  return 0;
}
