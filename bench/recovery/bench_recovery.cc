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
// (b) End to end, when respct-recover is built: bench/snapshot's
//     snapshot_heap fills a heap buffer of the image size under respct-run
//     (100 ms epochs over shm) and reports every 10 ms interval; once two
//     epochs after the fill have committed it is killed with SIGKILL, and
//     the time from starting respct-recover (same program and arguments) to
//     the recovered program's first interval line is the recovery time
//     (fetching the image, restoring memory and threads, resuming).
//     Without respct-recover the bench says so and measures (a) only.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/overhead/harness.h"
#include "runtime/transport/transport.h"
#include "harness/bench_main.h"
#include "harness/memnode_process.h"

extern char** environ;

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

// A child in its own process group (respct-recover may leave a helper), its
// standard output to `out_fd`, standard error to `err_path`.
pid_t SpawnGroup(const std::vector<std::string>& argv, int out_fd, const std::string& err_path) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

void KillGroup(pid_t pid) {
  kill(-pid, SIGKILL);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string TailOf(const std::string& text) {
  const size_t from = text.size() > 400 ? text.size() - 400 : 0;
  return text.substr(from);
}

uint64_t CommittedEpoch(const respct::test::MemnodeProcess& mn, const std::string& app) {
  respct::ConnectOptions admin;
  auto t = respct::Transport::Connect(mn.shm_url(), mn.secret(), admin);
  if (!t.ok()) return 0;
  auto apps = (*t)->ListApps();
  if (!apps.ok()) return 0;
  for (const respct::wire::AppSummary& a : *apps)
    if (std::string(a.name, strnlen(a.name, sizeof a.name)) == app) return a.committed_epoch;
  return 0;
}

struct EndToEndPaths {
  std::string respct_run, respct_recover, program, scratch;
};

// One kill -9 + respct-recover of snapshot_heap with an `image` byte buffer;
// returns seconds from starting respct-recover to the first interval line.
double RecoverOnce(const respct::test::MemnodeProcess& mn, const EndToEndPaths& p, uint64_t image) {
  const uint64_t mib = image >> 20;
  // One app per size, reset by --fresh each repetition (the pool reuses its space).
  const std::string app = "e2e-" + SizeName(image);
  // Flags both tools take; the region layout comes from the image on recovery.
  const std::vector<std::string> flags = {"--memnode", mn.shm_url(), "--secret-file", mn.secret_path(),
                                          "--app",     app,          "--epoch-ms",    "100"};
  const std::vector<std::string> program = {p.program, "--heap-mib", std::to_string(mib), "--dirty-pct", "0.01",
                                            "--interval-ms", "10", "--seconds", "3600", "--report-intervals"};
  std::vector<std::string> run = {p.respct_run, "--fresh", "--heap-size",
                                  std::to_string(std::max<uint64_t>(1024, 2 * mib)) + "M", "--ring-size",
                                  std::to_string(mib * 3 / 2 + 256) + "M"};
  run.insert(run.end(), flags.begin(), flags.end());
  run.push_back("--");
  run.insert(run.end(), program.begin(), program.end());

  const std::string out1 = p.scratch + "/" + app + ".run.out", err1 = p.scratch + "/" + app + ".run.err";
  const int out_fd = open(out1.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out_fd < 0) throw std::runtime_error("open " + out1 + ": " + std::strerror(errno));
  const pid_t first = SpawnGroup(run, out_fd, err1);
  close(out_fd);
  // Filled, then two epochs committed after that: the image holds the
  // program in its steady loop.
  const auto deadline = Clock::now() + std::chrono::seconds(600);
  uint64_t after_ready = 0;
  for (;;) {
    if (Clock::now() > deadline || waitpid(first, nullptr, WNOHANG) == first) {
      KillGroup(first);
      throw std::runtime_error(app + ": the protected run did not reach a committed steady state: " +
                               TailOf(ReadAll(out1) + ReadAll(err1)));
    }
    if (after_ready == 0 && ReadAll(out1).find("ready") != std::string::npos) after_ready = CommittedEpoch(mn, app) + 2;
    if (after_ready != 0 && CommittedEpoch(mn, app) >= after_ready) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  KillGroup(first);

  std::vector<std::string> recover = {p.respct_recover};
  recover.insert(recover.end(), flags.begin(), flags.end());
  recover.push_back("--");
  recover.insert(recover.end(), program.begin(), program.end());
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe: " + std::string(std::strerror(errno)));
  const std::string err2 = p.scratch + "/" + app + ".recover.err";
  const auto t0 = Clock::now();
  const pid_t second = SpawnGroup(recover, pipe_fds[1], err2);
  close(pipe_fds[1]);
  std::string seen;
  char buf[4096];
  double resumed_s = -1;
  for (;;) {
    const ssize_t n = read(pipe_fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    seen.append(buf, static_cast<size_t>(n));
    if (seen.find("snapshot_heap: interval") != std::string::npos) {
      resumed_s = Since(t0);
      break;
    }
  }
  close(pipe_fds[0]);
  KillGroup(second);
  if (resumed_s < 0)
    throw std::runtime_error(app + ": respct-recover ended without the program going on: " +
                             TailOf(seen + ReadAll(err2)));
  return resumed_s;
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
  std::string run_bin = RESPCT_RUN_BIN;
  std::string program_bin = SNAPSHOT_HEAP_BIN;
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
  // Room for the fetch images and, per size, one end-to-end app: a heap twice
  // the image (at least 1 GiB), stacks and globals, and its ring.
  uint64_t pool = total + (uint64_t{2} << 30);
  for (uint64_t s : sizes) pool += std::max<uint64_t>(uint64_t{1} << 30, 2 * s) + s * 3 / 2 + (uint64_t{512} << 20);
  respct::test::MemnodeProcess mn(respct::test::MemnodeProcess::Options{
      .binary = opt.memnode_bin, .ring_size = "128M", .pool_size = std::to_string((pool >> 30) + 1) + "G"});
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
  json += "]";
  if (access(opt.recover_bin.c_str(), X_OK) != 0) {
    const std::string e2e = "end-to-end: not run (respct-recover not built)";
    std::printf("\n%s\n", e2e.c_str());
    json += ",\"end_to_end\":" + respct::bench::JsonString(e2e) + ",\"recover\":[]}\n";
  } else {
    const std::string e2e = "end-to-end: snapshot_heap with a buffer of the image size under respct-run (100 ms "
                            "epochs, shm), kill -9, then respct-recover until its first interval line";
    std::printf("\n%s\n%-6s %12s %12s %10s\n", e2e.c_str(), "image", "recover s", "min-max", "s per GiB");
    const EndToEndPaths paths{opt.run_bin, opt.recover_bin, opt.program_bin, mn.dir()};
    setenv("RESPCT_STATE_DIR", (mn.dir() + "/state").c_str(), 1);  // respct-recover's image file
    json += ",\"end_to_end\":" + respct::bench::JsonString(e2e) + ",\"recover\":[";
    for (size_t si = 0; si < sizes.size(); ++si) {
      std::vector<double> times;
      for (int rep = 0; rep < opt.reps; ++rep) times.push_back(RecoverOnce(mn, paths, sizes[si]));
      std::printf("%-6s %12.3f %5.3f-%-6.3f %10.3f\n", SizeName(sizes[si]).c_str(), Median(times), Min(times),
                  Max(times), Median(times) * double(uint64_t{1} << 30) / double(sizes[si]));
      std::fflush(stdout);
      std::string list;
      for (size_t i = 0; i < times.size(); ++i) list += (i ? "," : "") + Fmt("%.6f", times[i]);
      json += std::string(si ? "," : "") + "{\"image_bytes\":" + std::to_string(sizes[si]) + ",\"recover_s\":[" +
              list + "]}";
    }
    json += "]}\n";
  }
  if (!opt.json_file.empty()) respct::bench::WriteResultsFile(opt.json_file, json);
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
      "/dev/shm). End to end, when respct-recover is built: snapshot_heap with a buffer of each size runs under\n"
      "respct-run, is killed with SIGKILL once two epochs after its set-up have committed, and respct-recover is\n"
      "timed from its start until the recovered program prints its next interval line.",
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
  respct::bench::AddJsonOption(cli, &opt.json_file, "every measurement (and the machine)");
  respct::bench::AddBinaryOptions(cli, &opt.run_bin, "respct-run, for the end-to-end part.", &opt.memnode_bin);
  cli.add_option("--recover-bin", opt.recover_bin, "respct-recover, for the end-to-end part.")->capture_default_str();
  cli.add_option("--program", opt.program_bin, "snapshot_heap, the program killed and recovered.")
      ->capture_default_str();
  return respct::bench::ParseAndRun(cli, argc, argv, "bench_recovery", [&] {
    if (quick) {
      opt.sizes = {"16M"};
      opt.reps = 1;
    }
    return Run(opt);
  });
}
