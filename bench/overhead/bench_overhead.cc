// bench_overhead: what respct costs an unmodified program end to end.
//
// Each example runs natively and under respct-run (epoch interval x transport)
// against a respct-memnode this driver starts on a temporary pool. Native and
// respct runs are interleaved rep by rep, and every respct run is compared with
// the native run of its own rep, so a burst of load from the other users of the
// machine hits both sides of a ratio rather than one. Every run's digest must
// equal the native digest: a faster run that computed something else is a bug.
// See --help.
#include <unistd.h>

#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/overhead/harness.h"
#include "bench/overhead/stats_json.h"
#include "harness/bench_main.h"
#include "harness/memnode_process.h"

namespace {

using respct::bench::ChildRun;
using respct::bench::RunStats;

struct Example {
  std::string name;
  std::vector<std::string> argv;  // binary and arguments
};

// Sizes chosen so each example runs about 1-2 s natively on the 2-vCPU
// development VM (see README); --scale adapts them to other machines.
std::vector<Example> Examples(double scale) {
  auto n = [scale](unsigned long base) { return std::to_string(static_cast<unsigned long>(double(base) * scale)); };
  return {
      // Four transfer threads whose critical sections busy-wait --work-ns:
      // lock-heavy, little memory written per second.
      {"bank", {BANK_BIN, "--threads", "4", "--transfers", n(8000), "--work-ns", "20000", "--report-ms", "60000"}},
      // Writers and a reader over a hash map under rwlocks, fed through
      // condvar queues: allocation- and write-heavy.
      {"kvstore", {KVSTORE_BIN, "--ops", n(400000), "--report-ms", "60000"}},
      // Four threads handing items through bounded condvar queues: every item
      // is a malloc, two queue hand-offs per stage and a free.
      {"pipeline", {PIPELINE_BIN, "--items", n(100000), "--report-ms", "60000"}},
  };
}

struct Config {
  std::string transport;
  int epoch_ms;
};

// One respct run, as measured.
struct RespctSample {
  double ratio = 0;      // native wall / respct wall (same rep)
  double cpu_ratio = 0;  // (program + memnode CPU) / native CPU
  double wall_s = 0;
  RunStats stats;
  double paused_frac = 0;   // sum of pauses / wall time
  double quiesce_frac = 0;  // sum of quiesce / sum of pauses
};

std::string Fmt(const char* fmt, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, a);
  return buf;
}

std::string Digest(const ChildRun& r, const std::string& what) {
  const std::string d = respct::bench::FindToken(r.out, "digest");
  if (r.exit_code != 0 || d.empty())
    throw std::runtime_error(what + " failed (exit " + std::to_string(r.exit_code) + "):\n" + r.out + r.err);
  return d;
}

struct Options {
  std::vector<std::string> examples = {"bank", "kvstore", "pipeline"};
  std::vector<int> epochs = {1, 10, 100};
  std::vector<std::string> transports = {"shm", "tcp"};
  int reps = 3;
  double scale = 1.0;
  std::string json_file;
  std::string respct_run = RESPCT_RUN_BIN;
  std::string memnode_bin = RESPCT_MEMNODE_BIN;
};

int Run(const Options& opt) {
  std::vector<Example> examples;
  for (const std::string& name : opt.examples) {
    bool found = false;
    for (Example& e : Examples(opt.scale))
      if (e.name == name) {
        examples.push_back(e);
        found = true;
      }
    if (!found) throw std::runtime_error("unknown example '" + name + "' (bank, kvstore, pipeline)");
  }
  std::vector<Config> configs;
  for (const std::string& t : opt.transports)
    for (int ms : opt.epochs) configs.push_back({t, ms});

  respct::bench::ScratchDir scratch("respct-overhead");
  // Every app keeps its own image (1 GiB heap + stacks): the pool is sparse on
  // tmpfs, so only what the runs write takes memory.
  const size_t runs = examples.size() * configs.size() * size_t(opt.reps);
  respct::test::MemnodeProcess memnode(respct::test::MemnodeProcess::Options{
      .binary = opt.memnode_bin, .ring_size = "64M", .pool_size = std::to_string(2 * (runs + 1)) + "G"});
  if (respct::Status st = memnode.Start(); !st.ok()) throw std::runtime_error("memnode: " + st.ToString());

  const std::string machine = respct::bench::MachineLine();
  std::printf("bench_overhead: %s\n", machine.c_str());
  std::printf("memnode pool %s; %d rep(s); ratios against the native run of the same rep\n\n", memnode.dir().c_str(),
              opt.reps);
  std::fflush(stdout);

  std::map<std::string, std::vector<double>> native_wall, native_cpu;
  std::map<std::string, std::string> native_digest;
  std::map<std::string, std::map<size_t, std::vector<RespctSample>>> samples;  // example -> config index -> reps
  for (int rep = 0; rep < opt.reps; ++rep) {
    for (const Example& ex : examples) {
      const ChildRun native = respct::bench::RunChild(ex.argv, scratch.path());
      const std::string digest = Digest(native, ex.name + " (native)");
      if (native_digest.count(ex.name) != 0 && native_digest[ex.name] != digest)
        throw std::runtime_error(ex.name + ": native digests differ between reps (" + native_digest[ex.name] +
                                 " vs " + digest + "): the example is not deterministic");
      native_digest[ex.name] = digest;
      native_wall[ex.name].push_back(native.wall_s);
      native_cpu[ex.name].push_back(native.cpu_s);
      // Rotate the order so no configuration always runs right after native.
      for (size_t k = 0; k < configs.size(); ++k) {
        const size_t ci = (k + size_t(rep)) % configs.size();
        const Config& c = configs[ci];
        const std::string app = "ovh" + std::to_string(getpid()) + "-" + ex.name + "-" + c.transport + "-" +
                                std::to_string(c.epoch_ms) + "-r" + std::to_string(rep);
        const std::string stats_file = scratch.path() + "/" + app + ".json";
        const respct::bench::RespctTarget target{opt.respct_run,
                                                 c.transport == "shm" ? memnode.shm_url() : memnode.tcp_url(),
                                                 memnode.secret_path()};
        const double memnode_cpu0 = respct::bench::ProcessCpuSeconds(memnode.pid());
        const ChildRun run = respct::bench::RunChild(
            respct::bench::RespctCommand(target, app, c.epoch_ms, stats_file, ex.argv), scratch.path());
        const double memnode_cpu = respct::bench::ProcessCpuSeconds(memnode.pid()) - memnode_cpu0;
        const std::string what = ex.name + " under respct (" + c.transport + ", " + std::to_string(c.epoch_ms) + " ms)";
        const std::string got = Digest(run, what);
        if (got != digest)
          throw std::runtime_error(what + ": digest " + got + " differs from native " + digest + "\n" + run.err);
        RespctSample s;
        s.wall_s = run.wall_s;
        s.ratio = native.wall_s / run.wall_s;
        s.cpu_ratio = (run.cpu_s + memnode_cpu) / native.cpu_s;
        s.stats = respct::bench::ReadRunStats(stats_file);
        unlink(stats_file.c_str());
        double pause = 0, quiesce = 0;
        for (const auto& e : s.stats.timeline) {
          pause += double(e.pause_ns);
          quiesce += double(e.quiesce_ns);
        }
        s.paused_frac = pause / 1e9 / run.wall_s;
        s.quiesce_frac = pause > 0 ? quiesce / pause : 0;
        samples[ex.name][ci].push_back(std::move(s));
        std::fprintf(stderr, "  rep %d %-8s %s %4d ms: %.2fx\n", rep + 1, ex.name.c_str(), c.transport.c_str(),
                     c.epoch_ms, native.wall_s / run.wall_s);
      }
    }
  }

  // The table: medians over reps; the throughput ratio also as min-max.
  std::printf("throughput x = native time / respct time (median [min-max] over reps; <1 is slower)\n");
  std::printf("cpu x = (program + memnode CPU) / native CPU; paused%% = sum of pauses / wall time;\n");
  std::printf("quiesce%% = share of the pause spent waiting for threads to park (the rest is capture)\n\n");
  std::printf("%-8s %-4s %5s %17s %6s %7s %6s %9s %9s %8s %9s %10s %8s\n", "example", "tr", "ms", "throughput x",
              "cpu x", "epochs", "aband", "pause p50", "p99 us", "paused%", "quiesce%", "shipped MB", "pg/line");
  std::string json = "{\"bench\":\"overhead\",\"machine\":" + respct::bench::MachineJson() +
                     ",\"reps\":" + std::to_string(opt.reps) + ",\"examples\":[";
  for (size_t ei = 0; ei < examples.size(); ++ei) {
    const Example& ex = examples[ei];
    std::printf("%-8s native %.2f s median, %.2f CPU-s, digest %s\n", ex.name.c_str(),
                respct::bench::Median(native_wall[ex.name]), respct::bench::Median(native_cpu[ex.name]),
                native_digest[ex.name].c_str());
    std::string args;
    for (size_t i = 1; i < ex.argv.size(); ++i) args += (i > 1 ? " " : "") + ex.argv[i];
    if (ei != 0) json += ",";
    json += "{\"name\":" + respct::bench::JsonString(ex.name) + ",\"args\":" + respct::bench::JsonString(args) +
            ",\"digest\":" + respct::bench::JsonString(native_digest[ex.name]) + ",\"native_wall_s\":[";
    for (size_t i = 0; i < native_wall[ex.name].size(); ++i)
      json += (i ? "," : "") + Fmt("%.4f", native_wall[ex.name][i]);
    json += "],\"configs\":[";
    for (size_t ci = 0; ci < configs.size(); ++ci) {
      const std::vector<RespctSample>& v = samples[ex.name][ci];
      auto med = [&v](auto field) {
        std::vector<double> xs;
        for (const RespctSample& s : v) xs.push_back(field(s));
        return respct::bench::Median(xs);
      };
      std::vector<double> ratios;
      for (const RespctSample& s : v) ratios.push_back(s.ratio);
      const double shipped = med([](const RespctSample& s) { return double(s.stats.bytes_shipped); });
      const double pages = med([](const RespctSample& s) { return double(s.stats.bytes_by_pages); });
      std::printf("%-8s %-4s %5d %5.2f [%4.2f-%4.2f] %6.2f %7.0f %6.0f %9.1f %9.1f %7.1f%% %8.0f%% %10.1f %7.1fx\n", "",
                  configs[ci].transport.c_str(), configs[ci].epoch_ms, respct::bench::Median(ratios),
                  respct::bench::Min(ratios), respct::bench::Max(ratios),
                  med([](const RespctSample& s) { return s.cpu_ratio; }),
                  med([](const RespctSample& s) { return double(s.stats.epochs_committed); }),
                  med([](const RespctSample& s) { return double(s.stats.epochs_abandoned); }),
                  med([](const RespctSample& s) { return s.stats.pause_p50_us; }),
                  med([](const RespctSample& s) { return s.stats.pause_p99_us; }),
                  100 * med([](const RespctSample& s) { return s.paused_frac; }),
                  100 * med([](const RespctSample& s) { return s.quiesce_frac; }), shipped / 1e6,
                  shipped > 0 ? pages / shipped : 0);
      if (ci != 0) json += ",";
      json += "{\"transport\":\"" + configs[ci].transport + "\",\"epoch_ms\":" + std::to_string(configs[ci].epoch_ms) +
              ",\"throughput_ratio\":{\"median\":" + Fmt("%.4f", respct::bench::Median(ratios)) +
              ",\"min\":" + Fmt("%.4f", respct::bench::Min(ratios)) +
              ",\"max\":" + Fmt("%.4f", respct::bench::Max(ratios)) + "},\"runs\":[";
      for (size_t i = 0; i < v.size(); ++i) {
        const RespctSample& s = v[i];
        json += std::string(i ? "," : "") + "{\"throughput_ratio\":" + Fmt("%.4f", s.ratio) +
                ",\"cpu_ratio\":" + Fmt("%.4f", s.cpu_ratio) + ",\"wall_s\":" + Fmt("%.4f", s.wall_s) +
                ",\"tracker\":" + respct::bench::JsonString(s.stats.tracker) +
                ",\"epochs_committed\":" + std::to_string(s.stats.epochs_committed) +
                ",\"epochs_abandoned\":" + std::to_string(s.stats.epochs_abandoned) +
                ",\"ship_failures\":" + std::to_string(s.stats.ship_failures) +
                ",\"pause_us\":{\"p50\":" + Fmt("%.1f", s.stats.pause_p50_us) +
                ",\"p99\":" + Fmt("%.1f", s.stats.pause_p99_us) + ",\"max\":" + Fmt("%.1f", s.stats.pause_max_us) +
                "},\"commit_us\":{\"p50\":" + Fmt("%.1f", s.stats.commit_p50_us) +
                ",\"p99\":" + Fmt("%.1f", s.stats.commit_p99_us) + "},\"paused_fraction\":" +
                Fmt("%.5f", s.paused_frac) + ",\"quiesce_fraction_of_pause\":" + Fmt("%.4f", s.quiesce_frac) +
                ",\"bytes_shipped\":" + std::to_string(s.stats.bytes_shipped) +
                ",\"bytes_by_pages\":" + std::to_string(s.stats.bytes_by_pages) + "}";
      }
      json += "]}";
    }
    json += "]}";
  }
  json += "]}\n";
  if (!opt.json_file.empty()) respct::bench::WriteResultsFile(opt.json_file, json);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  bool quick = false;
  CLI::App cli(
      "bench_overhead - end-to-end cost of running the examples under respct\n\n"
      "Runs each example natively, then under respct-run for every epoch interval x transport, against a\n"
      "respct-memnode started on a temporary pool (listening on a unix socket for shm:// and on a free\n"
      "127.0.0.1 port for tcp://). Each rep runs native first, then every configuration (order rotated per rep),\n"
      "so each ratio pairs runs made close together on this shared machine.\n"
      "Reports throughput x = native wall time / respct wall time (median and min-max over reps), CPU used\n"
      "(program + memnode) relative to native, and from respct's JSON statistics: epochs committed and\n"
      "abandoned, pause p50/p99, the share of the run spent paused, and bytes shipped vs dirtied by pages.\n"
      "Every run's digest must equal the native one, or the bench stops with an error.",
      "bench_overhead");
  cli.add_option("--examples", opt.examples, "Comma-separated examples: bank, kvstore, pipeline.")
      ->delimiter(',')
      ->check(CLI::IsMember({"bank", "kvstore", "pipeline"}))
      ->capture_default_str();
  cli.add_option("--epochs", opt.epochs, "Comma-separated epoch intervals in ms (respct-run --epoch-ms).")
      ->delimiter(',')
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  cli.add_option("--transports", opt.transports, "Comma-separated transports: shm, tcp.")
      ->delimiter(',')
      ->check(CLI::IsMember({"shm", "tcp"}))
      ->capture_default_str();
  cli.add_option("--reps", opt.reps, "Repetitions of every configuration (and of the native run).")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cli.add_option("--scale", opt.scale, "Multiply each example's amount of work (1 = about 1-2 s natively here).")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cli.add_flag("--quick", quick, "CI smoke test: bank only, 1 rep, 10 ms, shm, a third of the work.");
  respct::bench::AddJsonOption(cli, &opt.json_file, "the results (and a description of the machine)");
  respct::bench::AddBinaryOptions(cli, &opt.respct_run, "respct-run to use.", &opt.memnode_bin);
  return respct::bench::ParseAndRun(cli, argc, argv, "bench_overhead", [&] {
    if (quick) {
      opt.examples = {"bank"};
      opt.epochs = {10};
      opt.transports = {"shm"};
      opt.reps = 1;
      opt.scale /= 3;
    }
    if (opt.examples.empty() || opt.epochs.empty() || opt.transports.empty())
      throw std::runtime_error("nothing to run: --examples, --epochs and --transports must not be empty");
    return Run(opt);
  });
}
