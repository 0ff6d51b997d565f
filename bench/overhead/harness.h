// What bench_overhead and bench_pause share: running a program (natively or
// under respct-run) with its output in files and its wall and CPU time
// measured, the command line that puts it under respct against the bench's
// own memnode, a description of the machine for the JSON results, and small
// order statistics.
//
// Failures throw std::runtime_error: the drivers catch it in main, so the
// memnode they started is killed and its temporary pool removed on the way out.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace respct::bench {

struct ChildRun {
  int exit_code = 0;     // exit status, or 128 + signal when killed
  double wall_s = 0;     // spawn to reaped
  double cpu_s = 0;      // user + system of the child (the program itself)
  std::string out, err;  // its standard output and error
};

// Runs argv[0] (a path) with argv, standard output and error to files in
// `scratch_dir` (read back into the result), and waits for it.
ChildRun RunChild(const std::vector<std::string>& argv, const std::string& scratch_dir);

// The value of "key=<token>" in `text` (a token ends at white space), or ""
// when absent. The examples print "digest=<hex>".
std::string FindToken(const std::string& text, const std::string& key);

// User + system CPU seconds a live process has used so far (/proc/PID/stat);
// the memnode's share of a run is the difference across it.
double ProcessCpuSeconds(pid_t pid);

// The memnode a run ships to and how to reach it.
struct RespctTarget {
  std::string respct_run;   // path of respct-run
  std::string memnode_url;  // shm://... or tcp://...
  std::string secret_file;
};

// respct-run flags for one run with JSON statistics (timeline included) in
// `stats_file`, then "--" and `program`.
std::vector<std::string> RespctCommand(const RespctTarget& target, const std::string& app, int epoch_ms,
                                       const std::string& stats_file, const std::vector<std::string>& program);

// {"nproc":..,"kernel":"..","cpu_model":"..","loadavg_1m":..} for results files.
std::string MachineJson();
// One line for the printed report: "2 CPUs (model), kernel ..., load ...".
std::string MachineLine();

// Order statistics of a non-empty sample (copies; samples are small).
double Median(std::vector<double> v);
double Min(const std::vector<double>& v);
double Max(const std::vector<double>& v);

// JSON string literal of `s` (quotes and backslashes escaped).
std::string JsonString(const std::string& s);

// Writes a bench's --json results to `path` and says so on stdout; throws
// std::runtime_error when the file cannot be written.
void WriteResultsFile(const std::string& path, const std::string& json);

// A fresh directory under /dev/shm (else /tmp) removed by the destructor.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace respct::bench
