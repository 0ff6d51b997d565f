// bench_recovery: how long recovering an image takes, as a ratio against a raw
// read of the same bytes measured in the same run.
//
// (a) Fetch: for each image size, one app whose region is written once with
//     the client API (epochs of 32 MiB, like a checkpoint stream), then, per
//     repetition and transport, a fresh reader session connects and fetches
//     the whole region with Transport::ReadImage; right next to it the same
//     bytes are read with pread(2) from a file on the pool's file system (the
//     cost of getting them into the process with no protocol at all). The
//     fetched bytes are checked against what was written.
// (b) End to end (respct-recover resuming a killed program) needs the
//     respct-recover binary; without it the bench says so and measures (a).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/overhead/harness.h"
#include "runtime/transport/transport.h"
#include "tests/protocol/memnode_process.h"

namespace {

using respct::bench::Max;
using respct::bench::Median;
using respct::bench::Min;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kRegion = 1;
constexpr size_t kEpochBytes = size_t{32} << 20;
constexpr size_t kRecordBytes = size_t{1} << 20;

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// "64M", "1G" → bytes; 0 when malformed.
uint64_t ParseSize(const std::string& text) {
  size_t used = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(text, &used);
  } catch (const std::exception&) {
    return 0;
  }
  const std::string suffix = text.substr(used);
  if (suffix == "K") return v << 10;
  if (suffix == "M") return v << 20;
  if (suffix == "G") return v << 30;
  return suffix.empty() ? v : 0;
}

std::string SizeName(uint64_t bytes) {
  return bytes >= (uint64_t{1} << 30) ? std::to_string(bytes >> 30) + "G" : std::to_string(bytes >> 20) + "M";
}

// Deterministic non-zero content (fixed seed): every byte of the image matters.
void FillImage(std::vector<uint8_t>* image, uint64_t seed) {
  uint64_t x = seed;
  auto* words = reinterpret_cast<uint64_t*>(image->data());
  for (size_t i = 0; i < image->size() / 8; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    words[i] = x | 1;
  }
}

respct::ConnectOptions Session(const std::string& app, uint64_t size, bool writer) {
  respct::ConnectOptions o;
  o.app = app;
  o.regions = {respct::RegionSpec{kRegion, size, 0}};
  o.writer = writer;
  o.create = writer;
  o.timeout_ms = 120000;  // a 1 GiB ReadImage reply stream on a loaded machine
  return o;
}

void Check(const respct::Status& st, const std::string& what) {
  if (!st.ok()) throw std::runtime_error(what + ": " + st.ToString());
}

// Writes `image` as region 1 of a new app, in 32 MiB epochs of 1 MiB records.
void WriteImage(const respct::test::MemnodeProcess& mn, const std::string& app, const std::vector<uint8_t>& image) {
  auto t = respct::Transport::Connect(mn.shm_url(), mn.secret(), Session(app, image.size(), true));
  Check(t.status(), "connect writer of " + app);
  uint64_t epoch = (*t)->info().committed_epoch;
  for (size_t off = 0; off < image.size(); off += kEpochBytes) {
    ++epoch;
    const size_t end = std::min(image.size(), off + kEpochBytes);
    for (size_t r = off; r < end; r += kRecordBytes)
      Check((*t)->Append(epoch, kRegion, r, image.data() + r, std::min(kRecordBytes, end - r)), "append");
    Check((*t)->Commit(epoch), "commit of epoch " + std::to_string(epoch));
  }
}

void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

double RawRead(const std::string& path, std::vector<uint8_t>* dst) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
  const auto t0 = Clock::now();
  size_t got = 0;
  while (got < dst->size()) {
    const ssize_t n = pread(fd, dst->data() + got, dst->size() - got, static_cast<off_t>(got));
    if (n <= 0) {
      close(fd);
      throw std::runtime_error("pread " + path + ": " + (n == 0 ? "short file" : std::strerror(errno)));
    }
    got += static_cast<size_t>(n);
  }
  const double s = Since(t0);
  close(fd);
  return s;
}

struct FetchTimes {
  std::vector<double> connect_s, fetch_s, raw_s;
};

struct Options {
  std::vector<std::string> sizes = {"64M", "256M", "1G"};
  std::vector<std::string> transports = {"shm", "tcp"};
  int reps = 5;
  std::string json_file;
  std::string memnode_bin = RESPCT_MEMNODE_BIN;
  std::string recover_bin = RESPCT_RECOVER_BIN;
};

int Run(const Options& opt) {
  std::printf("bench_recovery: %s\n", respct::bench::MachineLine().c_str());
  uint64_t largest = 0, total = 0;
  std::vector<uint64_t> sizes;
  for (const std::string& s : opt.sizes) {
    const uint64_t bytes = ParseSize(s);
    if (bytes == 0 || bytes % 4096 != 0) throw std::runtime_error("bad size '" + s + "' (e.g. 64M, 1G)");
    sizes.push_back(bytes);
    largest = std::max(largest, bytes);
    total += bytes;
  }
  respct::test::MemnodeProcess mn(respct::test::MemnodeProcess::Options{
      .binary = opt.memnode_bin, .ring_size = "128M", .pool_size = std::to_string((total >> 30) + 2) + "G"});
  Check(mn.Start(), "start memnode");
  const std::string raw_path = mn.dir() + "/raw.bin";
  std::printf("memnode pool %s; %d rep(s); fetch = connect a reader + ReadImage of the whole region; "
              "raw = pread of the same bytes from %s\n\n",
              mn.pool_path().c_str(), opt.reps, raw_path.c_str());
  std::printf("%-6s %-4s %12s %12s %12s %10s %10s\n", "image", "tr", "connect ms", "fetch s", "raw read s",
              "fetch/raw", "s per GiB");

  std::vector<uint8_t> image(largest), fetched(largest);
  std::string json = "{\"bench\":\"recovery\",\"machine\":" + respct::bench::MachineJson() + ",\"reps\":" +
                     std::to_string(opt.reps) + ",\"fetch\":[";
  bool first_row = true;
  for (uint64_t size : sizes) {
    image.resize(size);
    fetched.resize(size);
    FillImage(&image, 0x9e3779b97f4a7c15ull ^ size);
    const std::string app = "recovery-" + SizeName(size);
    WriteImage(mn, app, image);
    WriteFile(raw_path, image);
    std::vector<FetchTimes> times(opt.transports.size());
    for (int rep = 0; rep < opt.reps; ++rep) {
      for (size_t ti = 0; ti < opt.transports.size(); ++ti) {
        const std::string& tr = opt.transports[ti];
        const std::string url = tr == "shm" ? mn.shm_url() : mn.tcp_url();
        std::fill(fetched.begin(), fetched.end(), uint8_t{0});
        const auto t0 = Clock::now();
        auto reader = respct::Transport::Connect(url, mn.secret(), Session(app, size, false));
        Check(reader.status(), "connect reader over " + tr);
        const double connect_s = Since(t0);
        Check((*reader)->ReadImage(kRegion, 0, fetched.data(), size), "ReadImage over " + tr);
        const double fetch_s = Since(t0);
        if (std::memcmp(fetched.data(), image.data(), size) != 0)
          throw std::runtime_error("the image fetched over " + tr + " differs from what was written");
        reader->reset();
        times[ti].connect_s.push_back(connect_s);
        times[ti].fetch_s.push_back(fetch_s);
        times[ti].raw_s.push_back(RawRead(raw_path, &fetched));
      }
    }
    for (size_t ti = 0; ti < opt.transports.size(); ++ti) {
      const FetchTimes& t = times[ti];
      std::vector<double> ratio, per_gib;
      for (size_t i = 0; i < t.fetch_s.size(); ++i) {
        ratio.push_back(t.fetch_s[i] / t.raw_s[i]);
        per_gib.push_back(t.fetch_s[i] * double(uint64_t{1} << 30) / double(size));
      }
      std::printf("%-6s %-4s %12.2f %12.4f %12.4f %10.2f %10.3f   [fetch/raw %.2f-%.2f]\n", SizeName(size).c_str(),
                  opt.transports[ti].c_str(), Median(t.connect_s) * 1e3, Median(t.fetch_s), Median(t.raw_s),
                  Median(ratio), Median(per_gib), Min(ratio), Max(ratio));
      std::fflush(stdout);
      auto list = [](const std::vector<double>& v) {
        std::string s = "[";
        for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + Fmt("%.6f", v[i]);
        return s + "]";
      };
      json += std::string(first_row ? "" : ",") + "{\"image_bytes\":" + std::to_string(size) + ",\"transport\":\"" +
              opt.transports[ti] + "\",\"connect_s\":" + list(t.connect_s) + ",\"fetch_s\":" + list(t.fetch_s) +
              ",\"raw_read_s\":" + list(t.raw_s) + "}";
      first_row = false;
    }
    unlink(raw_path.c_str());
  }
  const bool have_recover = access(opt.recover_bin.c_str(), X_OK) == 0;
  const std::string e2e = have_recover ? "end-to-end: not run (respct-recover found at " + opt.recover_bin +
                                             ", but this bench does not drive it yet)"
                                       : "end-to-end: not run (respct-recover not built)";
  std::printf("\n%s\n", e2e.c_str());
  json += "],\"end_to_end\":" + respct::bench::JsonString(e2e) + "}\n";
  if (!opt.json_file.empty()) {
    std::ofstream out(opt.json_file);
    out << json;
    if (!out) throw std::runtime_error("cannot write " + opt.json_file);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  bool quick = false;
  CLI::App cli(
      "bench_recovery - time to fetch a checkpointed image from the memnode, against a raw read of the same bytes\n\n"
      "For each image size, writes one app's region with the client API (32 MiB epochs), then per repetition and\n"
      "transport connects a reader and fetches the whole region with ReadImage, and right after reads the same\n"
      "bytes from a file on the pool's file system with pread (the raw baseline of the same run). Prints the\n"
      "median and min-max of fetch/raw and the fetch time per GiB. Starts its own respct-memnode (pool on\n"
      "/dev/shm). End-to-end recovery (kill -9 + respct-recover) is reported as not run.",
      "bench_recovery");
  cli.add_option("--sizes", opt.sizes, "Image sizes (K/M/G suffixes).")->delimiter(',')->capture_default_str();
  cli.add_option("--transports", opt.transports, "Transports to fetch over: shm, tcp.")
      ->delimiter(',')
      ->check(CLI::IsMember({"shm", "tcp"}))
      ->capture_default_str();
  cli.add_option("--reps", opt.reps, "Repetitions of every fetch and raw read.")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cli.add_flag("--quick", quick, "CI smoke test: a 16 MiB image, 1 rep.");
  cli.add_option("--json", opt.json_file, "Also write every measurement (and the machine) as JSON here.");
  cli.add_option("--memnode-bin", opt.memnode_bin, "respct-memnode to start.")->capture_default_str();
  cli.add_option("--recover-bin", opt.recover_bin, "respct-recover, for the end-to-end part.")->capture_default_str();
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "bench_recovery: %s (see --help)\n", e.what());
    return 2;
  }
  if (quick) {
    opt.sizes = {"16M"};
    opt.reps = 1;
  }
  try {
    return Run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_recovery: %s\n", e.what());
    return 1;
  }
}
